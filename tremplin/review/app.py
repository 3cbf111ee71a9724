"""The counsellor's web app: server-rendered pages on the operational store, plus the Twilio webhooks.

Every page and action reads the signed-in counsellor's agency from their session and passes it to the
queries, which filter on it in SQL: another agency's item, seeker or vacancy answers 404 like one that
does not exist. Forms carry the session's CSRF token; the session cookie is HttpOnly, SameSite=Lax, and
Secure when served over TLS (directly or behind a proxy whose public URL is https).
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.opstore import OpStore
from connectors.optables import QUEUES
from tremplin import clock, labels
from tremplin.review import accounts, actions, queries
from tremplin.review.accounts import Session
from tremplin.settings import Settings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "tremplin_session"
LOGIN_CSRF_COOKIE = "tremplin_login_csrf"
NO_ITEM = "Aucun élément de votre agence ne porte ce numéro."
NO_SHORTLIST = "Aucune offre de ce numéro n'a de candidat dans votre agence."


class SignInRequired(Exception):
    """No live session: pages redirect to the sign-in form."""


def create_app(settings: Settings, *, store: OpStore | None = None, webhooks: bool | None = None) -> FastAPI:
    """The web app. The Twilio webhooks are served too when an auth token is set (``webhooks=None``)."""
    store = store or OpStore(settings.opstore)
    app = FastAPI(title="tremplin", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(
        labels=labels,
        queues=QUEUES,
        outcomes=actions.OUTCOMES,
        transitions=actions.TRANSITIONS,
        quote=lambda value: quote(str(value), safe=""),
    )
    tz = ZoneInfo(settings.timezone)

    def when(moment: datetime | date | None) -> str:
        return _when(moment, tz)

    templates.env.filters["when"] = when
    templates.env.filters["pct"] = lambda value: "-" if value is None else f"{100 * value:.0f} %"
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    secure_default = (settings.public_base_url or "").startswith("https://")

    if webhooks is None:
        webhooks = bool(settings.twilio_auth_token)
        if not webhooks:
            log.warning("no TREMPLIN_TWILIO_AUTH_TOKEN: serving the counsellor pages without the Twilio webhooks")
    if webhooks:
        from tremplin.sms.webhooks import add_webhooks

        add_webhooks(app, settings, store)

    @app.middleware("http")
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
        if request.url.path.startswith(("/queues", "/items", "/vacancies", "/seekers", "/agency")):
            response.headers["Cache-Control"] = "no-store"  # personal data stays off shared caches
        return response

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def error_page(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/twilio/"):
            return Response(str(exc.detail), status_code=exc.status_code)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail, "session": None},
            status_code=exc.status_code,
        )

    def secure(request: Request) -> bool:
        return secure_default or request.url.scheme == "https"

    async def session_of(request: Request) -> Session:
        found = await run_in_threadpool(
            accounts.find_session, store, request.cookies.get(SESSION_COOKIE), now=clock.now()
        )
        if found is None:
            raise SignInRequired
        return found

    def check_csrf(session: Session, token: str) -> None:
        if not accounts.csrf_matches(session.csrf_token, token):
            raise HTTPException(status_code=403, detail="Formulaire expiré : rechargez la page et recommencez.")

    def page(request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(
            request, name, {"session": session, "user": session.user if session else None, **context}, status_code
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # --- sign-in ---------------------------------------------------------------------------------

    @app.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", None, next=_safe_next(next), csrf=token, error=None, username="")
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), max_age=3600
        )
        return response

    @app.post("/login")
    async def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        csrf: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        if not accounts.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf):
            raise HTTPException(status_code=403, detail="Formulaire expiré : rechargez la page de connexion.")
        user = await run_in_threadpool(accounts.authenticate, store, username, password)
        if user is None:
            response = page(
                request,
                "login.html",
                None,
                status_code=401,
                next=_safe_next(next),
                csrf=csrf,
                username=username[:120],
                error="Identifiant ou mot de passe incorrect.",
            )
            return response
        token, _session = await run_in_threadpool(accounts.open_session, store, user, now=clock.now())
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=secure(request),
            max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        session = await session_of(request)
        check_csrf(session, csrf)
        await run_in_threadpool(accounts.close_session, store, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # --- queues and items ------------------------------------------------------------------------

    @app.get("/")
    async def home(request: Request) -> Response:
        await session_of(request)
        return RedirectResponse("/queues/to_call", status_code=303)

    @app.get("/queues/{queue}")
    async def queue_view(
        request: Request,
        queue: str,
        vacancy: str = "",
        commune: str = "",
        since: str = "",
        until: str = "",
        show: str = "active",
        mine: bool = False,
        sort: str = "score",
        page_number: int = 1,
    ) -> Response:
        session = await session_of(request)
        if queue not in QUEUES:
            raise HTTPException(status_code=404, detail="Cette file n'existe pas.")
        filters = queries.QueueFilter(
            vacancy=vacancy[:200],
            commune=commune[:100],
            since=_date(since),
            until=_date(until),
            show=show if show in queries.SHOWS else "active",
            mine=mine,
            sort=sort if sort in queries.SORTS else "score",
            page=max(1, page_number),
        )
        result = await run_in_threadpool(
            queries.queue_page, store, session.user.agency_id, queue, filters, user_id=session.user.user_id
        )
        base = {k: v for k, v in request.query_params.items() if k != "page_number"}
        return page(request, "queue.html", session, queue=queue, result=result, f=filters, base=urlencode(base))

    @app.get("/items/{item_id}")
    async def item_view(request: Request, item_id: str) -> Response:
        session = await session_of(request)
        return await render_item(request, session, item_id)

    async def render_item(
        request: Request, session: Session, item_id: str, *, message: str | None = None, status_code: int = 200
    ) -> Response:
        found = await run_in_threadpool(queries.item, store, session.user.agency_id, item_id)
        if found is None:
            raise HTTPException(status_code=404, detail=NO_ITEM)
        await run_in_threadpool(
            actions.record_view,
            store,
            session.user,
            "view_contact",
            at=clock.now(),
            item_id=item_id,
            seeker_id=found["seeker_id"],
            vacancy_id=found["vacancy_id"],
        )
        team = await run_in_threadpool(queries.colleagues, store, session.user.agency_id)
        return page(request, "item.html", session, status_code, item=found, team=team, message=message)

    @app.post("/items/{item_id}/actions")
    async def item_action(
        request: Request,
        item_id: str,
        action: str = Form(...),
        version: int = Form(...),
        csrf: str = Form(""),
        outcome: str = Form(""),
        reason: str = Form(""),
        assignee: str = Form(""),
    ) -> Response:
        session = await session_of(request)
        check_csrf(session, csrf)
        try:
            await run_in_threadpool(
                actions.act,
                store,
                session.user,
                item_id,
                action,
                version=version,
                at=clock.now(),
                outcome=outcome or None,
                reason=reason,
                assignee=int(assignee) if assignee.isdigit() else None,
            )
        except actions.NotFound as exc:
            raise HTTPException(status_code=404, detail=NO_ITEM) from exc
        except actions.Conflict as exc:
            who = exc.by or "le système (nouvelle réponse du demandeur)"
            what = labels.ACTION_LABELS.get(exc.action or "", "une mise à jour")
            message = (
                f"Votre action « {labels.ACTION_LABELS.get(action, action)} » n'a pas été enregistrée : "
                f"{who} a enregistré « {what} » à {when(exc.at)} pendant que vous consultiez cette fiche. "
                "Voici la fiche à jour ; vérifiez avant de recommencer."
            )
            return await render_item(request, session, item_id, message=message, status_code=409)
        except actions.ActionError as exc:
            return await render_item(request, session, item_id, message=str(exc), status_code=400)
        return RedirectResponse(f"/items/{quote(item_id, safe='')}?done={quote(action)}", status_code=303)

    @app.post("/items/{item_id}/notes")
    async def item_note(request: Request, item_id: str, body: str = Form(""), csrf: str = Form("")) -> Response:
        session = await session_of(request)
        check_csrf(session, csrf)
        try:
            await run_in_threadpool(actions.add_note, store, session.user, item_id, body, at=clock.now())
        except actions.NotFound as exc:
            raise HTTPException(status_code=404, detail=NO_ITEM) from exc
        except actions.ActionError as exc:
            return await render_item(request, session, item_id, message=str(exc), status_code=400)
        return RedirectResponse(f"/items/{quote(item_id, safe='')}?done=note#notes", status_code=303)

    # --- per vacancy, per seeker, per agency -----------------------------------------------------

    async def shortlist_seen(session: Session, vacancy_id: str, what: str) -> dict[str, Any]:
        """The agency's short list of a vacancy (404 if none), its view recorded: it shows phone numbers."""
        found = await run_in_threadpool(
            queries.shortlist,
            store,
            session.user.agency_id,
            vacancy_id,
            per_position=settings.shortlist_per_position,
        )
        if found is None:
            raise HTTPException(status_code=404, detail=NO_SHORTLIST)
        await run_in_threadpool(
            actions.record_view,
            store,
            session.user,
            what,
            at=clock.now(),
            vacancy_id=vacancy_id,
            seekers=[c["seeker_id"] for c in found["candidates"]],
        )
        return found

    @app.get("/vacancies/{vacancy_id}")
    async def vacancy_view(request: Request, vacancy_id: str) -> Response:
        session = await session_of(request)
        found = await shortlist_seen(session, vacancy_id, "view_contact")
        return page(request, "vacancy.html", session, shortlist=found)

    @app.get("/vacancies/{vacancy_id}/shortlist.csv")
    async def vacancy_csv(request: Request, vacancy_id: str) -> Response:
        session = await session_of(request)
        found = await shortlist_seen(session, vacancy_id, "export_shortlist")
        return Response(
            shortlist_csv(found, when),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="liste-courte-{quote(vacancy_id, safe="")}.csv"',
                "Cache-Control": "no-store",
            },
        )

    @app.get("/seekers/{seeker_id}/why")
    async def seeker_why(request: Request, seeker_id: str) -> Response:
        session = await session_of(request)
        found = await run_in_threadpool(queries.seeker_record, store, session.user.agency_id, seeker_id)
        if found is None:
            raise HTTPException(status_code=404, detail="Aucun demandeur de votre agence ne porte ce numéro.")
        await run_in_threadpool(
            actions.record_view, store, session.user, "view_record", at=clock.now(), seeker_id=seeker_id
        )
        return page(request, "seeker.html", session, record=found, printed=clock.now())

    @app.get("/agency")
    async def agency_view(request: Request) -> Response:
        session = await session_of(request)
        if not session.user.is_supervisor:
            raise HTTPException(status_code=403, detail="Les chiffres de l'agence sont réservés aux responsables.")
        figures = await run_in_threadpool(queries.agency_figures, store, session.user.agency_id, now=clock.now())
        return page(request, "agency.html", session, figures=figures)

    return app


