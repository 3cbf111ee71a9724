"""A small operational store as the counsellor pages see it after a night and some SMS answers.

Two agencies: FT-07-001 (Ardèche: marie and paul, counsellors; sophie, supervisor) and FT-69-003 (Lyon:
lucas). Items in each queue; one seeker answered OUI and the screening questions by SMS.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import (
    agencies,
    conversations,
    counsellor_queue,
    inbound_messages,
    offer_key,
    published_runs,
    screening_answers,
    seekers,
    sms_outbox,
    vacancies,
)
from tremplin.review.accounts import User, create_user

ARDECHE, LYON = "FT-07-001", "FT-69-003"
PASSWORD = "cheval-agrafe-pile"
NIGHT = date(2026, 11, 23)
PUBLISHED_AT = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
OUI_AT = datetime(2026, 11, 23, 10, 12, tzinfo=UTC)


def explanation(title: str, km: float, *, missing: list[str] | None = None) -> dict[str, Any]:
    return {
        "sentence": f"{title} à {km:g} km : 3 compétences en commun, c'est le métier que vous recherchez.",
        "title": title,
        "rome_code": "D1102",
        "distance_km": km,
        "occupation_relation": "same_sheet",
        "matched_skills": [
            {"code": "100007", "label": "Pétrir la pâte"},
            {"code": "100008", "label": "Façonner les pâtons"},
            {"code": "100009", "label": "Cuire les produits"},
        ],
        "missing_required_skills": [{"code": c, "label": f"Compétence {c}"} for c in missing or []],
        "components": {"skill": 0.61, "occupation": 1.0, "distance": 0.8},
    }


def seeker(seeker_id: str, agency: str, commune: str, commune_name: str, phone: str | None) -> dict[str, Any]:
    return {
        "seeker_id": seeker_id,
        "agency_id": agency,
        "phone": phone,
        "commune": commune,
        "commune_name": commune_name,
        "run_date": NIGHT,
        "profile": {
            "occupations": [{"code": "D1102", "label": "Boulangerie - viennoiserie"}],
            "skills": [{"code": "100007", "label": "Pétrir la pâte"}],
            "radius_km": 30,
            "contract_types": ["CDI", "CDD"],
            "working_time": "full_time",
            "driving_licence": True,
            "experience_months": 24,
            "sms_consent": phone is not None,
            "preferred_channel": "sms",
            "channel": "counsellor" if phone is None else "sms",
            "route_reason": "no_mobile" if phone is None else "sms_default",
        },
    }


def item(
    n: int, seeker_id: str, agency: str, vacancy_id: str, *, queue: str, reason: str, score: float, **extra: Any
) -> dict[str, Any]:
    return {
        "item_id": offer_key(NIGHT, seeker_id, vacancy_id),
        "run_date": extra.pop("run_date", NIGHT),
        "agency_id": agency,
        "seeker_id": seeker_id,
        "vacancy_id": vacancy_id,
        "queue": queue,
        "reason": reason,
        "score": score,
        "explanation": explanation(f"Boulanger {n}", 5.0 + n),
        "status": "open",
        "created_at": PUBLISHED_AT,
        "updated_at": PUBLISHED_AT,
        "version": 1,
        "conversation_id": None,  # every row names every column: an executemany takes the first row's keys
        **extra,
    }


def build(store: OpStore) -> dict[str, User]:
    """Fill the store; returns the accounts by username."""
    with store.begin() as conn:
        conn.execute(
            sa.insert(agencies), [{"agency_id": ARDECHE, "name": "Aubenas"}, {"agency_id": LYON, "name": "Lyon 3e"}]
        )
        conn.execute(
            sa.insert(seekers),
            [
                seeker("S1", ARDECHE, "07019", "Aubenas", None),
                seeker("S2", ARDECHE, "07186", "Privas", "+33639980002"),
                seeker("S3", ARDECHE, "07019", "Aubenas", "+33639980003"),
                seeker("S4", ARDECHE, "07010", "Annonay", "+33639980004"),
                seeker("S9", LYON, "69383", "Lyon 3e Arrondissement", "+33639980009"),
            ],
        )
        conn.execute(
            sa.insert(vacancies),
            [
                {
                    "vacancy_id": vid,
                    "title": title,
                    "rome_code": "D1102",
                    "commune": commune,
                    "commune_name": name,
                    "contract_type": "CDI",
                    "working_time": "full_time",
                    "positions": 1,
                    "source": "generated",
                    "run_date": NIGHT,
                }
                for vid, title, commune, name in [
                    ("V1", "Boulanger / Boulangère", "07019", "Aubenas"),
                    ("V2", "Vendeur / Vendeuse en boulangerie", "07186", "Privas"),
                    ("V9", "Pâtissier / Pâtissière", "69383", "Lyon 3e Arrondissement"),
                ]
            ],
        )
        conn.execute(
            sa.insert(published_runs),
            [
                {
                    "run_date": night,
                    "weights": {
                        "weight_skill": 0.5,
                        "weight_occupation": 0.3,
                        "weight_distance": 0.2,
                        "min_score": 0.35,
                    },
                    "published_at": PUBLISHED_AT - (NIGHT - night),
                }
                for night in (NIGHT - timedelta(days=1), NIGHT)  # S2's SMS went out the night before
            ],
        )
        conn.execute(
            sa.insert(counsellor_queue),
            [
                item(1, "S1", ARDECHE, "V1", queue="to_call", reason="no_mobile", score=0.71),
                item(2, "S4", ARDECHE, "V2", queue="to_call", reason="rural_low_digital", score=0.55),
                item(
                    3,
                    "S2",
                    ARDECHE,
                    "V1",
                    queue="interested",
                    reason="screened",
                    score=0.64,
                    conversation_id="2026-11-22:S2:V1",
                ),
                item(4, "S3", ARDECHE, "V2", queue="flagged", reason="unclear_reply", score=0.48),
                item(9, "S9", LYON, "V9", queue="to_call", reason="no_mobile", score=0.8),
            ],
        )
        # S2 was texted the night before, answered OUI at 11:12 Paris time and both screening questions
        conn.execute(
            sa.insert(sms_outbox).values(
                message_id="2026-11-22:S2:V1",
                run_date=NIGHT - timedelta(days=1),
                seeker_id="S2",
                vacancy_id="V1",
                agency_id=ARDECHE,
                to_number="+33639980002",
                reply_ref=1,
                body="TREMPLIN: offre Boulanger à Aubenas. Intéressé(e) ? Répondez OUI ou NON (réf. 1).",
                segments=1,
                encoding="GSM-7",
                score=0.64,
                explanation=explanation("Boulanger 3", 8.0),
                status="delivered",
                attempts=1,
                not_before=PUBLISHED_AT - timedelta(days=1),
                created_at=PUBLISHED_AT - timedelta(days=1),
                sent_at=PUBLISHED_AT - timedelta(days=1),
                replied_at=OUI_AT,
                provider_sid="SM0002",
            )
        )
        conn.execute(
            sa.insert(conversations).values(
                conversation_id="2026-11-22:S2:V1",
                seeker_id="S2",
                vacancy_id="V1",
                phone="+33639980002",
                state="interested",
                step=2,
                opened_at=OUI_AT,
                updated_at=OUI_AT + timedelta(minutes=3),
            )
        )
        conn.execute(
            sa.insert(inbound_messages).values(
                message_sid="SMin1",
                from_number="+33639980002",
                to_number="+33700000000",
                body="Oui",
                received_at=OUI_AT,
                intent="yes",
                conversation_id="2026-11-22:S2:V1",
            )
        )
        conn.execute(
            sa.insert(screening_answers),
            [
                {
                    "conversation_id": "2026-11-22:S2:V1",
                    "question_key": "available",
                    "question": "Êtes-vous disponible tout de suite ?",
                    "answer": "yes",
                    "answer_yes_no": True,
                    "asked_at": OUI_AT,
                    "answered_at": OUI_AT + timedelta(minutes=1),
                },
                {
                    "conversation_id": "2026-11-22:S2:V1",
                    "question_key": "hours",
                    "question": "Horaires de nuit possibles ?",
                    "answer": "le week-end seulement",
                    "answer_yes_no": None,
                    "asked_at": OUI_AT + timedelta(minutes=1),
                    "answered_at": OUI_AT + timedelta(minutes=3),
                },
            ],
        )
    made = PUBLISHED_AT
    accounts = {
        "marie": create_user(
            store, username="marie", password=PASSWORD, agency_id=ARDECHE, display_name="Marie Roux", now=made
        ),
        "paul": create_user(
            store, username="paul", password=PASSWORD, agency_id=ARDECHE, display_name="Paul Blanc", now=made
        ),
        "sophie": create_user(
            store,
            username="sophie",
            password=PASSWORD,
            agency_id=ARDECHE,
            role="supervisor",
            display_name="Sophie Martin",
            now=made,
        ),
        "lucas": create_user(
            store, username="lucas", password=PASSWORD, agency_id=LYON, display_name="Lucas Petit", now=made
        ),
    }
    return accounts


def item_id(seeker_id: str, vacancy_id: str) -> str:
    return offer_key(NIGHT, seeker_id, vacancy_id)
