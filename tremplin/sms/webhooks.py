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

from fastapi import FastAPI, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from connectors.opstore import OpStore
from tremplin.clock import now as clock_now
from tremplin.errors import ConfigError
from tremplin.settings import Settings
from tremplin.sms.conversation import Inbound, handle_inbound
from tremplin.sms.dispatch import record_status_callback

STATUS_PATH = "/twilio/status"
INBOUND_PATH = "/twilio/inbound"


def create_app(settings: Settings, *, clock: Callable[[], datetime] = clock_now) -> FastAPI:
    """The webhook application alone; refuses to start without the auth token that checks signatures.

    ``clock`` stamps what arrives; the demo passes the time of the day it plays.
    """
    app = FastAPI(title="tremplin webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    add_webhooks(app, settings, OpStore(settings.opstore), clock=clock)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def add_webhooks(
    app: FastAPI, settings: Settings, store: OpStore, *, clock: Callable[[], datetime] = clock_now
) -> None:
    """Register /twilio/status and /twilio/inbound on ``app``."""
    if not settings.twilio_auth_token:
        raise ConfigError("tremplin serve needs TREMPLIN_TWILIO_AUTH_TOKEN to check X-Twilio-Signature")
    validator = RequestValidator(settings.twilio_auth_token)

    async def signed_form(request: Request) -> dict[str, str]:
        form = await request.form()
        params = {key: str(value) for key, value in form.items()}
        url = signed_url(settings, request)
        if not validator.validate(url, params, request.headers.get("X-Twilio-Signature", "")):
            raise HTTPException(status_code=403, detail="invalid X-Twilio-Signature")
        return params

    @app.post(STATUS_PATH)
    async def status(request: Request) -> Response:
        params = await signed_form(request)
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

    @app.post(INBOUND_PATH)
    async def inbound(request: Request) -> Response:
        params = await signed_form(request)
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


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the public base URL (proxy, tunnel) with the request's path and query."""
    if not settings.public_base_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_base_url.rstrip("/") + request.url.path + query
