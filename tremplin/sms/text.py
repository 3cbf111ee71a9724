"""SMS text: GSM-7 clean-up, encoding and segment counts, and the offer template. Pure, no I/O.

One character outside the GSM 03.38 alphabet (ç, ê, œ, «, ’ ...) switches the whole message to UCS-2,
which cuts a part from 160 to 70 characters; ``to_gsm7`` replaces those characters first.

>>> segments("a" * 161)
2
>>> to_gsm7("Reçu très tôt…")
'Recu très tot...'
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from typing import Final, Literal

# GSM 03.38 default alphabet (3GPP TS 23.038, 6.2.1), in table order; "\x1b" (the escape to the extension
# table) is left out because it is not a character a text can carry.
GSM7_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as escape + character, so it counts 2 septets.
GSM7_EXTENDED: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_OFFER_SEGMENTS: Final = 2

# Replacements applied before the generic accent stripping; the keys are all outside GSM-7.
_ONE_FOR_ONE = (
    ("çêâîôûëïÿÊÂÎÔÛËÏŸÈÀÙ", "ceaioueiyEAIOUEIYEAU"),
    ("«»“”„‟″", '"' * 7),
    ("’‘‚‛`´′", "'" * 7),
    ("–—‐‑‒−•·", "-" * 7 + "."),
    ("\u00a0\u202f\u2009\u2007\t\u2028\u2029", " " * 5 + "\n" * 2),
)
_REPLACEMENTS: Final[dict[str, str]] = {
    **{src: dst for keys, values in _ONE_FOR_ONE for src, dst in zip(keys, values, strict=True)},
    "œ": "oe",
    "Œ": "OE",
    "…": "...",
    # invisible characters: zero-width spaces and joiners, byte-order mark, soft hyphen
    **dict.fromkeys("\u200b\u200c\u200d\ufeff\u00ad", ""),
}


_GSM7: Final[frozenset[str]] = GSM7_BASIC | GSM7_EXTENDED


def _is_gsm7(char: str) -> bool:
    return char in _GSM7


@functools.cache
def _clean_char(char: str) -> str:
    if _is_gsm7(char):
        return char
    if char in _REPLACEMENTS:
        return _REPLACEMENTS[char]
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if _is_gsm7(part):
            out.append(part)
        elif unicodedata.combining(part):
            continue  # the accent of a letter whose base letter was kept
        else:
            out.append(_REPLACEMENTS.get(part, "?"))
    return "".join(out) or "?"


def to_gsm7(text: str) -> str:
    """Replace every character that would force UCS-2, keeping the GSM-7 accents é è à ù ì ò É.

    >>> to_gsm7("Il coûte 5 € à l’œil")
    "Il coute 5 € à l'oeil"
    """
    if _GSM7.issuperset(text):  # most texts: nothing to replace
        return text
    return "".join(map(_clean_char, text))


def encoding(text: str) -> Encoding:
    """``"GSM-7"`` when every character is in the GSM 03.38 alphabet or its extension, else ``"UCS-2"``."""
    return "GSM-7" if _GSM7.issuperset(text) else "UCS-2"


def _units(text: str, enc: Encoding) -> list[int]:
    """The size of each character: septets for GSM-7, UTF-16 code units for UCS-2."""
    if enc == "GSM-7":
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(units: list[int], part_size: int) -> int:
    # A character is never split across two parts (an escape sequence or a surrogate pair stays whole),
    # so a part can end one unit short: count greedily rather than divide.
    parts, used = 1, 0
    for size in units:
        if used + size > part_size:
            parts, used = parts + 1, 0
        used += size
    return parts


def segments(text: str) -> int:
    """How many SMS parts the text takes (0 for an empty text).

    GSM-7: 160 septets in one part, 153 per part once split; extension characters count 2.
    UCS-2: 70 UTF-16 code units in one part, 67 per part once split.

    >>> segments("a" * 160), segments("a" * 161), segments("ç" * 71)
    (1, 2, 2)
    """
    if not text:
        return 0
    enc = encoding(text)
    if enc == "GSM-7" and GSM7_EXTENDED.isdisjoint(text):
        # the usual case, every character one septet: counted without a list of sizes
        return 1 if len(text) <= GSM7_SINGLE else -(-len(text) // GSM7_PART)
    units = _units(text, enc)
    single, part = (GSM7_SINGLE, GSM7_PART) if enc == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    if sum(units) <= single:
        return 1
    return _pack(units, part)


# --- offer text ----------------------------------------------------------------------------------

# Fields: sender, title, commune, distance ("12 km" or "moins de 1 km"), contract, hours, matched_skills,
# ref (the offer's number for this seeker: "OUI 2" answers offer 2 even after offer 3 has arrived).
DEFAULT_OFFER_TEMPLATE: Final = (
    "{sender}: offre {title} à {commune} ({distance}), {contract} {hours}. "
    "Elle correspond à {matched_skills} de vos compétences. "
    "Intéressé(e) ? Répondez OUI ou NON (réf. {ref}). STOP pour ne plus recevoir."
)

HELP_TEXT: Final = (
    "France Travail: nous vous envoyons des offres d'emploi proches de votre profil. "
    "Répondez OUI ou NON. STOP pour ne plus rien recevoir. Aide: 3949"
)

# The answers of the SMS conversation (replies to the seeker's messages); {title} is the offer's job title.
CLARIFY_TEXT: Final = "Nous n'avons pas compris. L'offre {title} vous intéresse-t-elle ? Répondez OUI ou NON."
DECLINED_TEXT: Final = "C'est noté, merci. Nous continuerons à vous proposer d'autres offres."
TO_COUNSELLOR_TEXT: Final = "Merci. Un conseiller va vous contacter au sujet de l'offre {title}."
INTERESTED_TEXT: Final = "Merci ! Un conseiller vous rappelle rapidement pour vous présenter à l'employeur ({title})."
STOPPED_TEXT: Final = "Vous ne recevrez plus d'offres par SMS. Envoyez START pour les recevoir à nouveau."
STARTED_TEXT: Final = "C'est noté: vous recevrez à nouveau des offres par SMS. STOP pour arrêter."
NO_OFFER_TEXT: Final = "Nous n'avons pas d'offre en cours pour ce numéro. Aide: 3949. STOP pour ne plus recevoir."

ELLIPSIS: Final = "..."
# Shortening order: the title down to 24 characters, then the commune down to 20, then both further.
_SHORTENING_STEPS: Final = (("title", 24), ("commune", 20), ("title", 4), ("commune", 4))


def _distance(distance_km: float) -> str:
    if distance_km < 1:
        return "moins de 1 km"
    return f"{math.floor(distance_km + 0.5)} km"  # half up: 12.5 km reads "13 km"


def _tidy(text: str) -> str:
    # An empty field (no working time, say) must not leave "CDI ." behind.
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r" +([.,])", r"\1", text).strip()


def _shorten(value: str, by: int, floor: int) -> str | None:
    """``value`` cut by ``by`` characters, but not below ``floor``, and ended by an ellipsis.

    None when it cannot get any shorter.
    """
    base = value[: -len(ELLIPSIS)] if value.endswith(ELLIPSIS) else value
    keep = max(floor - len(ELLIPSIS), 1, min(len(base) - 1, len(value) - by - len(ELLIPSIS)))
    shorter = base[:keep].rstrip() + ELLIPSIS
    return shorter if len(shorter) < len(value) else None


def reply_text(template: str, **fields: object) -> str:
    """A conversation reply, GSM-7 only, cut (with an ellipsis) to two segments when a template runs longer.

    >>> reply_text(CLARIFY_TEXT, title="Boulanger")
    "Nous n'avons pas compris. L'offre Boulanger vous intéresse-t-elle ? Répondez OUI ou NON."
    """
    text = to_gsm7(_tidy(template.format(**fields)))
    while segments(text) > MAX_OFFER_SEGMENTS:
        text = text[: -len(ELLIPSIS) - 1].rstrip() + ELLIPSIS
    return text


def render_offer(
    *,
    title: str,
    commune: str,
    distance_km: float,
    contract: str | None,
    hours: str | None,
    matched_skills: int,
    sender: str,
    ref: int = 1,
    template: str | None = None,
) -> str:
    """The offer SMS, GSM-7 only and at most 2 segments: the title is shortened first, then the commune.

    Raises ValueError when even the shortest title and commune do not fit (a template that is too long).

    >>> render_offer(title="Vendeur en prêt-à-porter", commune="Aubenas", distance_km=12.3, contract="CDI",
    ...              hours="temps plein", matched_skills=4, sender="France Travail")[:60]
    'France Travail: offre Vendeur en pret-à-porter à Aubenas (12'
    """
    fmt = template or DEFAULT_OFFER_TEMPLATE
    fields = {
        "sender": sender.strip(),
        "distance": _distance(distance_km),
        "contract": (contract or "").strip(),
        "hours": (hours or "").strip(),
        "matched_skills": matched_skills,
        "ref": ref,
    }
    names = {"title": to_gsm7(" ".join(title.split())), "commune": to_gsm7(" ".join(commune.split()))}
    steps = iter(_SHORTENING_STEPS)
    field, floor = next(steps)
    while True:
        text = to_gsm7(_tidy(fmt.format(**names, **fields)))
        if segments(text) <= MAX_OFFER_SEGMENTS:
            return text
        over = sum(_units(text, "GSM-7")) - GSM7_PART * MAX_OFFER_SEGMENTS
        shorter = _shorten(names[field], max(over, 1), floor)
        while shorter is None:
            try:
                field, floor = next(steps)
            except StopIteration:
                raise ValueError(f"offer template too long for {MAX_OFFER_SEGMENTS} SMS segments: {fmt!r}") from None
            shorter = _shorten(names[field], max(over, 1), floor)
        names[field] = shorter
