"""Column names and labels of the oversight frames: one place to look them up."""

from __future__ import annotations

import polars as pl

from matching.columns import (
    AGENCY_ID,
    BIRTH_YEAR,
    CHANNEL,
    CHANNEL_COUNSELLOR,
    CHANNEL_SMS,
    DENSITY_LEVEL,
    DISABILITY,
    GENDER,
    SEEKER_ID,
)
from tremplin.oversight import OversightError

__all__ = [
    "AGENCY_ID",
    "BIRTH_YEAR",
    "CHANNEL",
    "CHANNEL_COUNSELLOR",
    "CHANNEL_SMS",
    "DENSITY_LEVEL",
    "DISABILITY",
    "GENDER",
    "SEEKER_ID",
]

# fairness input: one row per seeker active in the night (plus the protected attributes above)
MATCHED = "matched"  # at least one match
BEST_SCORE = "best_score"  # score of the best match; null when not matched
TEXTED = "texted"  # an SMS offer was sent
REPLIED = "replied"  # the seeker replied to an SMS
POSITIVE = "positive"  # said OUI, or was put forward or hired
OFFERED = "offered"  # texted or put in a counsellor queue

# fairness output
DIMENSION = "dimension"
GROUP = "group"
METRIC = "metric"
SEEKERS = "seekers"
DENOMINATOR = "denominator"
VALUE = "value"
BEST_GROUP = "best_group"
BEST_VALUE = "best_value"
RATIO = "ratio"
P_VALUE = "p_value"  # two-proportion z-test of the group's rate against the best group's
JUDGED = "judged"
BREACH = "breach"

# dimensions, in report order
BY_GENDER = "gender"
BY_AGE = "age_band"
BY_DISABILITY = "disability"
BY_RURALITY = "rurality"
BY_AGENCY = "agency"
DIMENSIONS = (BY_GENDER, BY_AGE, BY_DISABILITY, BY_RURALITY, BY_AGENCY)

# metrics, in report order
MATCH_RATE = "match_rate"
MEAN_SCORE = "mean_score"
SMS_SHARE = "sms_share"
COUNSELLOR_SHARE = "counsellor_share"
REPLY_RATE = "reply_rate"
POSITIVE_RATE = "positive_rate"
METRICS = (MATCH_RATE, MEAN_SCORE, SMS_SHARE, COUNSELLOR_SHARE, REPLY_RATE, POSITIVE_RATE)
ROUTING_SHARES = (SMS_SHARE, COUNSELLOR_SHARE)  # reported, never flagged

# group labels (the report is read by ops in France)
UNKNOWN = "non renseigné"
YES = "oui"
NO = "non"
UNDER_26 = "moins de 26 ans"
FROM_26_TO_49 = "26 à 49 ans"
FROM_50 = "50 ans et plus"

# counsellor audit events (operational store ``audit_events``)
AT = "at"
ACTION = "action"
# actions, as named in review/actions.py TRANSITIONS
PUT_FORWARD = "put_forward"
HIRED = "hired"
NOT_INTERESTED = "not_interested"
WRONG_MATCH = "wrong_match"
FLAG = "flag"
DECISION_ACTIONS = (PUT_FORWARD, HIRED, NOT_INTERESTED, WRONG_MATCH, FLAG)
OVERRIDE_ACTIONS = (WRONG_MATCH, FLAG)  # the counsellor says the match is wrong or needs a second look

# override output
PERIOD_START = "period_start"
DECISIONS = "decisions"
OVERRIDES = "overrides"
RATE = "rate"
RUBBER_STAMP = "rubber_stamp"
TOO_FEW = "too_few"
ALL_AGENCIES = "toutes agences"  # the trend's row for all agencies together


def take(frame: pl.DataFrame, schema: dict[str, pl.DataType], what: str) -> pl.DataFrame:
    """Only the ``schema`` columns of ``frame``, cast to their types; OversightError names what is wrong."""
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise OversightError(f"{what}: missing column(s) {', '.join(missing)}")
    out = []
    for name, dtype in schema.items():
        try:
            out.append(frame.get_column(name).cast(dtype))
        except pl.exceptions.PolarsError as error:
            raise OversightError(f"{what}: column {name} is {frame.schema[name]}, expected {dtype}") from error
    return pl.DataFrame(out)
