"""Settings: read from TREMPLIN_* variables, and handed to child processes (Airflow) without loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from tremplin.dev.airflow_runner import settings_env
from tremplin.errors import ConfigError
from tremplin.settings import Settings


def test_settings_survive_the_trip_through_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        home=tmp_path / "home",
        send_days=(0, 1, 2),
        screening_questions=("dispo=Disponible, dès lundi ?", "permis=Avez-vous le permis ?"),
        twilio_auth_token="secret",
        public_base_url="https://sms.example.fr",
    )
    again = Settings.from_env(settings_env(settings))
    assert again == settings
    assert again.screening == [("dispo", "Disponible, dès lundi ?"), ("permis", "Avez-vous le permis ?")]


def test_screening_questions_from_the_environment() -> None:
    env = {"TREMPLIN_SCREENING_QUESTIONS": "a=Première ?| b=Deuxième ? |"}
    assert Settings.from_env(env, data_dir=".").screening == [("a", "Première ?"), ("b", "Deuxième ?")]
    with pytest.raises(ConfigError, match="key=question"):
        Settings.from_env({"TREMPLIN_SCREENING_QUESTIONS": "no key here"}, data_dir=".")


def test_the_store_password_stays_out_of_records_but_reaches_child_processes() -> None:
    from tremplin.dev.airflow_runner import settings_env

    url = "postgresql+psycopg://tremplin:s3cret@db.example.org:5432/tremplin"
    settings = Settings.from_env({"TREMPLIN_OPSTORE_URL": url, "TREMPLIN_TWILIO_AUTH_TOKEN": "tok"}, data_dir=".")
    recorded = settings.public_dict()
    assert recorded["opstore_url"] == "postgresql+psycopg://tremplin:***@db.example.org:5432/tremplin"
    assert "twilio_auth_token" not in recorded
    env = settings_env(settings)
    assert env["TREMPLIN_OPSTORE_URL"] == url and env["TREMPLIN_TWILIO_AUTH_TOKEN"] == "tok"
    no_password = Settings.from_env({"TREMPLIN_OPSTORE_URL": "sqlite:////srv/x.sqlite"}, data_dir=".")
    assert no_password.public_dict()["opstore_url"] == "sqlite:////srv/x.sqlite"


def test_the_settings_hash_moves_with_what_shapes_results_only() -> None:
    base = Settings.from_env({}, data_dir=".")
    for name, value in (("fairness_threshold", "0.7"), ("sms_price_per_segment", "0.09"), ("home", "/elsewhere")):
        assert Settings.from_env({f"TREMPLIN_{name.upper()}": value}, data_dir=".").fingerprint() == base.fingerprint()
    assert Settings.from_env({"TREMPLIN_MIN_SCORE": "0.4"}, data_dir=".").fingerprint() != base.fingerprint()
