"""Routing: per seeker, SMS, the counsellor queue, or suppressed, with a reason code on every decision.

The rule is data: an ordered list of :class:`Rule`; the first rule whose condition holds decides.

| order | reason | channel | condition |
|---|---|---|---|
| 1 | opted_out | suppressed | the number is on the suppression list (STOP) |
| 2 | queue_item_open | suppressed | a counsellor still works an item for this seeker (open, contacted, put forward) |
| 3 | no_mobile | counsellor | no mobile number |
| 4 | sms_undeliverable | counsellor | the provider called the number invalid, not mobile or unreachable |
| 5 | no_sms_consent | counsellor | no consent to receive SMS |
| 6 | declared_preference | counsellor | the seeker asked to be called |
| 7 | repeated_no_response | counsellor | ``no_response_limit`` SMS in a row without a reply |
| 8 | rural_low_digital | counsellor | rural commune (density 5 to 7), no SMS preference and never replied |
| 9 | daily_sms_cap | suppressed | ``sms_per_day`` SMS from earlier nights still waiting to go out |
| 10 | weekly_offer_cap | suppressed | ``offers_per_week`` SMS offers in the 6 nights before |
| 11 | sms_default | sms | otherwise |
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from matching import columns as c

OPTED_OUT = "opted_out"
NO_RESPONSES = "no_response_count"
REPLIED_EVER = "replied_ever"
SMS_TODAY = "sms_today"
OFFERS_WEEK = "offers_week"
QUEUE_OPEN = "queue_item_open"
UNDELIVERABLE = "sms_undeliverable"
HISTORY_COLUMNS = {
    OPTED_OUT: pl.Boolean,
    NO_RESPONSES: pl.Int64,
    REPLIED_EVER: pl.Boolean,
    SMS_TODAY: pl.Int64,
    OFFERS_WEEK: pl.Int64,
    QUEUE_OPEN: pl.Boolean,
    UNDELIVERABLE: pl.Boolean,
}
ROUTE_SCHEMA = {c.SEEKER_ID: pl.String, c.CHANNEL: pl.String, c.REASON: pl.String}


@dataclass(frozen=True)
class Rule:
    """One routing rule: when ``condition`` holds, the seeker goes to ``channel`` for ``reason``."""

    reason: str
    channel: str
    condition: pl.Expr


def default_rules(
    *,
    rural_density_levels: tuple[int, ...] = (5, 6, 7),
    no_response_limit: int = 3,
    sms_per_day: int = 1,
    offers_per_week: int = 3,
) -> list[Rule]:
    """The rules of DESIGN.md, in order."""
    rural = pl.col(c.DENSITY_LEVEL).is_in(list(rural_density_levels)).fill_null(False)
    return [
        Rule(OPTED_OUT, c.CHANNEL_SUPPRESSED, pl.col(OPTED_OUT)),
        Rule(QUEUE_OPEN, c.CHANNEL_SUPPRESSED, pl.col(QUEUE_OPEN)),
        Rule("no_mobile", c.CHANNEL_COUNSELLOR, pl.col(c.MOBILE).is_null()),
        Rule(UNDELIVERABLE, c.CHANNEL_COUNSELLOR, pl.col(UNDELIVERABLE)),
        Rule("no_sms_consent", c.CHANNEL_COUNSELLOR, ~pl.col(c.SMS_CONSENT)),
        Rule("declared_preference", c.CHANNEL_COUNSELLOR, pl.col(c.PREFERRED_CHANNEL) == c.CHANNEL_COUNSELLOR),
        Rule("repeated_no_response", c.CHANNEL_COUNSELLOR, pl.col(NO_RESPONSES) >= no_response_limit),
        Rule(
            "rural_low_digital",
            c.CHANNEL_COUNSELLOR,
            rural & (pl.col(c.PREFERRED_CHANNEL) != c.CHANNEL_SMS) & ~pl.col(REPLIED_EVER),
        ),
        Rule("daily_sms_cap", c.CHANNEL_SUPPRESSED, pl.col(SMS_TODAY) >= sms_per_day),
        Rule("weekly_offer_cap", c.CHANNEL_SUPPRESSED, pl.col(OFFERS_WEEK) >= offers_per_week),
        Rule("sms_default", c.CHANNEL_SMS, pl.lit(True)),
    ]


def route(seekers: pl.DataFrame, history: pl.DataFrame, *, rules: list[Rule]) -> pl.DataFrame:
    """Decide each seeker's channel.

    ``seekers``: seeker_id, mobile, sms_consent, preferred_channel, density_level.
    ``history``: seeker_id and the columns of ``HISTORY_COLUMNS`` (missing seekers have no history).
    """
    frame = (
        seekers.select(c.SEEKER_ID, c.MOBILE, c.SMS_CONSENT, c.PREFERRED_CHANNEL, c.DENSITY_LEVEL)
        .join(history.select(c.SEEKER_ID, *HISTORY_COLUMNS), on=c.SEEKER_ID, how="left")
        .with_columns(
            [pl.col(name).fill_null(False if dtype == pl.Boolean else 0) for name, dtype in HISTORY_COLUMNS.items()]
        )
    )
    channel: pl.Expr = pl.lit(None, pl.String)
    reason: pl.Expr = pl.lit(None, pl.String)
    for rule in reversed(rules):
        holds = rule.condition.fill_null(False)
        channel = pl.when(holds).then(pl.lit(rule.channel)).otherwise(channel)
        reason = pl.when(holds).then(pl.lit(rule.reason)).otherwise(reason)
    return frame.select(pl.col(c.SEEKER_ID), channel.alias(c.CHANNEL), reason.alias(c.REASON)).cast(
        ROUTE_SCHEMA  # type: ignore[arg-type]
    )
