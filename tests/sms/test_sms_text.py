"""SMS text: GSM-7 clean-up, encodings and segment counts worked out by hand from GSM 03.38 rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tremplin.sms.text import (
    DEFAULT_OFFER_TEMPLATE,
    GSM7_BASIC,
    GSM7_EXTENDED,
    HELP_TEXT,
    TO_COUNSELLOR_TEXT,
    encoding,
    render_offer,
    reply_text,
    segments,
    to_gsm7,
)

# --- alphabet ------------------------------------------------------------------------------------


def test_alphabet_sizes_match_gsm_03_38() -> None:
    # 128 code points in the basic table minus the escape (0x1B); 10 characters in the extension table.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENDED) == 10
    assert not GSM7_BASIC & GSM7_EXTENDED


@pytest.mark.parametrize("char", list("éèàùìòÉÇØøÅåÄÖÑÜäöñüßÆæ@£$¥§¿¡ΔΩ"))
def test_gsm7_accents_are_in_the_basic_table(char: str) -> None:
    assert char in GSM7_BASIC


@pytest.mark.parametrize("char", [*"çêâîôûëïœŒ«»’‘“”–—…", "\u00a0"])
def test_french_characters_outside_gsm7(char: str) -> None:
    assert encoding(char) == "UCS-2"


# --- segments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),  # one part holds 160 septets
        ("a" * 161, 2),  # split: 153 per part, 161 <= 306
        ("a" * 306, 2),  # 2 x 153
        ("a" * 307, 3),
        ("a" * 459, 3),  # 3 x 153
        ("a" * 460, 4),
    ],
)
def test_gsm7_segments(text: str, expected: int) -> None:
    assert encoding(text) == "GSM-7"
    assert segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€", 1),
        ("€" * 80, 1),  # 80 x 2 = 160 septets
        ("€" * 81, 2),  # 162 septets
        ("a" * 158 + "€", 1),  # 160 septets
        ("a" * 159 + "€", 2),  # 161 septets
        ("{}[]", 1),
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but the escape pair cannot straddle parts 1 and 2
    ],
)
def test_extension_characters_count_two_septets(text: str, expected: int) -> None:
    assert encoding(text) == "GSM-7"
    assert segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ç", 1),
        ("ç" * 70, 1),
        ("ç" * 71, 2),  # 67 per part once split
        ("ç" * 134, 2),  # 2 x 67
        ("ç" * 135, 3),
        ("a" * 69 + "ç", 1),  # one ç makes the whole text UCS-2: 70 units
        ("a" * 70 + "ç", 2),
        ("😀" * 35, 1),  # a surrogate pair is 2 UTF-16 units: 70 units
        ("😀" * 36, 2),  # 72 units, 33 pairs (66 units) per part
    ],
)
def test_ucs2_segments(text: str, expected: int) -> None:
    assert encoding(text) == "UCS-2"
    assert segments(text) == expected


def test_one_cedilla_switches_the_whole_message() -> None:
    text = "a" * 100 + "ç"
    assert encoding(text) == "UCS-2"
    assert segments(text) == 2  # 101 UTF-16 units > 70
    cleaned = to_gsm7(text)
    assert cleaned == "a" * 100 + "c"
    assert encoding(cleaned) == "GSM-7"
    assert segments(cleaned) == 1


def test_cedilla_run_segments_before_and_after_cleaning() -> None:
    assert segments("ç" * 70) == 1 and encoding("ç" * 70) == "UCS-2"
    assert segments("ç" * 71) == 2
    assert to_gsm7("ç" * 71) == "c" * 71
    assert segments(to_gsm7("ç" * 71)) == 1


# --- to_gsm7 -------------------------------------------------------------------------------------


def test_gsm7_accents_survive_unchanged() -> None:
    text = "é è à ù É ì ò Ç ü ñ ß"
    assert to_gsm7(text) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Reçu", "Recu"),
        ("Ça", "Ça"),  # capital Ç is in the basic table
        ("fenêtre âne île côte sûr", "fenetre ane ile cote sur"),
        ("Noël naïf", "Noel naif"),
        ("Œuvre cœur", "OEuvre coeur"),
        ("« Bonjour »", '" Bonjour "'),
        ("“oui”", '"oui"'),
        ("l’été ‘x’", "l'été 'x'"),
        ("8h–12h — ok", "8h-12h - ok"),
        ("Attendez…", "Attendez..."),
        ("prix\u00a0: 5\u202f€", "prix : 5 €"),
        ("São Ãñ", "Sao Añ"),  # ã stripped by NFKD, ñ kept
        ("ÊTRE À L'HÔTEL", "ETRE A L'HOTEL"),
        ("ﬁn", "fin"),  # compatibility ligature
        ("Łódź", "?odz"),  # Ł has no decomposition
        ("中文", "??"),
        ("ok 😀", "ok ?"),
        ("{[€]}|~^\\", "{[€]}|~^\\"),  # extension table kept
    ],
)
def test_to_gsm7_replacements(raw: str, expected: str) -> None:
    assert to_gsm7(raw) == expected


@given(st.text())
def test_to_gsm7_is_always_gsm7(text: str) -> None:
    cleaned = to_gsm7(text)
    assert encoding(cleaned) == "GSM-7"
    assert to_gsm7(cleaned) == cleaned  # idempotent


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENDED)))
def test_to_gsm7_leaves_gsm7_text_alone(text: str) -> None:
    assert to_gsm7(text) == text


# --- offer text ----------------------------------------------------------------------------------

OFFER = {
    "title": "Vendeur en prêt-à-porter",
    "commune": "Aubenas",
    "distance_km": 12.3,
    "contract": "CDI",
    "hours": "temps plein",
    "matched_skills": 4,
    "sender": "France Travail",
}


def test_render_offer_default_template() -> None:
    text = render_offer(**OFFER, ref=3)  # type: ignore[arg-type]
    assert text == (
        "France Travail: offre Vendeur en pret-à-porter à Aubenas (12 km), CDI temps plein. "
        "Elle correspond à 4 de vos compétences. Intéressé(e) ? Répondez OUI ou NON (réf. 3). "
        "STOP pour ne plus recevoir."
    )
    assert encoding(text) == "GSM-7"
    assert len(text) == 195  # counted by hand: 83 + 40 + 45 + 27 characters
    assert segments(text) == 2


@pytest.mark.parametrize(
    ("km", "shown"),
    [(0.0, "moins de 1 km"), (0.99, "moins de 1 km"), (1.0, "1 km"), (12.5, "13 km"), (12.49, "12 km")],
)
def test_render_offer_distance(km: float, shown: str) -> None:
    text = render_offer(**{**OFFER, "distance_km": km})  # type: ignore[arg-type]
    assert f"Aubenas ({shown})," in text


def test_render_offer_without_working_time_leaves_no_stray_space() -> None:
    text = render_offer(**{**OFFER, "contract": "CDD", "hours": ""})  # type: ignore[arg-type]
    assert "(12 km), CDD. Elle" in text


def test_render_offer_custom_template_uses_the_same_fields() -> None:
    template = "{sender}: {title}, {commune} ({distance}), {contract} {hours}, {matched_skills} comp. OUI/NON ?"
    text = render_offer(**OFFER, template=template)  # type: ignore[arg-type]
    assert text == "France Travail: Vendeur en pret-à-porter, Aubenas (12 km), CDI temps plein, 4 comp. OUI/NON ?"


def test_default_template_names_every_field() -> None:
    for name in ("sender", "title", "commune", "distance", "contract", "hours", "matched_skills"):
        assert "{" + name + "}" in DEFAULT_OFFER_TEMPLATE


def test_long_title_is_shortened_first() -> None:
    title = "Responsable de rayon produits frais et traditionnels en grande distribution " * 3
    text = render_offer(**{**OFFER, "title": title})  # type: ignore[arg-type]
    assert encoding(text) == "GSM-7"
    assert segments(text) == 2
    assert "... à Aubenas (12 km)" in text  # commune untouched
    assert text.endswith("STOP pour ne plus recevoir.")
    assert text.startswith("France Travail: offre Responsable de rayon")


def test_long_commune_alone_is_shortened() -> None:
    commune = "Saint-Étienne-de-Fontbellon " * 12
    text = render_offer(**{**OFFER, "commune": commune})  # type: ignore[arg-type]
    assert segments(text) == 2 and encoding(text) == "GSM-7"
    # the 24-character title is already at its floor, so only the commune is cut
    assert "offre Vendeur en pret-à-porter à Saint-Étienne-de-Fontbellon Saint" in text
    assert "... (12 km), CDI" in text


def test_title_goes_to_its_floor_before_the_commune_is_cut() -> None:
    title = "Responsable de rayon produits frais et traditionnels"
    commune = "Saint-Étienne-de-Fontbellon " * 12
    text = render_offer(**{**OFFER, "title": title, "commune": commune})  # type: ignore[arg-type]
    assert segments(text) == 2 and encoding(text) == "GSM-7"
    # 21 characters kept ("Responsable de rayon ", trailing space dropped) + "..." = the 24 floor
    assert "offre Responsable de rayon... à Saint-Étienne-de-Fontbellon" in text
    assert "... (12 km), CDI" in text


def test_template_too_long_is_an_error() -> None:
    with pytest.raises(ValueError, match="too long"):
        render_offer(**OFFER, template="{title} {commune} " + "x" * 400)  # type: ignore[arg-type]


@given(
    title=st.text(min_size=1, max_size=400),
    commune=st.text(min_size=1, max_size=200),
    km=st.floats(min_value=0, max_value=500),
    skills=st.integers(min_value=0, max_value=50),
)
def test_any_offer_fits_two_gsm7_segments(title: str, commune: str, km: float, skills: int) -> None:
    text = render_offer(
        title=title,
        commune=commune,
        distance_km=km,
        contract="CDD",
        hours="temps partiel",
        matched_skills=skills,
        sender="France Travail",
    )
    assert encoding(text) == "GSM-7"
    assert 1 <= segments(text) <= 2


def test_help_text_is_one_gsm7_segment() -> None:
    assert encoding(HELP_TEXT) == "GSM-7"
    assert segments(HELP_TEXT) == 1
    assert "STOP" in HELP_TEXT


# --- conversation replies ------------------------------------------------------------------------

# "Merci. Un conseiller va vous contacter au sujet de l'offre " counted by hand: 6 + 1 + 2 + 1 + 10 + 1 + 2
# + 1 + 4 + 1 + 9 + 1 + 2 + 1 + 5 + 1 + 2 + 1 + 7 + 1 = 59 characters, all one GSM-7 septet.
COUNSELLOR_START = "Merci. Un conseiller va vous contacter au sujet de l'offre "


def test_reply_text_cuts_an_over_long_reply_to_two_segments_with_an_ellipsis() -> None:
    # 59 + 400 + "." = 460 septets. Two parts hold 2 x 153 = 306; the ellipsis takes 3, so the first 303
    # characters stay: the 59 of the start and 244 of the title.
    text = reply_text(TO_COUNSELLOR_TEXT, title="x" * 400)
    assert text == COUNSELLOR_START + "x" * 244 + "..."
    assert len(text) == 306 and segments(text) == 2


def test_reply_text_drops_the_space_before_the_ellipsis() -> None:
    # The 303 characters kept end with the title's 244th character, a space: it goes, leaving 305.
    text = reply_text(TO_COUNSELLOR_TEXT, title="x" * 243 + " " + "y" * 200)
    assert text == COUNSELLOR_START + "x" * 243 + "..."


def test_reply_text_cleans_to_gsm7_before_measuring() -> None:
    # "ê" is UCS-2 (70 units per part): cleaned to "e" first, 59 + 90 + 1 = 150 septets fit one GSM-7 part.
    text = reply_text(TO_COUNSELLOR_TEXT, title="ê" * 90)
    assert text == COUNSELLOR_START + "e" * 90 + "."
    assert segments(text) == 1
