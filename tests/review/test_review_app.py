"""The counsellor pages over HTTP (FastAPI's test client on the real app and a real SQLite store): sign-in,
cookies, CSRF, agency scoping by id and by URL, actions and their conflicts, short list, the seeker's
record and the supervisor's figures."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from connectors.opstore import OpStore
from connectors.optables import audit_events, counsellor_queue, notes
from tests.support import review_data as rd
from tremplin.app import create_app
from tremplin.settings import Settings

ARDECHE_ITEMS = [rd.item_id("S1", "V1"), rd.item_id("S2", "V1"), rd.item_id("S3", "V2"), rd.item_id("S4", "V2")]


@pytest.fixture
def store(opstore_url: str) -> OpStore:
    store = OpStore(opstore_url)
    rd.build(store)
    return store


def client(store: OpStore, tmp_path, **settings: str) -> TestClient:
    app = create_app(Settings.from_env({}, home=tmp_path, opstore_url=store.url, **settings), store=store)
    return TestClient(app)


def sign_in(c: TestClient, username: str, password: str = rd.PASSWORD, *, next: str = "/") -> str:
    """Sign in; returns the session's CSRF token (read from a page, as a browser would)."""
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    answer = c.post(
        "/login",
        data={"username": username, "password": password, "csrf": token.group(1), "next": next},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = c.get("/queues/to_call")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def listed(page: str) -> list[str]:
    """The seekers a queue or short list page links to (ids alone could hide in a random CSRF token)."""
    return re.findall(r'<a href="/items/[^"]+">(S\d+)</a>', page)


def item_url(item_id: str) -> str:
    return f"/items/{quote(item_id, safe='')}"


def version_on(page: str) -> int:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found
    return int(found.group(1))


def test_pages_need_a_session(store, tmp_path):
    c = client(store, tmp_path)
    for url in ["/queues/to_call", item_url(ARDECHE_ITEMS[0]), "/vacancies/V1", "/seekers/S2/why", "/agency"]:
        answer = c.get(url, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), url
    post = c.post(
        f"{item_url(ARDECHE_ITEMS[0])}/actions", data={"action": "hired", "version": 1}, follow_redirects=False
    )
    assert post.status_code == 303
    assert {r["status"] for r in store.table_rows(counsellor_queue)} == {"open"}


def test_sign_in_rejects_a_wrong_password_and_sets_a_hardened_cookie(store, tmp_path):
    c = client(store, tmp_path)
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = c.post("/login", data={"username": "marie", "password": "pas le bon mot", "csrf": token})
    assert wrong.status_code == 401 and "incorrect" in wrong.text
    assert 'name="username" autocomplete="username" value="marie"' in wrong.text  # no typing it again
    nobody = c.post("/login", data={"username": "personne", "password": rd.PASSWORD, "csrf": token})
    assert nobody.status_code == 401
    right = c.post("/login", data={"username": "Marie", "password": rd.PASSWORD, "csrf": token}, follow_redirects=False)
    assert right.status_code == 303
    cookie = next(h for h in right.headers.get_list("set-cookie") if h.startswith("tremplin_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http in tests


def test_the_cookies_are_secure_over_tls(store, tmp_path):
    c = client(store, tmp_path)
    c.base_url = c.base_url.copy_with(scheme="https")  # served over TLS directly
    form = c.get("/login")
    assert "Secure" in form.headers["set-cookie"]  # the sign-in form's CSRF cookie
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    right = c.post("/login", data={"username": "marie", "password": rd.PASSWORD, "csrf": token}, follow_redirects=False)
    cookie = next(h for h in right.headers.get_list("set-cookie") if h.startswith("tremplin_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_the_cookies_are_secure_behind_a_tls_proxy(store, tmp_path):
    c = client(store, tmp_path, public_base_url="https://tremplin.example.fr")  # the proxy speaks http to us
    assert "Secure" in c.get("/login").headers["set-cookie"]


def test_sign_in_needs_the_form_token_and_never_redirects_off_site(store, tmp_path):
    c = client(store, tmp_path)
    forged = c.post("/login", data={"username": "marie", "password": rd.PASSWORD, "csrf": "forged"})
    assert forged.status_code == 403
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    answer = c.post(
        "/login",
        data={"username": "marie", "password": rd.PASSWORD, "csrf": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_another_agency_gets_404_by_id_and_by_url(store, tmp_path):
    c = client(store, tmp_path)
    csrf = sign_in(c, "lucas")
    queue = c.get("/queues/to_call")
    assert listed(queue.text) == ["S9"]
    for item in ARDECHE_ITEMS:
        assert c.get(item_url(item)).status_code == 404
        post = c.post(
            f"{item_url(item)}/actions", data={"action": "wrong_match", "version": 1, "csrf": csrf, "reason": "x"}
        )
        assert post.status_code == 404
        assert c.post(f"{item_url(item)}/notes", data={"body": "vu", "csrf": csrf}).status_code == 404
    for url in ["/seekers/S2/why", "/vacancies/V1", "/vacancies/V1/shortlist.csv", "/vacancies/V2"]:
        answer = c.get(url)
        assert answer.status_code == 404 and "Introuvable" in answer.text, url
    ardeche = [r for r in store.table_rows(counsellor_queue) if r["agency_id"] == rd.ARDECHE]
    assert {(r["status"], r["version"]) for r in ardeche} == {("open", 1)}
    assert store.count(notes) == 0
    assert all(e["agency_id"] == rd.LYON for e in store.table_rows(audit_events))


def test_a_post_without_the_session_token_is_refused(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    other = client(store, tmp_path)
    other_token = sign_in(other, "paul")
    url = f"{item_url(ARDECHE_ITEMS[0])}/actions"
    for token in ["", "bogus", other_token]:
        answer = c.post(url, data={"action": "contacted", "outcome": "reached", "version": 1, "csrf": token})
        assert answer.status_code == 403
    assert c.post(f"{item_url(ARDECHE_ITEMS[0])}/notes", data={"body": "x", "csrf": "bogus"}).status_code == 403
    assert {r["status"] for r in store.table_rows(counsellor_queue)} == {"open"}


def test_working_an_item_records_each_step_and_shows_it(store, tmp_path):
    c = client(store, tmp_path)
    csrf = sign_in(c, "marie")
    url = item_url(rd.item_id("S1", "V1"))
    page = c.get(url)
    assert "pas de mobile" in page.text and "Pétrir la pâte" in page.text and "pas de téléphone mobile" in page.text
    done = c.post(
        f"{url}/actions",
        data={"action": "contacted", "outcome": "reached", "version": version_on(page.text), "csrf": csrf},
    )
    assert done.status_code == 200 and "Enregistré" in done.text  # followed the redirect
    page = c.get(url)
    c.post(f"{url}/actions", data={"action": "put_forward", "version": version_on(page.text), "csrf": csrf})
    c.post(f"{url}/notes", data={"body": "Envoyé le CV à la boulangerie", "csrf": csrf})
    page = c.get(url)
    assert "mis(e) en relation" in page.text and "Envoyé le CV à la boulangerie" in page.text
    assert "Mise en relation avec l&#39;employeur" in page.text  # in the history
    row = next(r for r in store.table_rows(counsellor_queue) if r["item_id"] == rd.item_id("S1", "V1"))
    assert row["status"] == "put_forward"
    actions_done = [e["action"] for e in store.table_rows(audit_events) if e["action"] != "view_contact"]
    assert actions_done == ["contacted", "put_forward", "note"]
    views = [e for e in store.table_rows(audit_events) if e["action"] == "view_contact"]
    # three pages asked for, and three more after each form's redirect: every view of the phone number
    assert len(views) == 6 and {v["seeker_id"] for v in views} == {"S1"}


def test_the_second_counsellor_sees_who_acted_and_nothing_is_overwritten(store, tmp_path):
    marie, paul = client(store, tmp_path), client(store, tmp_path)
    marie_csrf, paul_csrf = sign_in(marie, "marie"), sign_in(paul, "paul")
    url = item_url(rd.item_id("S2", "V1"))
    seen_by_marie, seen_by_paul = version_on(marie.get(url).text), version_on(paul.get(url).text)
    marie.post(f"{url}/actions", data={"action": "put_forward", "version": seen_by_marie, "csrf": marie_csrf})
    late = paul.post(
        f"{url}/actions",
        data={"action": "wrong_match", "reason": "trop loin", "version": seen_by_paul, "csrf": paul_csrf},
    )
    assert late.status_code == 409
    assert "Marie Roux" in late.text and "n&#39;a pas été enregistrée" in late.text
    row = next(r for r in store.table_rows(counsellor_queue) if r["item_id"] == rd.item_id("S2", "V1"))
    assert (row["status"], row["decision_reason"]) == ("put_forward", None)


def test_interested_queue_shows_the_answers_and_when_the_seeker_said_yes(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    queue = c.get("/queues/interested")
    assert "S2" in queue.text and "23/11/2026 11:12" in queue.text  # 10:12 UTC is 11:12 in Paris
    page = c.get(item_url(rd.item_id("S2", "V1")))
    assert "Êtes-vous disponible tout de suite ?" in page.text and "le week-end seulement" in page.text
    assert "OUI" in page.text


def test_filters_and_sorting(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    by_commune = c.get("/queues/to_call", params={"commune": "annon"})
    assert listed(by_commune.text) == ["S4"]
    by_vacancy = c.get("/queues/to_call", params={"vacancy": "vendeur"})
    assert listed(by_vacancy.text) == ["S4"]
    by_id = c.get("/queues/to_call", params={"vacancy": "V1"})
    assert listed(by_id.text) == ["S1"]
    later = c.get("/queues/to_call", params={"since": "2026-11-24"})
    assert listed(later.text) == [] and "Rien à traiter" in later.text
    assert listed(c.get("/queues/to_call").text) == ["S1", "S4"]  # by score: 0.71 before 0.55
    assert listed(c.get("/queues/to_call", params={"sort": "commune"}).text) == ["S4", "S1"]  # Annonay, Aubenas
    assert c.get("/queues/nowhere").status_code == 404


def test_short_list_page_and_csv_for_the_employer(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    page = c.get("/vacancies/V1")
    assert page.status_code == 200 and listed(page.text) == ["S2"]  # S1 never said OUI
    export = c.get("/vacancies/V1/shortlist.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text), delimiter=";"))
    assert [(r["demandeur"], r["commune"], r["available"], r["hours"]) for r in rows] == [
        ("S2", "Privas", "OUI", "le week-end seulement")
    ]
    exported = [e for e in store.table_rows(audit_events) if e["action"] == "export_shortlist"]
    assert len(exported) == 1 and exported[0]["details"]["seekers"] == ["S2"]


def test_the_seeker_record_says_which_data_and_weights_were_used(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    page = c.get("/seekers/S2/why")
    assert page.status_code == 200
    for expected in ["Boulangerie - viennoiserie", "0.5 × compétences", "0.3 × métier", "0.2 × distance", "30 km"]:
        assert expected in page.text, expected
    assert "L311-3-1" in page.text and "jamais au calcul" in page.text
    # the SMS offer of V1 that the seeker answered (and that became an "interested" item) is listed once
    assert page.text.count("(V1)") == 1 and '<td data-label="Canal">SMS</td>' in page.text
    assert [e["action"] for e in store.table_rows(audit_events)] == ["view_record"]


def test_only_a_supervisor_sees_the_agency_figures(store, tmp_path):
    c = client(store, tmp_path)
    csrf = sign_in(c, "marie")
    url = item_url(rd.item_id("S1", "V1"))
    c.post(
        f"{url}/actions", data={"action": "wrong_match", "reason": "métier sans rapport", "version": 1, "csrf": csrf}
    )
    assert c.get("/agency").status_code == 403
    boss = client(store, tmp_path)
    sign_in(boss, "sophie")
    page = boss.get("/agency")
    assert page.status_code == 200
    assert "Marie Roux" in page.text and "1 décisions, dont 1" in page.text and "100 %" in page.text


def test_sign_out_ends_the_session(store, tmp_path):
    c = client(store, tmp_path)
    csrf = sign_in(c, "marie")
    assert c.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert c.get("/queues/to_call", follow_redirects=False).status_code == 303
