"""The queues, one item, and what counsellors do on it (actions, notes): the counsellor's daily work."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from connectors.opstore import OpStore
from connectors.optables import QUEUES
from tremplin import clock, labels
from tremplin.review import actions, queries
from tremplin.review.accounts import Session
from tremplin.review.deps import CheckedForm, SignedIn, Store, When, current_session, page

NO_ITEM = "Aucun élément de votre agence ne porte ce numéro."

# every page here is a signed-in one, even a route that forgets to ask for the session (resolved once a request)
router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/")
async def home(_session: SignedIn) -> Response:
    return RedirectResponse("/queues/to_call", status_code=303)


@router.get("/queues/{queue}")
async def queue_view(
    request: Request,
    session: SignedIn,
    store: Store,
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


@router.get("/items/{item_id}")
async def item_view(request: Request, session: SignedIn, store: Store, item_id: str) -> Response:
    return await render_item(request, session, store, item_id)


@router.post("/items/{item_id}/actions")
async def item_action(
    request: Request,
    session: CheckedForm,
    store: Store,
    when: When,
    item_id: str,
    action: str = Form(...),
    version: int = Form(...),
    outcome: str = Form(""),
    reason: str = Form(""),
    assignee: str = Form(""),
) -> Response:
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
        return await render_item(request, session, store, item_id, message=message, status_code=409)
    except actions.ActionError as exc:
        return await render_item(request, session, store, item_id, message=str(exc), status_code=400)
    return RedirectResponse(f"/items/{quote(item_id, safe='')}?done={quote(action)}", status_code=303)


@router.post("/items/{item_id}/notes")
async def item_note(
    request: Request, session: CheckedForm, store: Store, item_id: str, body: str = Form("")
) -> Response:
    try:
        await run_in_threadpool(actions.add_note, store, session.user, item_id, body, at=clock.now())
    except actions.NotFound as exc:
        raise HTTPException(status_code=404, detail=NO_ITEM) from exc
    except actions.ActionError as exc:
        return await render_item(request, session, store, item_id, message=str(exc), status_code=400)
    return RedirectResponse(f"/items/{quote(item_id, safe='')}?done=note#notes", status_code=303)


async def render_item(
    request: Request,
    session: Session,
    store: OpStore,
    item_id: str,
    *,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    """The item's page (404 if not the agency's), its view recorded: it shows the seeker's phone number."""
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


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
