"""Twilio webhooks (``tremplin serve``): message status callbacks and inbound SMS.

Every request must carry a valid ``X-Twilio-Signature`` (HMAC-SHA1 of the URL Twilio called and the
sorted form fields, keyed with the auth token); one without is refused with 403 before anything is
stored. The URL Twilio signed is ``public_base_url`` + path when that setting is given (behind a proxy
or tunnel), else the URL of the request as received.

Both endpoints are idempotent on ``MessageSid``: a replayed status callback or inbound message changes
nothing (an inbound replay gets the first answer again, in case Twilio retried because it lost it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from connectors.opstore import OpStore
from tremplin.clock import now as clock_now
from tremplin.errors import ConfigError
from tremplin.settings import Settings
from tremplin.sms.conversation import Inbound, handle_inbound
from tremplin.sms.dispatch import record_status_callback

PREFIX = "/twilio"
STATUS_PATH = f"{PREFIX}/status"
INBOUND_PATH = f"{PREFIX}/inbound"


def create_app(settings: Settings, *, clock: Callable[[], datetime] = clock_now) -> FastAPI:
    """The webhook application alone; refuses to start without the auth token that checks signatures.

    ``clock`` stamps what arrives; the demo passes the time of the day it plays.
    """
    app = FastAPI(title="tremplin webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router(settings, OpStore(settings.opstore), clock=clock))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class SignedForm:
    """The dependency of every webhook: 403 unless Twilio signed the request (its URL and form fields)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.twilio_auth_token:
            raise ConfigError("tremplin serve needs TREMPLIN_TWILIO_AUTH_TOKEN to check X-Twilio-Signature")
        self.settings = settings
        self.validator = RequestValidator(settings.twilio_auth_token)

    async def __call__(self, request: Request) -> None:
        url = signed_url(self.settings, request)
        if not self.validator.validate(url, await fields(request), request.headers.get("X-Twilio-Signature", "")):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")


def router(settings: Settings, store: OpStore, *, clock: Callable[[], datetime] = clock_now) -> APIRouter:
    """/twilio/status and /twilio/inbound, for any app to include."""
    routes = APIRouter(dependencies=[Depends(SignedForm(settings))])  # every route here is signed

    @routes.post(STATUS_PATH)
    async def status(request: Request) -> Response:
        params = await fields(request)
        sid = params.get("MessageSid") or params.get("SmsSid")
        state = params.get("MessageStatus") or params.get("SmsStatus")
        if not sid or not state:
            raise HTTPException(status_code=400, detail="MessageSid and MessageStatus are required")
        code = params.get("ErrorCode")
        await run_in_threadpool(
            record_status_callback,
            store,
            sid=sid,
            status=state,
            error_code=int(code) if code and code.isdigit() else None,
            at=clock(),
        )
        return Response(status_code=204)

    @routes.post(INBOUND_PATH)
    async def inbound(request: Request) -> Response:
        params = await fields(request)
        sid, sender = params.get("MessageSid") or params.get("SmsSid"), params.get("From")
        if not sid or not sender:
            raise HTTPException(status_code=400, detail="MessageSid and From are required")
        message = Inbound(
            message_sid=sid,
            from_number=sender,
            to_number=params.get("To", ""),
            body=params.get("Body", ""),
            opt_out_type=params.get("OptOutType") or None,
        )
        answer = await run_in_threadpool(handle_inbound, store, settings, message, now=clock())
        twiml = MessagingResponse()
        if answer:
            twiml.message(answer)
        return Response(content=str(twiml), media_type="application/xml")

    return routes


async def fields(request: Request) -> dict[str, str]:
    """The request's form fields (parsed once a request: Starlette keeps the form)."""
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the public base URL (proxy, tunnel) with the request's path and query."""
    if not settings.public_base_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_base_url.rstrip("/") + request.url.path + query
