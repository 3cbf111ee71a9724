"""Settings: read from TREMPLIN_* variables, and handed to child processes (Airflow) without loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from tremplin.airflow_runner import settings_env
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
