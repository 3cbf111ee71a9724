"""French wording of the report's own vocabulary: the fairness audit's dimensions and metrics (ops read it in
French). The codes the report shares with the pages and the SMS (channels, reasons...) are worded in
``tremplin.labels``."""

from __future__ import annotations

DIMENSIONS = {
    "gender": "Sexe",
    "age_band": "Âge",
    "disability": "Handicap (RQTH)",
    "rurality": "Densité de la commune (grille INSEE, 1 = dense, 7 = très peu dense)",
    "agency": "Agence",
}
METRICS = {
    "match_rate": "part avec au moins une offre",
    "mean_score": "score moyen de la meilleure offre",
    "sms_share": "part orientée vers le SMS",
    "counsellor_share": "part orientée vers un conseiller",
    "reply_rate": "taux de réponse aux SMS",
    "positive_rate": "issue positive (OUI, présenté, recruté)",
}
DIMENSIONS_SHORT = {
    "gender": "sexe",
    "age_band": "âge",
    "disability": "handicap",
    "rurality": "densité de la commune",
    "agency": "agence",
}
