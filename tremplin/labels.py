"""French wording of the codes people read: one home for the SMS, the counsellor pages, the run report and the
employer's CSV.

Codes stay in files, tables and logs; whatever a seeker, a counsellor or an ops reader sees shows the label
from here. A code without a label shows as itself, so a new code is seen (and a test lists the codes each
mapping must cover).

>>> contract_label("MIS"), working_time_label("part_time")
('intérim', 'temps partiel')
>>> contract_list(["CDI", "DIN"])
'CDI, CDI intérimaire'
>>> reason_label("sms_error_21610")
"SMS refusé par l'opérateur (erreur 21610)"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from matching import columns as c

# France Travail contract types (typeContrat), every code the input validation accepts (columns.CONTRACT_CODES).
# Short, as a seeker reads them in an SMS ("..., intérim temps plein."), and in GSM-7 (é and ' only).
CONTRACT_LABELS: Final[Mapping[str, str]] = {
    "CDI": "CDI",
    "CDD": "CDD",
    "MIS": "intérim",
    "SAI": "saisonnier",
    "LIB": "libéral",
    "FRA": "franchise",
    "CCE": "commercial",
    "DIN": "CDI intérimaire",
    "DDI": "CDD d'insertion",
    "TTI": "intérim d'insertion",
    "DDT": "CDD tremplin",
    "REP": "reprise d'entreprise",
}
WORKING_TIME_LABELS: Final[Mapping[str, str]] = {
    c.FULL_TIME: "temps plein",
    c.PART_TIME: "temps partiel",
    c.ANY: "indifférent",  # a seeker's wish only: a vacancy is full or part time
}
# the channel a seeker was routed to for the night
CHANNEL_LABELS: Final[Mapping[str, str]] = {
    c.CHANNEL_SMS: "SMS",
    c.CHANNEL_COUNSELLOR: "conseiller",
    c.CHANNEL_SUPPRESSED: "aucun envoi",
}
# why a seeker was routed as they were (matching.route, matching.offers), and why an item is in a counsellor's
# queue
REASON_LABELS: Final[Mapping[str, str]] = {
    "no_mobile": "pas de téléphone mobile",
    "sms_undeliverable": "le numéro ne reçoit pas les SMS",
    "no_sms_consent": "pas d'accord pour les SMS",
    "declared_preference": "préfère être appelé(e)",
    "repeated_no_response": "plusieurs SMS sans réponse",
    "rural_low_digital": "commune rurale, peu d'usage du numérique",
    "unclear_reply": "réponse SMS pas claire",
    "replied_oui": "a répondu OUI, questions en cours",
    "screened": "a répondu OUI et aux questions",
    "sms_retries_exhausted": "SMS non parti après plusieurs essais",
    "sms_default": "offre envoyée par SMS",
    "opted_out": "ne veut plus de SMS (STOP)",
    "queue_item_open": "déjà suivi(e) par un conseiller",
    "daily_sms_cap": "limite d'un SMS par jour atteinte",
    "weekly_offer_cap": "limite d'offres de la semaine atteinte",
    "no_offer_left": "aucune nouvelle offre à proposer",  # every match offered before, or its short list full
}
_SMS_ERROR: Final = "sms_error_"  # a queue reason "sms_error_21610": the operator refused the number
# how the offer's occupation relates to the seeker's (matching.score)
RELATION_LABELS: Final[Mapping[str, str]] = {
    "same_sheet": "métier recherché",
    "mobility": "métier proche (mobilité ROME)",
    "other": "autre métier",
}
# the counsellor queues, an item's statuses, the actions on it and the outcomes of a call (connectors.optables,
# tremplin.review.actions)
QUEUE_LABELS: Final[Mapping[str, str]] = {"to_call": "À appeler", "interested": "Intéressés", "flagged": "Signalés"}
STATUS_LABELS: Final[Mapping[str, str]] = {
    "open": "à traiter",
    "contacted": "contacté(e)",
    "put_forward": "mis(e) en relation",
    "hired": "recruté(e)",
    "not_interested": "pas intéressé(e)",
    "wrong_match": "mauvaise proposition",
}
ACTION_LABELS: Final[Mapping[str, str]] = {
    "contacted": "Contact",
    "put_forward": "Mise en relation avec l'employeur",
    "not_interested": "Pas intéressé(e)",
    "wrong_match": "Mauvaise proposition",
    "hired": "Recruté(e)",
    "flag": "Signalement",
    "reassign": "Réattribution",
    "reopen": "Réouverture",
    "note": "Note",
    "view_contact": "Consultation des coordonnées",
    "export_shortlist": "Export de la liste courte",
    "view_record": "Consultation du dossier « pourquoi ces offres »",
}
OUTCOME_LABELS: Final[Mapping[str, str]] = {
    "reached": "joint(e)",
    "no_answer": "pas de réponse",
    "voicemail": "message laissé",
    "wrong_number": "numéro erroné",
}


def contract_label(code: str | None) -> str:
    """A contract type as a seeker or counsellor says it ("" when the vacancy gives none)."""
    return CONTRACT_LABELS.get(code, code) if code else ""


def contract_list(codes: Iterable[str] | None) -> str:
    """A seeker's accepted contract types, comma-separated ("" for none, which means any)."""
    return ", ".join(contract_label(code) for code in codes or ())


def working_time_label(code: str | None) -> str:
    return WORKING_TIME_LABELS.get(code, code) if code else ""


def channel_label(code: str | None) -> str:
    return CHANNEL_LABELS.get(code, code) if code else "-"


def reason_label(code: str | None) -> str:
    if not code:
        return "-"
    if code.startswith(_SMS_ERROR):
        return f"SMS refusé par l'opérateur (erreur {code.removeprefix(_SMS_ERROR)})"
    return REASON_LABELS.get(code, code)


def relation_label(code: str | None) -> str:
    return RELATION_LABELS.get(code, code) if code else ""


def answer_text(answer: Mapping[str, Any]) -> str:
    """A screening answer as the seeker meant it: OUI / NON, or their own words."""
    if answer.get("answer_yes_no") is True:
        return "OUI"
    if answer.get("answer_yes_no") is False:
        return "NON"
    return answer.get("answer") or ""
