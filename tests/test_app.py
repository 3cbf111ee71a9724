"""The app ``tremplin serve`` runs: counsellor pages and Twilio webhooks composed one floor up, every page behind
the session dependency, every form behind the CSRF one, and the pages importing nothing of the SMS loop."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tremplin.app import create_app
from tremplin.errors import ConfigError
from tremplin.review.deps import checked_csrf, current_session
from tremplin.settings import PROJECT_ROOT, Settings
from tremplin.sms.webhooks import INBOUND_PATH, STATUS_PATH, SignedForm

TOKEN = "fake-auth-token"
OPEN_PAGES = {"/login", "/healthz"}  # reachable before signing in; /login's form has its own cookie token
READS = {"GET", "HEAD"}


def app_with(tmp_path: Path, **settings: Any) -> FastAPI:
    return create_app(Settings.from_env({}, home=tmp_path, **settings))


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency a route resolves, sub-dependencies included."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from calls(sub)


def routes(app: FastAPI) -> list[APIRoute]:
    return [route for route in app.routes if isinstance(route, APIRoute)]


def unguarded(app: FastAPI) -> list[str]:
    """The routes that forget a guard: the session on every page but the open ones, the CSRF check on every form,
    the signature on the webhooks."""
    missing = []
    for route in routes(app):
        needs = set(calls(route.dependant))
        where = f"{sorted(route.methods)} {route.path}"
        if route.path in (STATUS_PATH, INBOUND_PATH):  # Twilio signs its requests; it has no session
            if not any(isinstance(call, SignedForm) for call in needs):
                missing.append(f"{where}: no signature check")
        elif route.path not in OPEN_PAGES:
            if current_session not in needs:
                missing.append(f"{where}: no current_session")
            if route.methods - READS and checked_csrf not in needs:
                missing.append(f"{where}: no checked_csrf")
    return missing


def test_every_page_needs_a_session_and_every_form_the_csrf_token(tmp_path: Path) -> None:
    app = app_with(tmp_path, twilio_auth_token=TOKEN)
    assert unguarded(app) == []
    guarded = [r.path for r in routes(app) if r.path not in OPEN_PAGES and not r.path.startswith("/twilio/")]
    assert len(guarded) == 10  # logout, home, queues, item, its actions and notes, vacancy, its CSV, seeker, agency
    assert len(routes(app)) == 15  # with /login twice (form and post), /healthz and the two webhooks


def test_a_route_that_forgets_them_is_seen(tmp_path: Path) -> None:
    app = app_with(tmp_path)

    @app.post("/items/{item_id}/forgotten")
    def forgotten(item_id: str) -> None:
        """A form route written without the dependencies."""

    assert unguarded(app) == [
        "['POST'] /items/{item_id}/forgotten: no current_session",
        "['POST'] /items/{item_id}/forgotten: no checked_csrf",
    ]


def test_webhooks_follow_the_auth_token_unless_asked(tmp_path: Path) -> None:
    def paths(app: FastAPI) -> set[str]:
        return {route.path for route in routes(app)}

    assert {STATUS_PATH, INBOUND_PATH} <= paths(app_with(tmp_path, twilio_auth_token=TOKEN))
    assert not {STATUS_PATH, INBOUND_PATH} & paths(app_with(tmp_path))
    assert not {STATUS_PATH, INBOUND_PATH} & paths(
        create_app(Settings.from_env({}, home=tmp_path, twilio_auth_token=TOKEN), webhooks=False)
    )
    with pytest.raises(ConfigError, match="TREMPLIN_TWILIO_AUTH_TOKEN"):
        create_app(Settings.from_env({}, home=tmp_path), webhooks=True)


def test_webhook_errors_stay_bare_text_and_page_errors_are_pages(tmp_path: Path) -> None:
    c = TestClient(app_with(tmp_path, twilio_auth_token=TOKEN))
    refused = c.post(INBOUND_PATH, data={"MessageSid": "SM1", "From": "+33639980001"})
    assert (refused.status_code, refused.text) == (403, "invalid X-Twilio-Signature")
    assert refused.headers["X-Frame-Options"] == "DENY"  # the pages' middleware covers the webhooks too
    missing = c.get("/nowhere")
    assert missing.status_code == 404 and "<html" in missing.text


def test_the_pages_import_nothing_of_the_sms_loop() -> None:
    review = PROJECT_ROOT / "tremplin" / "review"
    found = []
    for path in sorted(review.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.relative_to(review)}: {n}" for n in names if n.startswith("tremplin.sms")]
    assert found == []
