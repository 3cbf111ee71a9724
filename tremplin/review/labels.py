"""French wording of the codes the pages show (route reasons, statuses, actions)."""

from __future__ import annotations

from typing import Any

QUEUE_LABELS = {"to_call": "À appeler", "interested": "Intéressés", "flagged": "Signalés"}
STATUS_LABELS = {
    "open": "à traiter",
    "contacted": "contacté(e)",
    "put_forward": "mis(e) en relation",
    "hired": "recruté(e)",
    "not_interested": "pas intéressé(e)",
    "wrong_match": "mauvaise proposition",
}
ACTION_LABELS = {
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
REASON_LABELS = {
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
}
RELATION_LABELS = {
    "same_sheet": "métier recherché",
    "mobility": "métier proche (mobilité ROME)",
    "other": "autre métier",
}
CONTRACT_LABELS = {
    "CDI": "CDI",
    "CDD": "CDD",
    "MIS": "intérim",
    "SAI": "saisonnier",
    "LIB": "libéral",
    "FRA": "franchise",
}
WORKING_TIME_LABELS = {"full_time": "temps plein", "part_time": "temps partiel", "any": "indifférent"}


def reason_label(code: str | None) -> str:
    if not code:
        return "-"
    if code.startswith("sms_error_"):
        return f"SMS refusé par l'opérateur (erreur {code.removeprefix('sms_error_')})"
    return REASON_LABELS.get(code, code)


def answer_text(answer: dict[str, Any]) -> str:
    """A screening answer as the seeker meant it: OUI / NON, or their own words."""
    if answer.get("answer_yes_no") is True:
        return "OUI"
    if answer.get("answer_yes_no") is False:
        return "NON"
    return answer.get("answer") or ""
