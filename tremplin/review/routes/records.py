"""Per vacancy, per seeker, per agency: a vacancy's short list and the employer's CSV, a seeker's record ("why
these offers"), and the supervisor's figures."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from connectors.opstore import OpStore
from tremplin import clock, labels
from tremplin.review import actions, queries
from tremplin.review.accounts import Session
from tremplin.review.deps import Config, SignedIn, Store, When, current_session, page
from tremplin.settings import Settings

NO_SHORTLIST = "Aucune offre de ce numéro n'a de candidat dans votre agence."

# every page here is a signed-in one, even a route that forgets to ask for the session (resolved once a request)
router = APIRouter(dependencies=[Depends(current_session)])


@router.get("/vacancies/{vacancy_id}")
async def vacancy_view(request: Request, session: SignedIn, store: Store, config: Config, vacancy_id: str) -> Response:
    found = await shortlist_seen(store, config, session, vacancy_id, "view_contact")
    return page(request, "vacancy.html", session, shortlist=found)


@router.get("/vacancies/{vacancy_id}/shortlist.csv")
async def vacancy_csv(session: SignedIn, store: Store, config: Config, when: When, vacancy_id: str) -> Response:
    found = await shortlist_seen(store, config, session, vacancy_id, "export_shortlist")
    return Response(
        shortlist_csv(found, when),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="liste-courte-{quote(vacancy_id, safe="")}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/seekers/{seeker_id}/why")
async def seeker_why(request: Request, session: SignedIn, store: Store, seeker_id: str) -> Response:
    found = await run_in_threadpool(queries.seeker_record, store, session.user.agency_id, seeker_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Aucun demandeur de votre agence ne porte ce numéro.")
    await run_in_threadpool(
        actions.record_view, store, session.user, "view_record", at=clock.now(), seeker_id=seeker_id
    )
    return page(request, "seeker.html", session, record=found, printed=clock.now())


@router.get("/agency")
async def agency_view(request: Request, session: SignedIn, store: Store) -> Response:
    if not session.user.is_supervisor:
        raise HTTPException(status_code=403, detail="Les chiffres de l'agence sont réservés aux responsables.")
    figures = await run_in_threadpool(queries.agency_figures, store, session.user.agency_id, now=clock.now())
    return page(request, "agency.html", session, figures=figures)


async def shortlist_seen(
    store: OpStore, settings: Settings, session: Session, vacancy_id: str, what: str
) -> dict[str, Any]:
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