def shortlist_csv(found: dict[str, Any], when: Callable[[datetime | None], str]) -> str:
    """The short list as the employer's CSV: one line per candidate, screening answers as columns."""
    questions: list[str] = []
    for candidate in found["candidates"]:
        for answer in candidate["screening"]:
            if answer["question_key"] not in questions:
                questions.append(answer["question_key"])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        ["demandeur", "commune", "distance_km", "score", "a_repondu_oui_le", "statut", *questions, "competences"]
    )
    for candidate in found["candidates"]:
        answers = {a["question_key"]: labels.answer_text(a) for a in candidate["screening"]}
        explanation = candidate["explanation"] or {}
        writer.writerow(
            [
                candidate["seeker_id"],
                candidate["commune_name"] or "",
                explanation.get("distance_km", ""),
                f"{candidate['score']:.3f}",
                when(candidate["answered_at"]),
                labels.STATUS_LABELS.get(candidate["status"], candidate["status"]),
                *(answers.get(key, "") for key in questions),
                ", ".join(s["label"] for s in explanation.get("matched_skills", [])),
            ]
        )
    return out.getvalue()


def _safe_next(target: str) -> str:
    """Only a path on this site (never an open redirect to another host)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _when(moment: datetime | date | None, tz: ZoneInfo) -> str:
    """A day, or a moment in the service's time zone, as a counsellor reads it."""
    if moment is None:
        return "-"
    if not isinstance(moment, datetime):
        return moment.strftime("%d/%m/%Y")
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M")
