"""The counsellor pages and the employer's CSV show French labels where the store keeps codes."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import seekers, vacancies
from tests.review.test_review_app import client, item_url, sign_in
from tests.support import review_data as rd

RAW_CODES = re.compile(r"\b(?:MIS|DIN|TTI|DDI|DDT|REP|CCE|SAI|LIB|FRA|full_time|part_time|any|suppressed)\b")


@pytest.fixture
def store(opstore_url: str) -> OpStore:
    """The pages' store, with contract types a counsellor would otherwise read as codes."""
    store = OpStore(opstore_url)
    rd.build(store)
    with store.begin() as conn:
        conn.execute(sa.update(vacancies).where(vacancies.c.vacancy_id == "V1").values(contract_type="DIN"))
        conn.execute(
            sa.update(vacancies).where(vacancies.c.vacancy_id == "V2").values(contract_type="MIS", working_time=None)
        )
        for seeker_id in ("S1", "S2"):
            profile = conn.execute(sa.select(seekers.c.profile).where(seekers.c.seeker_id == seeker_id)).scalar_one()
            changed = {**profile, "contract_types": ["CDD", "MIS", "TTI"], "working_time": "any"}
            if seeker_id == "S1":
                changed |= {"channel": "suppressed", "route_reason": "queue_item_open"}
            conn.execute(sa.update(seekers).where(seekers.c.seeker_id == seeker_id).values(profile=changed))
    return store


def shown(page: str) -> str:
    """The page as read: without the values of form fields (a random CSRF token may hold any letters)."""
    return re.sub(r'value="[^"]*"', 'value=""', page)


def test_an_item_page_names_the_contracts_and_working_time_in_french(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    page = c.get(item_url(rd.item_id("S1", "V1")))
    assert page.status_code == 200
    assert "CDI intérimaire · temps plein" in page.text  # the offer
    assert "CDD, intérim, intérim d&#39;insertion · indifférent" in page.text  # what the seeker accepts
    assert "aucun envoi (déjà suivi(e) par un conseiller)" in page.text
    assert RAW_CODES.findall(shown(page.text)) == []


def test_the_vacancy_page_and_the_seeker_record_show_no_contract_code(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    for url, label in [("/vacancies/V1", "CDI intérimaire"), ("/vacancies/V2", "intérim"), ("/seekers/S2/why", "")]:
        page = c.get(url)
        assert page.status_code == 200, url
        assert label in page.text, url
        assert RAW_CODES.findall(shown(page.text)) == [], url
    record = c.get("/seekers/S2/why").text
    assert "CDD, intérim, intérim d&#39;insertion" in record and "indifférent" in record


def test_the_shortlist_csv_gives_statuses_and_answers_in_words(store, tmp_path):
    c = client(store, tmp_path)
    sign_in(c, "marie")
    rows = list(csv.DictReader(io.StringIO(c.get("/vacancies/V1/shortlist.csv").text), delimiter=";"))
    assert [(r["demandeur"], r["statut"], r["available"]) for r in rows] == [("S2", "à traiter", "OUI")]
