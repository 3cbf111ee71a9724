"""Sign in and out. The sign-in form has no session yet: a cookie of its own carries its CSRF token."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tremplin import clock
from tremplin.review import accounts
from tremplin.review.deps import LOGIN_CSRF_COOKIE, SESSION_COOKIE, CheckedForm, Store, page, secure

router = APIRouter()


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, next=safe_next(next), csrf=token, error=None, username="")
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), max_age=3600
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    store: Store,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    if not accounts.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf):
        raise HTTPException(status_code=403, detail="Formulaire expiré : rechargez la page de connexion.")
    user = await run_in_threadpool(accounts.authenticate, store, username, password)
    if user is None:
        return page(
            request,
            "login.html",
            None,
            status_code=401,
            next=safe_next(next),
            csrf=csrf,
            username=username[:120],
            error="Identifiant ou mot de passe incorrect.",
        )
    token, _session = await run_in_threadpool(accounts.open_session, store, user, now=clock.now())
    response = RedirectResponse(safe_next(next), status_code=303)
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


@router.post("/logout")
async def logout(request: Request, store: Store, _session: CheckedForm) -> Response:
    await run_in_threadpool(accounts.close_session, store, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def safe_next(target: str) -> str:
    """Only a path on this site (never an open redirect to another host)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
