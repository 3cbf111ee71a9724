"""The demo's Monday after the night: the people's side, played through the real interfaces.

Twilio's side goes through the webhooks (signed status callbacks and inbound SMS, stamped with the
simulated time of day); counsellors act through the web app's actions. Who answers, and when, is drawn
from a seeded generator: a third of the texted seekers answer, after a median of about 19 minutes (the
figure France Travail reports for Match FT); counsellors of the busiest agencies call back those who said
OUI and work part of their "to call" queue. Nothing here depends on a protected attribute.
"""

from __future__ import annotations

import dataclasses
import html
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.opstore import OpStore
from connectors.optables import INTERESTED, OPEN, TO_CALL, counsellor_queue, sms_outbox
from tremplin.dev.fake_twilio import FakeTwilio
from tremplin.settings import Settings

# Four seekers answer their offer as the transcript shows: OUI and the screening, NON, unclear, STOP.
CONVERSATIONS = (
    ("Oui merci !", "oui", "Oui", "non, pas le samedi"),
    ("non merci",),
    ("c'est ou exactement ?", "je sais pas"),
    ("STOP",),
)
REPLY_SHARE, OUI_SHARE = 0.33, 0.6  # of the texted seekers; of those who answer
MEDIAN_REPLY_MINUTES = 19.0
UNDELIVERED_SHARE = 0.02  # handsets off for good: error 30003, the seeker moves to a counsellor's queue
WORKING_AGENCIES = 20  # the busiest agencies' counsellors work their queues during the day
DEMO_TOKEN = "demo-auth-token"  # the demo's stand-in for the Twilio auth token that signs webhooks


@dataclass
class Clock:
    """The simulated time of day the webhooks stamp what arrives with."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Day:
    transcript: list[str] = field(default_factory=list)
    callbacks: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    ends_at: datetime | None = None


def play_day(settings: Settings, sent_at: datetime, *, home_agency: str | None, seed: int = 7) -> Day:
    """Delivery reports, replies and counsellors' calls for the offers sent at ``sent_at``."""
    from tremplin.dev.serve_process import free_port, serving_in_thread
    from tremplin.sms.webhooks import INBOUND_PATH, STATUS_PATH, create_app

    rng = random.Random(seed)
    store = OpStore(settings.opstore)
    day = Day()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = Clock(sent_at)
    served = dataclasses.replace(settings, twilio_auth_token=DEMO_TOKEN, public_base_url=base)
    outbox = sorted(store.table_rows(sms_outbox), key=lambda r: r["message_id"])
    sent = [r for r in outbox if r["provider_sid"] and r["sent_at"] is not None]
    # a phone several seekers share gets several offers (réf. 1, réf. 2): the demo plays one offer per phone
    per_phone = Counter(r["to_number"] for r in outbox)
    talkers = sorted(
        (r for r in sent if per_phone[r["to_number"]] == 1),
        key=lambda r: (r["agency_id"] != home_agency, r["message_id"]),
    )
    with serving_in_thread(create_app(served, clock=clock), port=port), FakeTwilio(auth_token=DEMO_TOKEN) as twilio:
        undelivered = {r["message_id"] for r in rng.sample(sent, k=round(len(sent) * UNDELIVERED_SHARE))}
        undelivered -= {r["message_id"] for r in talkers[: len(CONVERSATIONS)]}
        for message in sent:
            clock.now = sent_at + timedelta(seconds=rng.uniform(2, 30))
            lost = message["message_id"] in undelivered
            status = "undelivered" if lost else "delivered"
            twilio.status_callback(
                base + STATUS_PATH, message["provider_sid"], status, error_code=30003 if lost else None
            )
            day.callbacks[status] += 1
        for n, (message, bodies) in enumerate(_conversations(rng, talkers, undelivered)):
            scripted = n < len(CONVERSATIONS)
            clock.now = sent_at + timedelta(minutes=5 + 3 * n if scripted else _reply_minutes(rng))
            if scripted:
                day.transcript.append(f"seeker {message['seeker_id']} ({message['to_number']}) got: {message['body']}")
            for body in bodies:
                code, twiml = twilio.inbound(base + INBOUND_PATH, from_=message["to_number"], body=body)
                day.replies[body.lower() if body.lower() in ("oui", "non") else "other"] += 1
                if scripted:
                    answer = twiml.split("<Message>")[1].split("</Message>")[0] if "<Message>" in twiml else ""
                    day.transcript.append(f"  -> {body}")
                    day.transcript.append(f"  <- {html.unescape(answer) or '(no answer)'}  [HTTP {code}]")
                clock.now += timedelta(minutes=rng.uniform(1, 4))
    day.ends_at = sent_at + timedelta(days=1)
    _counsellors_work(store, rng, day, home_agency=home_agency)
    return day


