"""Reference data: read from the directory setting; a missing or malformed file is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.reference import Reference, load_reference
from tremplin.errors import ReferenceDataError


def test_reads_rome_and_communes(reference: Reference) -> None:
    assert reference.rome.sheets.height == 1584
    assert reference.rome.version == "ROME 4.0 v60"
    paris = reference.communes.filter(reference.communes["commune"] == "75056").row(0, named=True)
    assert 48.8 < paris["latitude"] < 48.9
    assert paris["density_level"] == 1


def copy_data(data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(data_dir / "rome", target / "rome")
    shutil.copytree(data_dir / "geo", target / "geo")
    return target


def test_missing_file_is_named(data_dir: Path, tmp_path: Path) -> None:
    target = copy_data(data_dir, tmp_path)
    (target / "geo" / "insee_grille_densite_7_niveaux_2024.csv").unlink()
    with pytest.raises(ReferenceDataError, match=r"insee_grille_densite_7_niveaux_2024\.csv: file not found"):
        load_reference(target)


def test_missing_column_is_named(data_dir: Path, tmp_path: Path) -> None:
    target = copy_data(data_dir, tmp_path)
    path = target / "rome" / "unix_rubrique_mobilite_v460_utf8.csv"
    path.write_text('"code_rome","numero_ordre"\n"A1101","1"\n', encoding="utf-8")
    with pytest.raises(
        ReferenceDataError,
        match=r"unix_rubrique_mobilite_v460_utf8\.csv: missing column\(s\) "
        r"code_rome_cible",
    ):
        load_reference(target)


def test_malformed_value_is_named(data_dir: Path, tmp_path: Path) -> None:
    target = copy_data(data_dir, tmp_path)
    path = target / "geo" / "insee_grille_densite_7_niveaux_2024.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",6,", ",dense,", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=r"insee_grille_densite_7_niveaux_2024\.csv: malformed value"):
        load_reference(target)


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="reference data directory not found"):
        load_reference(tmp_path / "nowhere")
