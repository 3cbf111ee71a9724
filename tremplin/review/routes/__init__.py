"""The counsellor pages' routes, one router per concern: ``signin`` (sign in and out), ``queues`` (the queues,
an item and what counsellors do on it), ``records`` (a vacancy's short list and its CSV, a seeker's record, the
agency's figures). Each page route declares ``deps.SignedIn`` and each form ``deps.CheckedForm``."""
