"""The app ``tremplin serve`` runs: the counsellor pages (``tremplin.review``) and the Twilio webhooks
(``tremplin.sms.webhooks``), composed here so that neither wing imports the other."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.opstore import OpStore
from tremplin.review.app import create_pages_app, error_page
from tremplin.settings import Settings
from tremplin.sms import webhooks as sms_webhooks

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, store: OpStore | None = None, webhooks: bool | None = None) -> FastAPI:
    """The counsellor pages, and the Twilio webhooks when an auth token is set (``webhooks=None``) or asked for
    (``True``, which refuses to start without the token)."""
    store = store or OpStore(settings.opstore)
    app = create_pages_app(settings, store=store)
    app.exception_handler(StarletteHTTPException)(bare_for_webhooks)
    if webhooks is None:
        webhooks = bool(settings.twilio_auth_token)
        if not webhooks:
            log.warning("no TREMPLIN_TWILIO_AUTH_TOKEN: serving the counsellor pages without the Twilio webhooks")
    if webhooks:
        app.include_router(sms_webhooks.router(settings, store))
    return app


async def bare_for_webhooks(request: Request, exc: StarletteHTTPException) -> Response:
    """Twilio reads a webhook's status and text, not the pages' HTML error page."""
    if request.url.path.startswith(f"{sms_webhooks.PREFIX}/"):
        return Response(str(exc.detail), status_code=exc.status_code)
    return await error_page(request, exc)
