"""The counsellor's web pages as one FastAPI app: templates, static files, security headers, error pages, and
the routers of ``routes/``. ``tremplin.app`` adds the Twilio webhooks to it for ``tremplin serve``.

Every page and action reads the signed-in counsellor's agency from their session and passes it to the
queries, which filter on it in SQL: another agency's item, seeker or vacancy answers 404 like one that
does not exist. Forms carry the session's CSRF token; the session cookie is HttpOnly, SameSite=Lax, and
Secure when served over TLS (directly or behind a proxy whose public URL is https).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.opstore import OpStore
from connectors.optables import QUEUES
from tremplin import labels
from tremplin.review import actions
from tremplin.review.deps import SignInRequired, when_text
from tremplin.review.routes import queues, records, signin
from tremplin.settings import Settings

HERE = Path(__file__).parent
PERSONAL = ("/queues", "/items", "/vacancies", "/seekers", "/agency")  # pages that show personal data


def create_pages_app(settings: Settings, *, store: OpStore | None = None) -> FastAPI:
    """The counsellor pages alone, on ``store`` (default: the settings' operational store)."""
    app = FastAPI(title="tremplin", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store or OpStore(settings.opstore)
    app.state.templates = templates(settings)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.middleware("http")(timing_and_headers)
    app.exception_handler(SignInRequired)(to_sign_in)
    app.exception_handler(StarletteHTTPException)(error_page)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(signin.router)
    app.include_router(queues.router)
    app.include_router(records.router)
    return app


def templates(settings: Settings) -> Jinja2Templates:
    """The pages' Jinja2 templates, with the French labels and the service's time zone."""
    found = Jinja2Templates(directory=str(HERE / "templates"))
    found.env.globals.update(
        labels=labels,
        queues=QUEUES,
        outcomes=actions.OUTCOMES,
        transitions=actions.TRANSITIONS,
        quote=lambda value: quote(str(value), safe=""),
    )
    tz = ZoneInfo(settings.timezone)
    found.env.filters["when"] = lambda moment: when_text(moment, tz)
    found.env.filters["pct"] = lambda value: "-" if value is None else f"{100 * value:.0f} %"
    return found


async def timing_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    elapsed = (time.perf_counter() - start) * 1000
    response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
    if request.url.path.startswith(PERSONAL):
        response.headers["Cache-Control"] = "no-store"  # personal data stays off shared caches
    return response


async def to_sign_in(request: Request, _exc: SignInRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def error_page(request: Request, exc: StarletteHTTPException) -> Response:
    found: Jinja2Templates = request.app.state.templates
    return found.TemplateResponse(
        request,
        "error.html",
        {"status": exc.status_code, "detail": exc.detail, "session": None},
        status_code=exc.status_code,
    )
