"""The counsellor pages end to end, in a real headless chromium driven by Playwright.

Each test serves the review app with uvicorn on a fresh operational store (tests/support/review_data.py: two agencies,
four accounts) and works it as a counsellor would, with clicks and the keyboard; then reads the store to check
the status changed and the audit events were appended. One browser for the module, a context per counsellor.
Screenshots land in build/test-artifacts/screenshots/ for a human to look at; axe-core checks accessibility.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from connectors.opstore import OpStore
from connectors.optables import audit_events, counsellor_queue, notes
from tests.support import review_data
from tests.support.browser import (
    SCREENSHOTS,
    VIEWPORTS,
    chromium_missing,
    horizontal_overflow,
    launched_chromium,
    screenshot,
    serious_violations,
    serving_review,
    sign_in,
)
from tests.support.review_data import item_id
from tremplin.review.accounts import User
from tremplin.settings import Settings

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

S1_V1 = item_id("S1", "V1")  # to_call, no mobile
S2_V1 = item_id("S2", "V1")  # interested: answered OUI and both screening questions by SMS
S3_V2 = item_id("S3", "V2")  # flagged: unclear reply
OUI_PARIS = "23/11/2026 11:12"  # review_data.OUI_AT (10:12 UTC) as the pages show it, Paris time


@dataclass
class Site:
    base: str
    store: OpStore
    accounts: dict[str, User]

    def url(self, path: str) -> str:
        return self.base + path

    def item_url(self, item: str) -> str:
        return self.url(f"/items/{quote(item, safe='')}")

    def row(self, item: str) -> dict[str, Any]:
        (found,) = [r for r in self.store.table_rows(counsellor_queue) if r["item_id"] == item]
        return found

    def events(self, *, item: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        """Audit events in order, without the views of contact details unless asked for."""
        return [
            e
            for e in sorted(self.store.table_rows(audit_events), key=lambda e: e["event_id"])
            if (item is None or e["item_id"] == item)
            and (e["action"] == action if action else e["action"] != "view_contact")
        ]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = Settings.from_env({}, home=tmp_path)
    store = OpStore(settings.opstore)
    accounts = review_data.build(store)
    with serving_review(settings, store) as base:
        yield Site(base, store, accounts)
    store.close()


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser, site: Site) -> Iterator[OpenPage]:
    """open_page(username=None, width=1280): a page in a context of its own (its own cookies), signed in."""
    contexts: list[BrowserContext] = []

    def open_(username: str | None = None, width: int = 1280) -> Page:
        phone = width < 700
        context = browser.new_context(
            viewport=VIEWPORTS[width], is_mobile=phone, has_touch=phone, locale="fr-FR", accept_downloads=True
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if username:
            sign_in(page, site.base, username)
            expect(page).to_have_url(site.url("/queues/to_call"))
        return page

    yield open_
    for context in contexts:
        context.close()


def in_queue(page: Page, name: str) -> Page:
    """Follow the top navigation to a queue."""
    page.get_by_role("navigation", name="Files de travail").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return page


def listed_seekers(page: Page) -> list[str]:
    return page.locator("table.items tbody tr td:first-child a[href^='/items/']").all_inner_texts()


def history(page: Page) -> list[str]:
    return page.locator("ul.history li").all_inner_texts()


# --- 1. sign-in ----------------------------------------------------------------------------------------------


def test_sign_in_wrong_then_right_password_and_session_cookie(site: Site, open_page: OpenPage) -> None:
    page = open_page()
    page.goto(site.url("/login"))
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill("not-her-password")
    with page.expect_navigation() as refused:
        page.get_by_role("button", name="Se connecter").click()
    assert refused.value is not None and refused.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
    assert not [c for c in page.context.cookies() if c["name"] == "tremplin_session"]

    # the same form (same CSRF token) keeps the name; the focus is on the password, typed again
    expect(page.get_by_label("Identifiant")).to_have_value("marie")
    expect(page.get_by_label("Mot de passe")).to_be_focused()
    page.keyboard.type(review_data.PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(site.url("/queues/to_call"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("À appeler")
    expect(page.locator("header form.who")).to_contain_text("Marie Roux · FT-07-001")
    assert listed_seekers(page) == ["S1", "S4"]  # by score

    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["tremplin_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["secure"] is False  # plain http on 127.0.0.1; Secure comes with TLS
    assert "tremplin_login_csrf" not in cookies  # the sign-in form's token is dropped once used
    assert "tremplin_session" not in page.evaluate("document.cookie")  # scripts cannot read it


# --- 2. working an item in each queue ------------------------------------------------------------------------


def test_to_call_item_two_calls_then_put_forward(site: Site, open_page: OpenPage) -> None:
    marie = site.accounts["marie"]
    page = open_page("marie")
    page.get_by_role("link", name="S1", exact=True).click()
    expect(page).to_have_url(site.item_url(S1_V1))
    expect(page.get_by_role("heading", level=1)).to_have_text("S1 pour Boulanger / Boulangère")
    expect(page.locator("p.status")).to_contain_text("à traiter")
    expect(page.locator("dt:text-is('Canal') + dd")).to_have_text("conseiller (pas de téléphone mobile)")

    # first call, by keyboard only: arrow down to "pas de réponse", Tab to the button, Enter
    outcome = page.get_by_label("Résultat de l'appel")
    outcome.focus()
    page.keyboard.press("ArrowDown")
    assert outcome.input_value() == "no_answer"
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Enregistrer l'appel")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Enregistré : Contact.")
    expect(page.locator("p.status")).to_contain_text("à traiter")
    expect(page.locator("p.status")).to_contain_text("dernier appel : pas de réponse")
    assert site.row(S1_V1)["status"] == "open" and site.row(S1_V1)["outcome"] == "no_answer"

    # second call reaches her: "joint(e)"
    page.get_by_label("Résultat de l'appel").select_option(label="pas de réponse")
    page.get_by_label("Résultat de l'appel").select_option(label="joint(e)")
    page.get_by_role("button", name="Enregistrer l'appel").click()
    expect(page.locator("p.status")).to_contain_text("contacté(e)")
    expect(page.locator("p.status")).to_contain_text("dernier appel : joint(e)")

    page.get_by_role("button", name="Mise en relation avec l'employeur").click()
    expect(page.get_by_role("status")).to_have_text("Enregistré : Mise en relation avec l'employeur.")
    expect(page.locator("p.status")).to_contain_text("mis(e) en relation")
    expect(page.locator("p.status")).to_contain_text("suivi par Marie Roux")
    assert [h.split(" · ", 1)[1] for h in history(page)] == [
        "Marie Roux · Mise en relation avec l'employeur",
        "Marie Roux · Contact (joint(e))",
        "Marie Roux · Contact (pas de réponse)",
    ]

    row = site.row(S1_V1)
    assert row["status"] == "put_forward"
    assert row["outcome"] == "reached"
    assert row["version"] == 4
    assert row["assigned_to"] == marie.user_id
    assert row["contacted_at"] is not None and row["decided_at"] is not None
    events = site.events(item=S1_V1)
    assert [(e["action"], e["user_id"], e["details"]) for e in events] == [
        ("contacted", marie.user_id, {"from_status": "open", "outcome": "no_answer"}),
        ("contacted", marie.user_id, {"from_status": "open", "outcome": "reached"}),
        ("put_forward", marie.user_id, {"from_status": "contacted"}),
    ]
    assert all(e["agency_id"] == review_data.ARDECHE and e["seeker_id"] == "S1" for e in events)
    assert len(site.events(item=S1_V1, action="view_contact")) == 4  # the item page, seen after each step


def test_interested_item_screening_put_forward_shortlist_and_csv(site: Site, open_page: OpenPage) -> None:
    marie = site.accounts["marie"]
    page = in_queue(open_page("marie"), "Intéressés")
    assert listed_seekers(page) == ["S2"]
    expect(page.locator("table.items tbody tr").first).to_contain_text(OUI_PARIS)
    page.get_by_role("link", name="S2", exact=True).click()
    expect(page).to_have_url(site.item_url(S2_V1))

    screening = page.get_by_role("region", name="Réponses par SMS")
    expect(screening).to_contain_text(f"A répondu OUI le {OUI_PARIS}.")
    answers = dict(
        zip(screening.locator("dt").all_inner_texts(), screening.locator("dd").all_inner_texts(), strict=True)
    )
    assert answers == {
        "Êtes-vous disponible tout de suite ?": "OUI (23/11/2026 11:13)",
        "Horaires de nuit possibles ?": "le week-end seulement (23/11/2026 11:15)",
    }

    page.get_by_role("button", name="Mise en relation avec l'employeur").click()
    expect(page.locator("p.status")).to_contain_text("mis(e) en relation")
    assert site.row(S2_V1)["status"] == "put_forward"
    assert [(e["action"], e["user_id"]) for e in site.events(item=S2_V1)] == [("put_forward", marie.user_id)]

    page.get_by_role("link", name="Liste courte de l'offre").click()
    expect(page).to_have_url(site.url("/vacancies/V1"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Liste courte : Boulanger / Boulangère")
    assert listed_seekers(page) == ["S2"]
    candidate = page.locator("table.items tbody tr").first
    for text in ("+33639980002", "Privas", OUI_PARIS, "complètes", "le week-end seulement", "mis(e) en relation"):
        expect(candidate).to_contain_text(text)

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Exporter en CSV pour l'employeur").click()
    download = downloading.value
    assert download.suggested_filename == "liste-courte-V1.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8")), delimiter=";"))
    assert len(rows) == 1
    assert rows[0]["demandeur"] == "S2"
    assert rows[0]["commune"] == "Privas"
    assert rows[0]["a_repondu_oui_le"] == OUI_PARIS
    assert rows[0]["statut"] == "mis(e) en relation"
    assert rows[0]["available"] == "OUI"
    assert rows[0]["hours"] == "le week-end seulement"

    (export,) = site.events(action="export_shortlist")
    assert export["user_id"] == marie.user_id
    assert export["vacancy_id"] == "V1"
    assert export["details"] == {"seekers": ["S2"]}


def test_flagged_item_wrong_match_with_reason_and_note(site: Site, open_page: OpenPage) -> None:
    marie = site.accounts["marie"]
    reason = "Cherche la vente, pas le fournil"
    note = "Rappeler mardi : préfère un poste à Aubenas."
    page = in_queue(open_page("marie"), "Signalés")
    assert listed_seekers(page) == ["S3"]
    page.get_by_role("link", name="S3", exact=True).click()
    expect(page.locator("p.status")).to_contain_text("à traiter")
    expect(page.locator("p.status")).to_contain_text("réponse SMS pas claire")

    page.get_by_label("Mauvaise proposition : motif").fill(reason)
    page.get_by_role("button", name="Mauvaise proposition").click()
    expect(page.get_by_role("status")).to_have_text("Enregistré : Mauvaise proposition.")
    status = page.locator("p.status")
    expect(status).to_contain_text(f"mauvaise proposition · motif : réponse SMS pas claire · « {reason} »")
    # a closed item can be reopened, not worked
    expect(page.get_by_role("button", name="Réouverture")).to_be_visible()
    expect(page.get_by_role("button", name="Mise en relation avec l'employeur")).to_have_count(0)

    page.get_by_label("Nouvelle note (visible par l'agence, conservée)").fill(note)
    page.get_by_role("button", name="Ajouter la note").click()
    expect(page).to_have_url(site.item_url(S3_V2) + "?done=note#notes")
    (shown,) = page.locator("ul.notes li").all_inner_texts()
    assert "Marie Roux" in shown and note in shown
    assert [h.split(" · ", 1)[1] for h in history(page)] == [
        "Marie Roux · Note",
        f"Marie Roux · Mauvaise proposition : « {reason} »",
    ]

    row = site.row(S3_V2)
    assert row["status"] == "wrong_match"
    assert row["decision_reason"] == reason
    assert row["decided_at"] is not None
    assert [(e["action"], e["user_id"], e["details"]) for e in site.events(item=S3_V2)] == [
        ("wrong_match", marie.user_id, {"from_status": "open", "reason": reason}),
        ("note", marie.user_id, {"length": len(note)}),
    ]
    (kept,) = site.store.table_rows(notes)
    assert (kept["seeker_id"], kept["item_id"], kept["user_id"], kept["body"]) == ("S3", S3_V2, marie.user_id, note)

    # closed, it has left the active list
    in_queue(page, "Signalés")
    expect(page.locator("p.empty")).to_have_text("Rien à traiter ici avec ces filtres.")


# --- 3. another agency's items -------------------------------------------------------------------------------


def test_other_agency_items_seekers_and_vacancies_are_not_found(site: Site, open_page: OpenPage) -> None:
    lucas = site.accounts["lucas"]
    page = open_page("lucas")
    assert listed_seekers(page) == ["S9"]
    expect(page.locator("p.tabs")).to_contain_text("Intéressés (0)")
    for queue in ("Intéressés", "Signalés"):
        in_queue(page, queue)
        assert listed_seekers(page) == []

    for path in (
        f"/items/{quote(S2_V1, safe='')}",
        f"/items/{quote(S1_V1, safe='')}",
        "/seekers/S2/why",
        "/vacancies/V1",
        "/vacancies/V1/shortlist.csv",
    ):
        response = page.goto(site.url(path))
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Introuvable")
        expect(page.locator("main")).not_to_contain_text("S2 pour")
        if path == "/seekers/S2/why":
            screenshot(page, "cross-agency-404-1280.png")

    # nor can he act on one by posting the form himself, with his own valid CSRF token
    page.goto(site.url("/queues/to_call"))
    csrf = page.locator("form.who input[name=csrf]").input_value()
    answer = page.request.post(
        site.item_url(S2_V1) + "/actions",
        form={"csrf": csrf, "action": "wrong_match", "version": "1", "reason": "pas chez nous"},
    )
    assert answer.status == 404
    assert site.row(S2_V1)["status"] == "open" and site.row(S2_V1)["version"] == 1
    # nothing of the Ardèche agency was shown to him, so nothing was logged as seen
    assert [e for e in site.store.table_rows(audit_events) if e["user_id"] == lucas.user_id] == []


# --- 4. two counsellors on one item --------------------------------------------------------------------------


def test_two_counsellors_on_one_item_the_second_is_told_and_nothing_is_overwritten(
    site: Site, open_page: OpenPage
) -> None:
    marie_page, paul_page = open_page("marie"), open_page("paul")
    for page in (marie_page, paul_page):
        page.goto(site.item_url(S2_V1))
        expect(page.locator("p.status")).to_contain_text("à traiter")

    marie_page.get_by_role("button", name="Mise en relation avec l'employeur").click()
    expect(marie_page.locator("p.status")).to_contain_text("mis(e) en relation")

    # Paul's page is stale (version 1): he judges it a wrong match
    paul_page.get_by_label("Mauvaise proposition : motif").fill("Trop loin de Privas")
    with paul_page.expect_navigation() as posted:
        paul_page.get_by_role("button", name="Mauvaise proposition").click()
    assert posted.value is not None and posted.value.status == 409
    alert = paul_page.get_by_role("alert")
    expect(alert).to_contain_text("Votre action « Mauvaise proposition » n'a pas été enregistrée")
    expect(alert).to_contain_text("Marie Roux a enregistré « Mise en relation avec l'employeur »")
    expect(paul_page.locator("p.status")).to_contain_text("mis(e) en relation")  # the item as it now is
    expect(paul_page.locator("p.status")).not_to_contain_text("Trop loin")
    screenshot(paul_page, "conflict-1280.png")

    row = site.row(S2_V1)
    assert row["status"] == "put_forward"
    assert row["version"] == 2
    assert row["decision_reason"] is None
    assert row["assigned_to"] == site.accounts["marie"].user_id
    assert [(e["action"], e["user_id"]) for e in site.events(item=S2_V1)] == [
        ("put_forward", site.accounts["marie"].user_id)
    ]


# --- 5 and 6. layout at two widths, accessibility ------------------------------------------------------------


def tour(site: Site, open_page: OpenPage, width: int) -> Iterator[tuple[str, Page]]:
    """Each kind of page, signed in as needed, at the given width: yields (screenshot name, page)."""
    page = open_page(width=width)
    page.goto(site.url("/login"))
    yield f"login-{width}.png", page

    page = open_page("marie", width=width)
    for queue, item in (("to_call", S1_V1), ("interested", S2_V1), ("flagged", S3_V2)):
        page.goto(site.url(f"/queues/{queue}"))
        expect(page.locator("table.items")).to_be_visible()
        yield f"queue-{queue}-{width}.png", page
        page.goto(site.item_url(item))
        expect(page.get_by_role("heading", name="Actions")).to_be_visible()
        yield f"item-{queue}-{width}.png", page
    page.goto(site.url("/vacancies/V1"))
    yield f"vacancy-V1-{width}.png", page
    page.goto(site.url("/seekers/S2/why"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pourquoi ces offres")
    yield f"seeker-why-{width}.png", page

    page = open_page("sophie", width=width)
    page.get_by_role("link", name="Chiffres de l'agence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chiffres de l'agence FT-07-001")
    yield f"agency-figures-{width}.png", page


@pytest.mark.parametrize("width", [1280, 390])
def test_layout_does_not_scroll_sideways(site: Site, open_page: OpenPage, width: int) -> None:
    overflowing = {}
    written = set()
    for name, page in tour(site, open_page, width):
        assert page.evaluate("window.innerWidth") == width
        if (why := horizontal_overflow(page)) is not None:
            overflowing[name] = why
        if name.startswith("queue-"):  # the "Mes éléments" checkbox keeps its size, next to its label
            box = page.get_by_label("Mes éléments").bounding_box()
            assert box is not None and box["width"] < 40, (name, box)
        path = screenshot(page, name)
        assert path.parent == SCREENSHOTS and path.stat().st_size > 0
        written.add(path.name)
    assert overflowing == {}
    expected = {"login", "queue-to_call", "item-interested", "seeker-why", "agency-figures"}
    assert {f"{name}-{width}.png" for name in expected} <= written


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_serious_accessibility_violation(site: Site, open_page: OpenPage, width: int) -> None:
    axe = Axe()
    found = {}
    pages = 0
    for name, page in tour(site, open_page, width):
        pages += 1
        if problems := serious_violations(axe.run(page).response):
            found[name.removesuffix(".png")] = problems
    assert pages == 10
    assert found == {}, "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in found.items())


def test_keyboard_sign_in_and_visible_focus_on_item_actions(site: Site, open_page: OpenPage) -> None:
    page = open_page()
    page.goto(site.url("/login"))
    # expect() waits: Chromium applies autofocus and moves focus asynchronously, later on a loaded machine
    expect(page.locator("#username")).to_be_focused()  # autofocus
    page.keyboard.type("paul")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(review_data.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(site.url("/queues/to_call"))
    expect(page.locator("header form.who")).to_contain_text("Paul Blanc")

    page.goto(site.item_url(S1_V1))
    # first Tab: the skip link shows, and Enter on it moves focus to the content
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()

    focused: list[dict[str, str]] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        here = page.evaluate(
            """() => {
                const el = document.activeElement;
                const style = getComputedStyle(el);
                return {tag: el.tagName.toLowerCase(), text: (el.innerText || el.id || '').trim(),
                        outline: style.outlineStyle, width: style.outlineWidth};
            }"""
        )
        if here["tag"] == "body":
            break
        focused.append(here)
    buttons = [f["text"] for f in focused if f["tag"] == "button"]
    for name in (
        "Enregistrer l'appel",
        "Mise en relation avec l'employeur",
        "Pas intéressé(e)",
        "Mauvaise proposition",
        "Signalement",
        "Réattribution",
        "Ajouter la note",
    ):
        assert name in buttons, f"Tab never reached {name!r}; focus went through {buttons}"
    invisible = [f for f in focused if f["outline"] == "none" or f["width"] in ("0px", "")]
    assert invisible == [], f"focused without a visible outline: {invisible}"
