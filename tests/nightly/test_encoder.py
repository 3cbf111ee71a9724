"""The optional sentence encoder for titles: the packaged model for real, its cache, and where the setting goes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from connectors.reference import Reference
from tremplin.cli import app
from tremplin.errors import ConfigError
from tremplin.nightly import normalize
from tremplin.nightly.encoder import CachedEncoder, title_encoder, use_encoder
from tremplin.settings import Settings


def test_the_packaged_model_puts_a_cellist_with_musicians() -> None:
    vectors = use_encoder()(["violoncelliste", "musicien", "boulanger", "comptable"])
    assert vectors.shape == (4, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    cosines = vectors[1:] @ vectors[0]
    # "violoncelliste" shares no character bigram with "musicien": only the model can bring them together
    assert cosines[0] > cosines[1] + 0.2 and cosines[0] > cosines[2] + 0.2


def test_each_distinct_text_is_encoded_once() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts])

    cached = CachedEncoder(encode, batch=2)
    first = cached(["bb", "a", "bb", "ccc"])
    assert calls == [["a", "bb"], ["ccc"]]  # distinct texts, sorted, two at a time
    assert first.tolist() == [[2, 1], [1, 1], [2, 1], [3, 1]]  # in the order asked, repeats included
    again = cached(["ccc", "dddd"])
    assert calls[-1] == ["dddd"] and len(calls) == 3
    assert again.tolist() == [[3, 1], [4, 1]]
    assert cached([]).shape == (0, 512)


def test_title_encoder_names() -> None:
    assert title_encoder("none") is None
    assert title_encoder("use") is title_encoder("use")  # one per process: its cache outlives a night
    with pytest.raises(ValueError, match="unknown title encoder 'bert'"):
        title_encoder("bert")
    with pytest.raises(ConfigError, match="title_encoder must be one of none, use"):
        Settings.from_env({"TREMPLIN_TITLE_ENCODER": "bert"}, data_dir=".")


def test_the_pipeline_title_index_takes_the_setting(reference: Reference, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_encoder(name: str) -> object:
        asked.append(name)
        return lambda texts: np.ones((len(texts), 2))

    monkeypatch.setattr(normalize, "title_encoder", fake_encoder)
    index = normalize.title_index(
        reference, Settings.from_env({"TREMPLIN_TITLE_ENCODER": "use"}, data_dir=".").title_encoder
    )
    assert asked == ["use"]
    assert index.label_vectors is not None and index.label_vectors.shape == (len(index.texts), 2)


def test_normalize_command_with_the_encoder(tmp_path: Path) -> None:
    taxonomy, queries, out = tmp_path / "labels.tsv", tmp_path / "queries.tsv", tmp_path / "out.tsv"
    taxonomy.write_text("M\tMusicien / Musicienne\nB\tBoulanger / Boulangère\nC\tComptable\n", encoding="utf-8")
    queries.write_text("q1\tVioloncelliste\n", encoding="utf-8")
    runner = CliRunner()
    args = ["normalize", "--taxonomy", str(taxonomy), "--queries", str(queries), "--out", str(out), "--top", "3"]
    plain = runner.invoke(app, args)
    assert plain.exit_code == 0, plain.output
    # no letters in common with any label: the lexical index has no good answer
    assert "M" not in [line.split("\t")[2] for line in out.read_text().splitlines()[:1]]
    result = runner.invoke(app, [*args, "--encoder", "use"])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0].split("\t")[:3] == ["q1", "1", "M"]
    bad = runner.invoke(app, [*args, "--encoder", "bert"])
    assert bad.exit_code == 2 and "--encoder must be one of none, use" in bad.output
