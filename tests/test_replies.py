"""Inbound SMS replies: expected intents and refs are written by hand from the rules in tremplin.replies."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tremplin.replies import Intent, Reply, classify, fold

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("body", "ref"),
    [
        ("OUI", None),
        ("oui", None),
        ("Oui!", None),
        ("oui.", None),
        ("Oui merci", None),
        ("OUI 12", 12),
        ("oui ref 12", 12),
        ("oui réf. 12", 12),
        ("oui réf 12", 12),
        ("12 oui", 12),
        ("OUI12", 12),
        ("oui n°12", 12),
        ("oui nº12", 12),  # ordinal sign, which NFKD alone would turn into "no"
        ("oui № 12", 12),
        ("OUI pour l'offre 12", 12),
        ("ouii", None),
        ("ouiiiii !!", None),
        ("ouais", None),
        ("OUAIS", None),
        ("ok", None),
        ("okay", None),
        ("d'accord", None),
        ("D’accord 👍", None),
        ("dac", None),
        ("yes", None),
        ("oui oui", None),
        ("Oui, merci beaucoup", None),
        ("Bonjour, oui", None),
        ("ok merci bien", None),
        ("Oui madame", None),
        ("oui s'il vous plaît", None),
        ("oui bien sûr", None),
        ("intéressée", None),
        ("ça m'intéresse", None),
        ("Je suis intéressé", None),
        ("oui ?", None),  # punctuation is ignored
        ("Oui 😀", None),
        (f"OUI{NBSP}", None),
        (f"{NBSP}OUI{NBSP}12", 12),
        ("𝐎𝐔𝐈", None),  # mathematical bold letters
        ("oui 999", 999),
        ("oui 1234", None),
        ("oui 1000", None),
        ("oui 0", None),
        ("oui 012", None),  # a leading zero is not how a ref is written
        ("oui 0612345678", None),
        ("oui 06 12 34 56 78", None),
        ("oui +33 6 12 34 56 78", None),
        ("oui 12 13", None),
    ],
)
def test_yes(body: str, ref: int | None) -> None:
    assert classify(body) == Reply(Intent.YES, ref, fold(body))


@pytest.mark.parametrize(
    ("body", "ref"),
    [
        ("NON", None),
        ("non merci", None),
        ("Non.", None),
        ("non 12", 12),
        ("réf. 12 : non", 12),
        ("Réf 12, non merci", 12),
        ("NON12", 12),
        ("nan", None),
        ("no", None),
        ("nn", None),
        ("nonnn", None),
        ("pas intéressé", None),
        ("pas interessee", None),
        ("PAS INTÉRESSÉE", None),
        ("ça ne m'intéresse pas", None),
        ("ca m interesse pas", None),
        ("Je ne suis pas intéressée, merci", None),
        ("pas du tout", None),
        ("non 1234", None),
    ],
)
def test_no(body: str, ref: int | None) -> None:
    assert classify(body) == Reply(Intent.NO, ref, fold(body))


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "Stop",
        "STOP SMS",
        "stop merci",
        "stop!!!",
        "stooop",
        "ARRET",
        "ARRÊT",
        "arrêt",
        "arretez",
        "arrêter",
        "Arrêtez de m'envoyer des offres",
        "STOPALL",
        "UNSUBSCRIBE",
        "DESABONNER",
        "DÉSABONNER",
        "désabonnement",
        "desinscription",
        "CANCEL",
        "END",
        "QUIT",
        "STOP 12",  # ref is only for YES and NO
        "stop oui",  # the first word wins
        "Bonjour, stop",  # politeness does not count as the first word
        "merci stop",
        "sms stop",  # only stop words
        "non stop",
        "non merci, stop les sms",
        "je ne veux plus recevoir de sms",
        "ne plus recevoir",
        "oui mais je ne veux plus recevoir vos messages",  # an opt-out phrase counts anywhere
        "ne me contactez plus",
    ],
)
def test_stop(body: str) -> None:
    assert classify(body) == Reply(Intent.STOP, None, fold(body))


@pytest.mark.parametrize(
    "body",
    ["START", "start", "Start !", "UNSTOP", "reprendre", "Réabonner", "ré-abonner", "start svp", "reprendre les sms"],
)
def test_start(body: str) -> None:
    assert classify(body) == Reply(Intent.START, None, fold(body))


@pytest.mark.parametrize("body", ["HELP", "AIDE", "aide svp", "Aide ?", "INFO", "infos", "?", " ? ", "??", "？"])
def test_help(body: str) -> None:
    assert classify(body) == Reply(Intent.HELP, None, fold(body))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        NBSP,
        "😀",
        "😀😀 !!",
        "...",
        "oui non",
        "non oui",
        "ok non",
        "oui no 12",  # "no" is the English answer, not "numéro"
        "oui stop",  # stop is neither first nor among stop words only
        "je sais pas si oui",
        "oui mais",
        "oui mais pas le samedi",
        "oui je pense",
        "peut-être",
        "pas très intéressé",  # a negation is only known inside a NO phrase
        "ça m'intéresse pas trop",
        "je ne suis intéressé",
        "merci",
        "bonjour",
        "bien",
        "12",
        "réf 12",
        "quoi ?",
        "start oui",
        "aide 12",
        "reprendre contact avec ma conseillère",
        "oui ١٢",  # Arabic-Indic digits are not a ref
    ],
)
def test_other(body: str) -> None:
    assert classify(body) == Reply(Intent.OTHER, None, fold(body))


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
