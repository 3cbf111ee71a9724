"""The SMS loop, in the daytime: texts, send window, dispatch, webhooks, replies, conversation."""
