"""Inbound SMS replies: expected intents and refs are written by hand from the rules in tremplin.sms.replies."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tremplin.sms.replies import Intent, Reply, classify, fold

NBSP = "\u00a0"


CASES: list[tuple[str, Intent, int | None]] = [
    # YES, with the offer's reference when one is written next to the answer
    ("OUI", Intent.YES, None),
    ("oui", Intent.YES, None),
    ("Oui!", Intent.YES, None),
    ("oui.", Intent.YES, None),
    ("Oui merci", Intent.YES, None),
    ("OUI 12", Intent.YES, 12),
    ("oui ref 12", Intent.YES, 12),
    ("oui réf. 12", Intent.YES, 12),
    ("oui réf 12", Intent.YES, 12),
    ("12 oui", Intent.YES, 12),
    ("OUI12", Intent.YES, 12),
    ("oui n°12", Intent.YES, 12),
    ("oui nº12", Intent.YES, 12),  # ordinal sign, which NFKD alone would turn into "no"
    ("oui № 12", Intent.YES, 12),
    ("OUI pour l'offre 12", Intent.YES, 12),
    ("ouii", Intent.YES, None),
    ("ouiiiii !!", Intent.YES, None),
    ("ouais", Intent.YES, None),
    ("OUAIS", Intent.YES, None),
    ("ok", Intent.YES, None),
    ("okay", Intent.YES, None),
    ("d'accord", Intent.YES, None),
    ("D’accord 👍", Intent.YES, None),
    ("dac", Intent.YES, None),
    ("yes", Intent.YES, None),
    ("oui oui", Intent.YES, None),
    ("Oui, merci beaucoup", Intent.YES, None),
    ("Bonjour, oui", Intent.YES, None),
    ("ok merci bien", Intent.YES, None),
    ("Oui madame", Intent.YES, None),
    ("oui s'il vous plaît", Intent.YES, None),
    ("oui bien sûr", Intent.YES, None),
    ("intéressée", Intent.YES, None),
    ("ça m'intéresse", Intent.YES, None),
    ("Je suis intéressé", Intent.YES, None),
    ("oui ?", Intent.YES, None),  # punctuation is ignored
    ("Oui 😀", Intent.YES, None),
    (f"OUI{NBSP}", Intent.YES, None),
    (f"{NBSP}OUI{NBSP}12", Intent.YES, 12),
    ("𝐎𝐔𝐈", Intent.YES, None),
    ("oui 999", Intent.YES, 999),
    ("oui 1234", Intent.YES, None),
    ("oui 1000", Intent.YES, None),
    ("oui 0", Intent.YES, None),
    ("oui 012", Intent.YES, None),  # a leading zero is not how a ref is written
    ("oui 0612345678", Intent.YES, None),
    ("oui 06 12 34 56 78", Intent.YES, None),
    ("oui +33 6 12 34 56 78", Intent.YES, None),
    ("oui 12 13", Intent.YES, None),
    # NO, with the reference likewise
    ("NON", Intent.NO, None),
    ("non merci", Intent.NO, None),
    ("Non.", Intent.NO, None),
    ("non 12", Intent.NO, 12),
    ("réf. 12 : non", Intent.NO, 12),
    ("Réf 12, non merci", Intent.NO, 12),
    ("NON12", Intent.NO, 12),
    ("nan", Intent.NO, None),
    ("no", Intent.NO, None),
    ("nn", Intent.NO, None),
    ("nonnn", Intent.NO, None),
    ("pas intéressé", Intent.NO, None),
    ("pas interessee", Intent.NO, None),
    ("PAS INTÉRESSÉE", Intent.NO, None),
    ("ça ne m'intéresse pas", Intent.NO, None),
    ("ca m interesse pas", Intent.NO, None),
    ("Je ne suis pas intéressée, merci", Intent.NO, None),
    ("pas du tout", Intent.NO, None),
    ("non 1234", Intent.NO, None),
    # STOP and its French and English synonyms (never a reference)
    ("STOP", Intent.STOP, None),
    ("Stop", Intent.STOP, None),
    ("STOP SMS", Intent.STOP, None),
    ("stop merci", Intent.STOP, None),
    ("stop!!!", Intent.STOP, None),
    ("stooop", Intent.STOP, None),
    ("ARRET", Intent.STOP, None),
    ("ARRÊT", Intent.STOP, None),
    ("arrêt", Intent.STOP, None),
    ("arretez", Intent.STOP, None),
    ("arrêter", Intent.STOP, None),
    ("Arrêtez de m'envoyer des offres", Intent.STOP, None),
    ("STOPALL", Intent.STOP, None),
    ("UNSUBSCRIBE", Intent.STOP, None),
    ("DESABONNER", Intent.STOP, None),
    ("DÉSABONNER", Intent.STOP, None),
    ("désabonnement", Intent.STOP, None),
    ("desinscription", Intent.STOP, None),
    ("CANCEL", Intent.STOP, None),
    ("END", Intent.STOP, None),
    ("QUIT", Intent.STOP, None),
    ("STOP 12", Intent.STOP, None),  # ref is only for YES and NO
    ("stop oui", Intent.STOP, None),  # the first word wins
    ("Bonjour, stop", Intent.STOP, None),  # politeness does not count as the first word
    ("merci stop", Intent.STOP, None),
    ("sms stop", Intent.STOP, None),  # only stop words
    ("non stop", Intent.STOP, None),
    ("non merci, stop les sms", Intent.STOP, None),
    ("je ne veux plus recevoir de sms", Intent.STOP, None),
    ("ne plus recevoir", Intent.STOP, None),
    ("oui mais je ne veux plus recevoir vos messages", Intent.STOP, None),  # an opt-out phrase counts anywhere
    ("ne me contactez plus", Intent.STOP, None),
    # START: the opt-out is lifted
    ("START", Intent.START, None),
    ("start", Intent.START, None),
    ("Start !", Intent.START, None),
    ("UNSTOP", Intent.START, None),
    ("reprendre", Intent.START, None),
    ("Réabonner", Intent.START, None),
    ("ré-abonner", Intent.START, None),
    ("start svp", Intent.START, None),
    ("reprendre les sms", Intent.START, None),
    # HELP, AIDE, INFO and a bare question mark
    ("HELP", Intent.HELP, None),
    ("AIDE", Intent.HELP, None),
    ("aide svp", Intent.HELP, None),
    ("Aide ?", Intent.HELP, None),
    ("INFO", Intent.HELP, None),
    ("infos", Intent.HELP, None),
    ("?", Intent.HELP, None),
    (" ? ", Intent.HELP, None),
    ("??", Intent.HELP, None),
    ("？", Intent.HELP, None),
    # OTHER: anything unclear, contradictory or empty
    ("", Intent.OTHER, None),
    ("   ", Intent.OTHER, None),
    (NBSP, Intent.OTHER, None),
    ("😀", Intent.OTHER, None),
    ("😀😀 !!", Intent.OTHER, None),
    ("...", Intent.OTHER, None),
    ("oui non", Intent.OTHER, None),
    ("non oui", Intent.OTHER, None),
    ("ok non", Intent.OTHER, None),
    ("oui no 12", Intent.OTHER, None),  # "no" is the English answer, not "numéro"
    ("oui stop", Intent.OTHER, None),  # stop is neither first nor among stop words only
    ("je sais pas si oui", Intent.OTHER, None),
    ("oui mais", Intent.OTHER, None),
    ("oui mais pas le samedi", Intent.OTHER, None),
    ("oui je pense", Intent.OTHER, None),
    ("peut-être", Intent.OTHER, None),
    ("pas très intéressé", Intent.OTHER, None),  # a negation is only known inside a NO phrase
    ("ça m'intéresse pas trop", Intent.OTHER, None),
    ("je ne suis intéressé", Intent.OTHER, None),
    ("merci", Intent.OTHER, None),
    ("bonjour", Intent.OTHER, None),
    ("bien", Intent.OTHER, None),
    ("12", Intent.OTHER, None),
    ("réf 12", Intent.OTHER, None),
    ("quoi ?", Intent.OTHER, None),
    ("start oui", Intent.OTHER, None),
    ("aide 12", Intent.OTHER, None),
    ("reprendre contact avec ma conseillère", Intent.OTHER, None),
    ("oui ١٢", Intent.OTHER, None),  # Arabic-Indic digits are not a ref
]


@pytest.mark.parametrize(("body", "intent", "ref"), CASES)
def test_classify(body: str, intent: Intent, ref: int | None) -> None:
    assert classify(body) == Reply(intent, ref, fold(body))


@pytest.mark.parametrize(
    ("body", "folded"),
    [
        ("", ""),
        ("  OUI  ", "oui"),
        ("Réf. n°12 : OUI !!!", "ref n 12 oui"),
        ("ÇA NE M'INTÉRESSE PAS", "ca ne m interesse pas"),
        (f"oui{NBSP}merci\tbeaucoup\n", "oui merci beaucoup"),
        ("Oui 😀👍", "oui"),
        ("OUI12", "oui12"),
        ("DÉSABONNER", "desabonner"),
        ("ﬁn", "fin"),  # compatibility ligature
        ("straße", "strasse"),
    ],
)
def test_fold(body: str, folded: str) -> None:
    assert fold(body) == folded


def test_reply_is_frozen() -> None:
    reply = classify("oui 12")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.ref = 13  # type: ignore[misc]


def test_intent_values() -> None:
    assert [str(i) for i in Intent] == ["yes", "no", "stop", "start", "help", "other"]


padding = st.text(alphabet="!. ", max_size=4)
# Sentences made of the words the rules care about, so that the property also reaches YES, NO, STOP and friends.
ANSWERS = ("oui", "Oui", "OUI", "ouii", "non", "NON", "nan", "ok", "d'accord", "intéressé")
KEYWORDS = ("stop", "ARRÊT", "start", "aide", "info", "?", "merci", "bonjour", "svp", "sms", "réf.", "n°")
NUMBERS = ("12", "1234", "06")
HEDGES = ("pas", "ça", "ne", "m'", "plus", "recevoir", "mais", "je", "sais", "si")
ODDITIES = ("😀", "ı", "ß", "Ꭰ")  # dotless i, sharp s, Cherokee: their case mappings are not one-to-one
vocabulary = st.sampled_from([*ANSWERS, *KEYWORDS, *NUMBERS, *HEDGES, *ODDITIES])
messages = st.one_of(st.text(), st.lists(vocabulary, max_size=6).map(" ".join))


@given(messages, padding, padding)
@example("oui", "!", ".")
@example("?", " ", "!")
@example("ouı", "", "")  # dotless i: "OUI" once upper-cased, so it must be YES both ways
def test_intent_ignores_case_and_surrounding_punctuation(body: str, before: str, after: str) -> None:
    intent = classify(body).intent
    assert classify(body.upper()).intent is intent
    assert classify(before + body + after).intent is intent


@given(messages)
def test_fold_is_idempotent_and_case_blind(body: str) -> None:
    folded = fold(body)
    assert fold(folded) == folded
    assert fold(body.upper()) == folded
    assert classify(body).text == folded