def _reply_minutes(rng: random.Random) -> float:
    """Log-normal delay, median 19 minutes, most within a few hours, all the same day."""
    return min(MEDIAN_REPLY_MINUTES * math.exp(rng.gauss(0, 1.1)), 10 * 60)


def _conversations(
    rng: random.Random, talkers: list[dict[str, Any]], undelivered: set[str]
) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    yield from zip(talkers, CONVERSATIONS, strict=False)
    for message in talkers[len(CONVERSATIONS) :]:
        if message["message_id"] in undelivered or rng.random() > REPLY_SHARE:
            continue
        if rng.random() < OUI_SHARE:
            answered = 3 if rng.random() < 0.8 else rng.randint(0, 2)  # some stop before the last question
            yield message, ("OUI", *("oui" if rng.random() < 0.85 else "non" for _ in range(answered)))
        else:
            yield message, ("NON",)


def _counsellors_work(store: OpStore, rng: random.Random, day: Day, *, home_agency: str | None) -> None:
    """Counsellors of the busiest agencies (not the demo accounts' own, left for a visitor) work their queues."""
    from tremplin.review.accounts import create_user
    from tremplin.review.actions import ActionError, act

    items = store.table_rows(counsellor_queue)
    busiest = [a for a, _ in Counter(r["agency_id"] for r in items).most_common() if a != home_agency]
    assert day.ends_at is not None
    for agency in busiest[:WORKING_AGENCIES]:
        user = create_user(
            store,
            username=f"demo-{agency.lower()}",
            password=f"{rng.getrandbits(64):x}-{agency}",  # never printed: the account only acts in the demo
            agency_id=agency,
            display_name=f"Conseiller de démonstration {agency}",
            now=day.ends_at,
        )
        for item in sorted((r for r in items if r["agency_id"] == agency), key=lambda r: r["item_id"]):
            if item["status"] != OPEN or item["queue"] not in (INTERESTED, TO_CALL):
                continue
            steps = _decide(rng, item["queue"])
            created = (
                item["created_at"].replace(tzinfo=UTC) if item["created_at"].tzinfo is None else item["created_at"]
            )
            at = created + timedelta(hours=rng.uniform(0.5, 8 if item["queue"] == INTERESTED else 26))
            version = item["version"]
            for action, extra in steps:
                try:
                    act(store, user, item["item_id"], action, version=version, at=at, **extra)
                except ActionError:
                    break
                day.actions[action] += 1
                version, at = version + 1, at + timedelta(minutes=rng.uniform(2, 20))


def _decide(rng: random.Random, queue: str) -> list[tuple[str, dict[str, Any]]]:
    """What a counsellor does with one item: call; then, if the seeker was reached, a decision or none yet."""
    roll = rng.random()
    if queue == INTERESTED:
        if roll < 0.2:
            return []  # not called yet
        reached = [("contacted", {"outcome": "reached"})]
        if roll < 0.75:
            return [*reached, ("put_forward", {})]
        if roll < 0.85:
            return [*reached, ("not_interested", {"reason": "a trouvé un autre emploi"})]
        return reached
    if roll < 0.4:
        return []
    if roll < 0.6:
        return [("contacted", {"outcome": "no_answer"})]
    reached = [("contacted", {"outcome": "reached"})]
    if roll < 0.7:
        return [*reached, ("put_forward", {})]
    if roll < 0.76:
        return [*reached, ("wrong_match", {"reason": "le poste ne correspond pas à son projet"})]
    if roll < 0.9:
        return [*reached, ("not_interested", {"reason": "préfère une formation"})]
    return reached
