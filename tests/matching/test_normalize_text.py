"""French job-title text rules of matching.normalize, on hand-written spellings (no reference data needed)."""

from __future__ import annotations

import pytest

from matching.normalize import fold, forms, keys

# Two spellings of one title, as seekers and job ads write them: both must come to the same keys (the folded,
# stemmed gender forms that the index compares).
SAME = [
    ("Vendeur / Vendeuse", "vendeuse"),
    ("Vendeur / Vendeuse", "VENDEURS"),
    ("Vendeur/euse", "vendeuse"),  # a slash before a bare feminine ending
    ("Vendeur/se", "vendeur"),
    ("Aide-soignant(e)", "aide soignante"),
    ("Aide-soignant / Aide-soignante", "aide-soignantes"),
    ("Serveur(se)", "serveuse"),
    ("Serveur(euse)", "serveuses"),
    ("Pâtissier(ière)", "patissiere"),
    ("Technicien(ne)", "technicienne"),
    ("Cuisinier(e)", "cuisinière"),
    ("Chef / Cheffe d'équipe", "cheffe d’équipe"),  # typographic apostrophe
    ("Directeur·rice", "directrice"),  # inclusive writing with a middle dot
    ("Directeur.trice", "directeur"),
    ("Chargé·e de clientèle", "chargée de clientele"),
    ("Coiffeur-euse", "coiffeuse"),
    ("Comptable (H/F)", "comptable"),
    ("Cariste F/H", "cariste"),
    ("Cariste - H/F/X", "Caristes"),
    ("Infirmier / Infirmière", "infirmieres"),
    ("Mécanicien / Mécanicienne", "mecaniciens"),
    ("Agt d'entretien", "agent d'entretien"),
    ("Resp. de secteur", "responsable secteur"),  # stop word "de" dropped
    ("Tech. maintenance", "technicienne de maintenance"),
    ("Assist. de direction", "assistante direction"),
    ("Aux. de vie", "auxiliaire de vie"),
    ("Conducteur de travaux VRD", "conducteur de travaux voirie et réseaux divers"),
    ("Chef de chantier BTP", "chef de chantier du bâtiment et des travaux publics"),
    ("Œnologue", "oenologue"),
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_spellings_of_one_title_meet(one: str, other: str) -> None:
    assert keys(one) == keys(other), (forms(one), forms(other))


# Different titles that the rules must not merge.
APART = [
    ("Aide aux personnes âgées", "Auxiliaire personnes âgées"),  # "aux" without a dot is a word
    ("Directeur", "Direction"),
    ("Agent", "Agence"),
    ("Infirmier", "Infirmerie"),  # feminine and plural endings cut, not any final "e"
    ("Boucher", "Boucherie"),
]


@pytest.mark.parametrize(("one", "other"), APART)
def test_different_titles_stay_apart(one: str, other: str) -> None:
    assert keys(one) != keys(other)


def test_fold_and_forms_by_hand() -> None:
    assert fold("Chef d’équipe") == fold("Chef d'équipe") == "chef d equipe"
    assert fold("Opérateur(trice) de production (H/F)") == "operateur de production"
    assert fold("Chargé.e de mission") == "charge de mission"
    # the job-ad marker goes before the gender split, so it never makes a form of its own
    assert forms("Comptable H/F") == ["comptable"]
    # a bare feminine ending is dropped (the index holds both forms of its labels)
    assert forms("Vendeur/euse en boulangerie") == ["vendeur en boulangerie"]
    assert forms("Vendeur / Vendeuse en prêt-à-porter") == ["vendeur en pret a porter", "vendeuse en pret a porter"]
    assert forms("Serveur / Serveuse (H/F)") == ["serveur", "serveuse"]
    assert forms("") == []
