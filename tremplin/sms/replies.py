"""What a job seeker's SMS reply means: OUI / NON to an offer, STOP, START, AIDE, or something else.

Pure and stdlib only: an inbound body goes in, a ``Reply`` comes out.

>>> classify("Oui, merci 😀")
Reply(intent=<Intent.YES: 'yes'>, ref=None, text='oui merci')
>>> classify("réf. 12 : NON")
Reply(intent=<Intent.NO: 'no'>, ref=12, text='ref 12 non')

The body is folded (``fold``), then cut into words, letters and digits apart ("OUI12" is "oui", "12"), with
repeated letters squeezed ("ouiii", "stooop", "nonnn"). Known phrases ("d'accord", "pas intéressé",
"ne plus recevoir") count as one word. The first rule that matches decides:

1. STOP: the first word that is not a politeness word is a stop keyword ("STOP merci, et oui"), or every word is a
   stop keyword, politeness, filler such as "sms" or NON ("non stop"), or an opt-out phrase ("je ne veux plus
   recevoir ...") appears anywhere. Opting out wins over everything else.
2. START: only START / UNSTOP / REPRENDRE / REABONNER, politeness and filler ("reprendre les sms").
3. HELP: only AIDE / HELP / INFO, politeness and filler ("aide svp"), or a "?" with no word at all.
4. YES or NO: every word is an answer word or phrase, a politeness word, a reference marker ("réf", "n°", "offre")
   or a number, and all the answer words agree ("oui oui", "ok merci", "12 oui"). "oui non" is OTHER.
5. Anything else is OTHER, the empty text included.

Long messages. Rule 4 lets no other word in, whatever the length: "je sais pas si oui", "oui mais pas le
samedi", "oui je pense" are OTHER. That is deliberately strict: a wrong YES puts forward someone who did not say
yes, while an OTHER only means that the machine did not decide. Negations ("pas", "ne", "plus", "mais", "si")
are never known words on their own, only inside a NO or opt-out phrase, so no extra word can turn a refusal or
a hedge into a YES ("oui mais", "ça m'intéresse, mais pas le soir" are OTHER).

Refusals in words are NO, not OTHER: "pas intéressé(e)", "je ne suis pas intéressée", "ça ne m'intéresse pas",
"pas du tout" say no as clearly as NON does. Likewise "intéressé(e)", "ça m'intéresse", "bien sûr" are YES, since
the offer SMS asks "Intéressé(e) ?".

Punctuation is ignored, so "oui ?" is YES. "no" is the English answer, never "numéro": "oui no 12" is OTHER.
``ref`` is set for YES and NO only, from the one number in the message: 1 to 999, written without a leading
zero. No number, several numbers ("06 12 34 56 78"), or a bigger one ("oui 1234") leave it None.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum, auto
from typing import Final


class Intent(StrEnum):
    """What the seeker meant."""

    YES = "yes"
    NO = "no"
    STOP = "stop"
    START = "start"
    HELP = "help"
    OTHER = "other"


@dataclass(frozen=True)
class Reply:
    """A classified inbound SMS.

    ``ref`` is the offer reference quoted with a YES or NO ("OUI 12" -> 12), else None; ``text`` is ``fold(body)``.
    """

    intent: Intent
    ref: int | None
    text: str


class _Kind(Enum):
    YES = auto()
    NO = auto()
    STOP = auto()  # a stop keyword: counts as the first word or among stop-only words
    OPT_OUT = auto()  # an opt-out phrase: counts anywhere in the message
    START = auto()
    HELP = auto()
    POLITE = auto()  # allowed next to any answer
    FILLER = auto()  # allowed next to STOP, START and HELP keywords ("stop les sms")
    MARK = auto()  # introduces an offer reference ("réf 12")
    NUMBER = auto()
    UNKNOWN = auto()


# Words and phrases as people type them, after ``fold``; they are squeezed like the message when the module loads.
_WORDS: Final[dict[_Kind, str]] = {
    _Kind.YES: "oui ouai ouais oue ouep ok okay okey oke oki dac daccord yes yep volontiers absolument "
    "interesse interesses",  # squeezing merges "interesse" and "interessee"
    _Kind.NO: "non nn nan no nope",
    _Kind.STOP: "stop stopall stopper arret arrete arretez arreter unsubscribe desabonner desabonnez desabonne "
    "desabonnement desinscription desinscrire desinscrivez desinscrit cancel end quit",
    _Kind.START: "start unstop reprendre reabonner",
    _Kind.HELP: "help aide aidez info infos",
    _Kind.POLITE: "merci mrc mci thanks thx bonjour bjr bonsoir bsr salut hello coucou svp stp bien beaucoup tres "
    "madame monsieur mme mr cordialement cdlt",
    _Kind.FILLER: "sms message messages envoi envois offres alertes les des de tout tous all moi",
    _Kind.MARK: "ref reference n num numero offre",
}

_PHRASES: Final[dict[_Kind, tuple[str, ...]]] = {
    _Kind.YES: (
        "d accord",
        "d acc",
        "bien sur",
        "avec plaisir",
        "tout a fait",
        "ca m interesse",
        "je suis interesse",
        "je suis interesses",
    ),
    _Kind.NO: (
        "pas interesse",
        "pas interesses",
        "pas interessant",
        "plus interesse",
        "pas du tout",
        "pas pour moi",
        "je suis pas interesse",
        "je ne suis pas interesse",
        "je suis plus interesse",
        "je ne suis plus interesse",
        "ca m interesse pas",
        "ca m interesse plus",
        "ca ne m interesse pas",
        "ca ne m interesse plus",
        "m interesse pas",
        "ne m interesse pas",
        "ne m interesse plus",
    ),
    _Kind.OPT_OUT: ("plus recevoir", "pas recevoir", "plus etre contacte", "plus me contacter", "me contactez plus"),
    _Kind.START: ("re abonner",),
    _Kind.POLITE: ("s il vous plait", "s il te plait", "bonne journee", "bonne soiree", "a bientot"),
    _Kind.MARK: ("l offre", "pour l offre"),
}

# "nn" is SMS for "non"; squeezed it would be "n", the "n°" reference marker.
_KEEP_DOUBLED: Final = frozenset({"nn"})
_REPEATS: Final = re.compile(r"(.)\1+")
_WORD: Final = re.compile(r"[0-9]+|[^\W0-9_]+")  # digits apart from letters: "oui12" -> "oui", "12"
# Numero signs: NFKD would turn "nº" into "no" (the NO word) and "№" into "No".
_SIGNS: Final = str.maketrans({"º": " ", "№": "n "})
_MAX_REF: Final = 999


def _squeeze(word: str) -> str:
    """The word with each run of a repeated letter cut to one; numbers stay as they are ("11" is not "1")."""
    if word.isdigit() or word in _KEEP_DOUBLED:
        return word
    return _REPEATS.sub(r"\1", word)


def _lexicon(entries: Iterable[tuple[_Kind, tuple[str, ...]]]) -> dict[tuple[str, ...], _Kind]:
    table: dict[tuple[str, ...], _Kind] = {}
    for kind, phrase in entries:
        key = tuple(_squeeze(word) for word in phrase)
        if table.setdefault(key, kind) is not kind:  # squeezing must not merge words of different kinds
            raise ValueError(f"{' '.join(phrase)!r} is both {table[key].name} and {kind.name}")
    return table


_LEXICON: Final = _lexicon(
    [(kind, (word,)) for kind, words in _WORDS.items() for word in words.split()]
    + [(kind, tuple(phrase.split())) for kind, phrases in _PHRASES.items() for phrase in phrases]
)
_LONGEST: Final = max(len(key) for key in _LEXICON)


def _nfkd(text: str) -> str:
    return unicodedata.normalize("NFKD", text)


def _decompose(body: str) -> str:
    # NFKD first, so that modifier and styled letters ("ᴼᵁᴵ", "𝐎𝐔𝐈") are plain letters before the case is folded.
    # upper() before casefold(): a few letters only meet their lower-case twin through the capital (dotless
    # "ı" -> "I" -> "i", "ͅ" -> "Ι" -> "ι"); upper() is idempotent, so fold(s) == fold(s.upper()) for every string.
    # NFKD again because casefold() can make decomposable letters.
    return _nfkd(_nfkd(body.translate(_SIGNS)).upper().casefold())


def _strip(decomposed: str) -> str:
    # Marks go without a trace (the accent of "é"); anything else that is not a letter or digit splits words.
    kept = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.category(ch).startswith("M"))
    return " ".join(kept.split())


def fold(body: str) -> str:
    """Lower case, accents removed (NFKD), punctuation and emoji turned to spaces, spaces collapsed.

    >>> fold("  Réf.\u00a0n°12 : OUI !!! 😀")
    'ref n 12 oui'
    >>> fold("ÇA NE M'INTÉRESSE PAS")
    'ca ne m interesse pas'
    """
    return _strip(_decompose(body))


def _lexemes(text: str) -> list[tuple[_Kind, str]]:
    """The folded text as (kind, word) pairs, the longest known phrase first at each position."""
    words = [_squeeze(word) for word in _WORD.findall(text)]
    out: list[tuple[_Kind, str]] = []
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            kind = _LEXICON.get(tuple(words[i : i + size]))
            if kind is not None:
                out.append((kind, " ".join(words[i : i + size])))
                i += size
                break
        else:
            word = words[i]
            # Only ASCII digits are numbers; other scripts' digits are left as unknown words.
            out.append((_Kind.NUMBER if word.isascii() and word.isdigit() else _Kind.UNKNOWN, word))
            i += 1
    return out


def _only(kinds: set[_Kind], key: _Kind, *also: _Kind) -> bool:
    """True when ``key`` is there and every other word is politeness, filler or one of ``also``."""
    return key in kinds and kinds <= {key, _Kind.POLITE, _Kind.FILLER, *also}


def _intent(lexemes: list[tuple[_Kind, str]], asks: bool) -> Intent:
    if not lexemes:
        return Intent.HELP if asks else Intent.OTHER
    kinds = {kind for kind, _ in lexemes}
    first = next((kind for kind, _ in lexemes if kind is not _Kind.POLITE), None)
    if first is _Kind.STOP or _Kind.OPT_OUT in kinds or _only(kinds, _Kind.STOP, _Kind.NO):
        return Intent.STOP
    if _only(kinds, _Kind.START):
        return Intent.START
    if _only(kinds, _Kind.HELP):
        return Intent.HELP
    answers = kinds & {_Kind.YES, _Kind.NO}
    if len(answers) == 1 and kinds <= answers | {_Kind.POLITE, _Kind.MARK, _Kind.NUMBER}:
        return Intent.YES if _Kind.YES in answers else Intent.NO
    return Intent.OTHER


def _ref(lexemes: list[tuple[_Kind, str]]) -> int | None:
    numbers = [word for kind, word in lexemes if kind is _Kind.NUMBER]
    # Several numbers look like a phone number or a date; a leading zero like the start of "06 12 ...".
    if len(numbers) != 1 or numbers[0].startswith("0"):
        return None
    value = int(numbers[0])
    return value if value <= _MAX_REF else None


def classify(body: str) -> Reply:
    """What an inbound SMS body means, with the offer reference quoted alongside a YES or NO.

    >>> classify("OUI12").intent, classify("OUI12").ref
    (<Intent.YES: 'yes'>, 12)
    >>> classify("je sais pas si oui").intent  # more than an answer and politeness: not for the machine to decide
    <Intent.OTHER: 'other'>
    """
    decomposed = _decompose(body)
    text = _strip(decomposed)
    lexemes = _lexemes(text)
    intent = _intent(lexemes, asks="?" in decomposed)
    ref = _ref(lexemes) if intent in (Intent.YES, Intent.NO) else None
    return Reply(intent, ref, text)
