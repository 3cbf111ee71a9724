"""The one module of French labels covers every code a seeker, a counsellor or an ops reader can meet."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from connectors.optables import ITEM_STATUSES, QUEUES
from connectors.reference import Reference
from matching import columns as c
from matching.offers import NO_OFFER_LEFT
from matching.route import default_rules
from tremplin import labels
from tremplin.dev import generate
from tremplin.nightly.validate import validate_vacancies
from tremplin.review import actions
from tremplin.sms.text import encoding, render_offer

# French readers say "CDI" and "CDD"; every other France Travail code has words
ACRONYMS_READ_AS_SUCH = {"CDI", "CDD"}


def accepted_contract_codes(reference: Reference) -> set[str]:
    """The contract codes the input validation lets through (and a made-up one it must refuse)."""
    candidates = [*c.CONTRACT_CODES, "XYZ"]
    raw = pl.DataFrame(
        {
            "_line": list(range(2, 2 + len(candidates))),
            "vacancy_id": [f"V{n}" for n in range(len(candidates))],
            "title": "Boulanger",
            "rome_code": "D1102",
            "commune": "07010",
            "contract_type": candidates,
            "working_time": "full_time",
            "updated_at": "2026-11-01T10:00:00Z",
        }
    )
    checked = validate_vacancies(
        raw, file="v.csv", communes=reference.communes, rome_codes=reference.rome.sheets["rome_code"]
    )
    assert checked.quarantine["field"].to_list() == ["contract_type"]  # XYZ, and only XYZ
    return set(checked.good["contract_type"])


def test_every_contract_code_the_validation_accepts_reads_in_french_in_an_sms(reference: Reference) -> None:
    accepted = accepted_contract_codes(reference)
    assert accepted == set(c.CONTRACT_CODES)
    for code in sorted(accepted):
        label = labels.contract_label(code)
        assert label and (label != code or code in ACRONYMS_READ_AS_SUCH), code
        body = render_offer(
            title="Boulanger",
            commune="Aubenas",
            distance_km=12.0,
            contract=label,
            hours=labels.working_time_label(c.FULL_TIME),
            matched_skills=3,
            sender="France Travail",
        )
        # in GSM-7 as written: the SMS does not lose an accent, nor switch to UCS-2 (70 characters a part)
        assert encoding(label) == "GSM-7" and f", {label} temps plein." in body, (code, body)


def test_contract_labels_say_what_a_counsellor_or_seeker_calls_them() -> None:
    # hand-written: how France Travail's contract types are said in French
    assert {code: labels.contract_label(code) for code in ("MIS", "SAI", "DIN", "DDI", "TTI", "DDT", "REP")} == {
        "MIS": "intérim",
        "SAI": "saisonnier",
        "DIN": "CDI intérimaire",
        "DDI": "CDD d'insertion",
        "TTI": "intérim d'insertion",
        "DDT": "CDD tremplin",
        "REP": "reprise d'entreprise",
    }
    assert labels.contract_list(["CDI", "MIS", "TTI"]) == "CDI, intérim, intérim d'insertion"
    assert labels.contract_list([]) == "" and labels.contract_label(None) == ""
    assert labels.contract_label("ZZZ") == "ZZZ"  # an unknown code shows as itself: seen, not hidden


def test_the_contract_codes_of_the_inputs_are_all_labelled(data_dir: Path) -> None:
    offered = set()
    for path in sorted((data_dir / "offers").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                offered.add(json.loads(line)["typeContrat"])
    generated = {code for code, _ in generate.VACANCY_CONTRACT}
    generated |= {code for codes, _ in generate.CONTRACT_CHOICES for code in codes}
    assert offered and generated
    assert offered | generated <= set(labels.CONTRACT_LABELS)


def test_working_times_and_channels() -> None:
    assert {code: labels.working_time_label(code) for code in c.WORKING_TIMES} == {
        "full_time": "temps plein",
        "part_time": "temps partiel",
        "any": "indifférent",
    }
    assert labels.working_time_label(None) == ""  # a vacancy without one: "CDI ." must not follow
    rules = default_rules()
    assert {rule.channel for rule in rules} == set(labels.CHANNEL_LABELS)
    assert [labels.channel_label(code) for code in ("sms", "counsellor", "suppressed", None)] == [
        "SMS",
        "conseiller",
        "aucun envoi",
        "-",
    ]


def test_every_reason_a_seeker_can_be_routed_or_queued_for_has_a_label() -> None:
    route_reasons = {rule.reason for rule in default_rules()} | {NO_OFFER_LEFT}
    # why an SMS offer moves to a counsellor's queue (tremplin.sms.conversation and dispatch)
    queue_reasons = {"unclear_reply", "replied_oui", "screened", "sms_retries_exhausted"}
    assert route_reasons | queue_reasons == set(labels.REASON_LABELS)
    assert labels.reason_label("rural_low_digital") == "commune rurale, peu d'usage du numérique"
    assert labels.reason_label("sms_error_21614") == "SMS refusé par l'opérateur (erreur 21614)"
    assert labels.reason_label(None) == "-"


@pytest.mark.parametrize(
    ("codes", "mapping"),
    [
        (QUEUES, labels.QUEUE_LABELS),
        (ITEM_STATUSES, labels.STATUS_LABELS),
        ((*actions.TRANSITIONS, *actions.VIEWS, "note"), labels.ACTION_LABELS),
        (actions.OUTCOMES, labels.OUTCOME_LABELS),
        (("same_sheet", "mobility", "other"), labels.RELATION_LABELS),
    ],
)
def test_the_counsellor_vocabularies_are_labelled_and_nothing_else(codes, mapping) -> None:
    assert set(codes) == set(mapping)
    assert all(text and text != code for code, text in mapping.items())


def test_a_screening_answer_reads_as_the_seeker_meant_it() -> None:
    assert labels.answer_text({"answer": "oui", "answer_yes_no": True}) == "OUI"
    assert labels.answer_text({"answer": "non merci", "answer_yes_no": False}) == "NON"
    assert labels.answer_text({"answer": "le week-end seulement", "answer_yes_no": None}) == "le week-end seulement"
    assert labels.answer_text({"answer": None, "answer_yes_no": None}) == ""


def test_the_labels_module_imports_nothing_of_the_project_but_column_names() -> None:
    source = Path(labels.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    project = [line for line in imports if line.split()[1].split(".")[0] in ("tremplin", "connectors", "matching")]
    assert project == ["from matching import columns as c"]
