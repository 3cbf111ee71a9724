"""What the page routes depend on (FastAPI ``Depends``): the store, the settings, the signed-in session and the
form's CSRF check, plus rendering a page.

A route gets its session by declaring ``session: SignedIn``, and a form route by declaring ``session: CheckedForm``
(which resolves the session first, then compares the form's ``csrf`` field): a route cannot read the counsellor's
agency without having checked the session. tests/test_app.py checks that every page route declares them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from connectors.opstore import OpStore
from tremplin import clock
from tremplin.review import accounts
from tremplin.review.accounts import Session
from tremplin.settings import Settings

SESSION_COOKIE = "tremplin_session"
LOGIN_CSRF_COOKIE = "tremplin_login_csrf"


class SignInRequired(Exception):
    """No live session: pages redirect to the sign-in form."""


def opstore(request: Request) -> OpStore:
    """The operational store the app was built on (``app.state.store``)."""
    store: OpStore = request.app.state.store
    return store


def settings(request: Request) -> Settings:
    """The settings the app was built with (``app.state.settings``)."""
    found: Settings = request.app.state.settings
    return found


Store = Annotated[OpStore, Depends(opstore)]
Config = Annotated[Settings, Depends(settings)]


async def current_session(request: Request, store: Store) -> Session:
    """The signed-in counsellor's session; :class:`SignInRequired` (a redirect to /login) when there is none."""
    found = await run_in_threadpool(accounts.find_session, store, request.cookies.get(SESSION_COOKIE), now=clock.now())
    if found is None:
        raise SignInRequired
    return found


SignedIn = Annotated[Session, Depends(current_session)]


def checked_csrf(session: SignedIn, csrf: str = Form("")) -> Session:
    """The session, once the form's ``csrf`` field matches its token (403 otherwise)."""
    if not accounts.csrf_matches(session.csrf_token, csrf):
        raise HTTPException(status_code=403, detail="Formulaire expiré : rechargez la page et recommencez.")
    return session


CheckedForm = Annotated[Session, Depends(checked_csrf)]


def secure(request: Request) -> bool:
    """Whether cookies get the Secure flag: served over TLS, directly or behind an https public URL."""
    public: Settings = request.app.state.settings
    return (public.public_base_url or "").startswith("https://") or request.url.scheme == "https"


def page(request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any) -> Response:
    """A template rendered with the session and its user (``None`` before sign-in)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, name, {"session": session, "user": session.user if session else None, **context}, status_code
    )


def when_text(moment: datetime | date | None, tz: ZoneInfo) -> str:
    """A day, or a moment in the service's time zone, as a counsellor reads it."""
    if moment is None:
        return "-"
    if not isinstance(moment, datetime):
        return moment.strftime("%d/%m/%Y")
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def when_in_service_zone(config: Config) -> Callable[[datetime | date | None], str]:
    """:func:`when_text` in the service's time zone, as the templates' ``when`` filter writes it."""
    return partial(when_text, tz=ZoneInfo(config.timezone))


When = Annotated[Callable[[datetime | date | None], str], Depends(when_in_service_zone)]
