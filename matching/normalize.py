"""Free text to taxonomy concepts: any table of (concept id, label), ROME 4.0 by default.

Labels and queries are folded (lower case, no accents, any other sign a space, abbreviations such as
"resp." expanded, job-ad markers "H/F" and inclusive endings "(e)", "·rice", "/euse" dropped) and gender
forms split: "Vendeur / Vendeuse en prêt-à-porter" gives "vendeur en pret a porter" and "vendeuse en pret a
porter". Candidate labels come from two sparse top-n products: TF-IDF over character 2- to 4-grams (forgives
typos and inflections; on big taxonomies the n-grams of over 10 % of the labels are left out, which keeps
the product sparse) and TF-IDF over stemmed words (French plural and feminine endings cut, small words
dropped), where a query word unknown to the labels is first read as the nearest known word (one typo). A
label scores its character cosine plus shares of rapidfuzz's token-set ratio and of a same-first-word flag.
A concept then gathers its evidence: its best label, a share of its third best and of how many of its
labels came up (ROME sheets hold several close titles), the cosine against all its labels as one document,
the idf-weighted share of the query's words found in some label of it (a synonym borrows its words from
several titles of its sheet), optional descriptions, an optional sentence encoder's cosine (an ``embed``
function handed to ``build``: it also brings its own candidates, for titles that share no letters with their
concept's labels), and a large bonus for a label with the query's very stems. The weights were tuned on
held-out ROME synonym titles, on parts of the split distinct from the one the quality figures are reported
on (``tremplin.bench.normalize_quality``).

>>> labels = pl.DataFrame({"concept_id": ["D1106", "D1214"],
...                        "label": ["Vendeur / Vendeuse en boulangerie", "Vendeur / Vendeuse en prêt-à-porter"]})
>>> index = TaxonomyIndex.build(labels)
>>> index.search(pl.DataFrame({"query_id": ["q"], "text": ["vendeuse boulangerie"]}), k=1)["concept_id"].to_list()
['D1106']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import polars as pl
import scipy.sparse as sp
from rapidfuzz import fuzz
from rapidfuzz.process import cdist, cpdist
from sklearn.feature_extraction.text import TfidfVectorizer
from sparse_dot_topn import sp_matmul_topn

CONCEPT_ID, LABEL, QUERY_ID, TEXT, RANK, SCORE = "concept_id", "label", "query_id", "text", "rank", "score"
RESULT_SCHEMA = {QUERY_ID: pl.String, RANK: pl.Int32, CONCEPT_ID: pl.String, SCORE: pl.Float64}
# texts to one row vector each (a sentence encoder); rows are l2-normalized by the index
Embed: TypeAlias = Callable[[list[str]], np.ndarray]


# Short forms seen in job ads and profiles; a dot is optional unless the bare form is a French word.
_ABBREVIATIONS = {
    "resp": "responsable",
    "respo": "responsable",
    "assist": "assistant",
    "asst": "assistant",
    "tech": "technicien",
    "techn": "technicien",
    "dir": "directeur",
    "adj": "adjoint",
    "cde": "commande",
    "agt": "agent",
    "aux.": "auxiliaire",
    "comm": "commercial",
    "cial": "commercial",
    "ing": "ingenieur",
    "ingé": "ingenieur",
    "secr": "secretaire",
    "compta": "comptable",
    "admin": "administratif",
    "adm": "administratif",
    "prep": "preparateur",
    "prépa": "preparateur",
    "cond": "conducteur",
    "op": "operateur",
    "opé": "operateur",
    "manut": "manutentionnaire",
    "mag": "magasinier",
    "maint": "maintenance",
    "serv": "service",
    "dev": "developpeur",
    "dév": "developpeur",
    "pl": "poids lourd",
    "spl": "super poids lourd",
    "vl": "vehicule leger",
    "rh": "ressources humaines",
    "drh": "directeur des ressources humaines",
    "rrh": "responsable des ressources humaines",
    "daf": "directeur administratif et financier",
    "ash": "agent de service hospitalier",
    "as": "aide soignant",
    "ide": "infirmier diplome d etat",
    "avs": "auxiliaire de vie sociale",
    "aes": "accompagnant educatif et social",
    "asv": "auxiliaire specialise veterinaire",
    "btp": "batiment travaux publics",
    "vrd": "voirie et reseaux divers",
    "h/f": "",
    "f/h": "",
    "cdi": "",
    "cdd": "",
}
_ABBREVIATION = re.compile(
    r"(?<![\w/])("
    + "|".join(re.escape(s) + ("" if s.endswith(".") or "/" in s else r"\.?") for s in _ABBREVIATIONS)
    + r")(?![\w/])"
)
# Inclusive and short feminine spellings, dropped so that the masculine form is left (the index holds both
# forms of its labels): "Serveur(se)", "Pâtissier(ière)", "Directeur·rice", "Chargé.e", "Coiffeur-euse",
# "Vendeur/euse". Only right after a letter, and a dotted or dashed ending only before a non-letter.
_FEMININE = "e|es|se|ne|nne|ère|ere|ière|iere|euse|rice|trice|ienne|enne|ve|fe|ffe"
_INCLUSIVE = re.compile(
    rf"(?<=[^\W\d_])(?:\((?:{_FEMININE}|s|le|te|ive)\)|[·•.\-/](?:{_FEMININE})(?![^\W\d_]))", re.IGNORECASE
)
# Job-ad markers: "H/F", "(F/H)", "H/F/X"; removed before "/" splits gender forms.
_JOB_AD = re.compile(r"\(?\b[hf]\s*/\s*[hf](?:\s*/\s*[xn])?\b\)?", re.IGNORECASE)
_COMBINING = re.compile(r"[\u0300-\u036f]+")
_SPLIT = re.compile(r"\s*/\s*")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "d",
        "de",
        "des",
        "du",
        "en",
        "et",
        "l",
        "la",
        "le",
        "les",
        "ou",
        "par",
        "pour",
        "sur",
        "un",
        "une",
        "dans",
        "avec",
        "chez",
        "sans",
        "h",
        "f",
    ]
)
# Feminine to masculine endings, longest first; applied after the plural s/x is cut.
_ENDINGS = (
    ("trice", "teur"),
    ("euse", "eur"),
    ("iere", "ier"),
    ("enne", "en"),
    ("effe", "ef"),
    ("ere", "er"),
    ("ive", "if"),
)


def _expand(match: re.Match[str]) -> str:
    short = match.group(1)
    return _ABBREVIATIONS.get(short) or _ABBREVIATIONS[short.rstrip(".")]


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, common abbreviations expanded.

    >>> fold("Chargé(e) d'Accueil - H/F")
    'charge d accueil'
    >>> fold("Resp. magasin / Assist. RH")
    'responsable magasin assistant ressources humaines'
    """
    lowered = _JOB_AD.sub(" ", _INCLUSIVE.sub("", text.lower().replace("œ", "oe").replace("æ", "ae")))
    lowered = _ABBREVIATION.sub(_expand, lowered)
    # accents off; any other non-ASCII sign (’ « · –) parts words rather than gluing them
    plain = _COMBINING.sub("", unicodedata.normalize("NFKD", lowered))
    return _NON_WORD.sub(" ", plain).strip()


def stem(word: str) -> str:
    """A light French stem: plural and feminine endings cut, so that gender and number forms meet.

    >>> [stem(w) for w in ["vendeuses", "directrice", "boulangere", "agente", "chargees", "travaux"]]
    ['vendeur', 'directeur', 'boulanger', 'agent', 'charg', 'travau']
    """
    if len(word) > 3 and word[-1] in "sx":
        word = word[:-1]
    for feminine, masculine in _ENDINGS:
        if len(word) > len(feminine) + 1 and word.endswith(feminine):
            return word[: -len(feminine)] + masculine
    while len(word) > 3 and word[-1] == "e":
        word = word[:-1]
    return word


def stemmed(folded: str) -> str:
    """Stems of the words of a folded text, small words dropped."""
    return " ".join(stem(w) for w in folded.split() if w not in _STOPWORDS)


def prefixes(folded: str) -> list[str]:
    """Words cut to their first six letters, small words dropped: "orthodontie" and "orthodontiste" meet.

    >>> prefixes("le dentiste traite l orthodontie")
    ['dentis', 'traite', 'orthod']
    """
    return [w[:6] for w in folded.split() if len(w) > 2 and w not in _STOPWORDS]


def gender_forms(label: str) -> list[str]:
    """Both forms of a ROME-style title: "Vendeur / Vendeuse en X" gives "Vendeur en X", "Vendeuse en X".

    >>> gender_forms("Vendeur / Vendeuse en boulangerie")
    ['Vendeur en boulangerie', 'Vendeuse en boulangerie']
    """
    parts = _SPLIT.split(label, maxsplit=1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return [label]
    first, second = parts
    n = len(first.split())
    tail = second.split()[n:]
    masculine = " ".join([first, *tail])
    return [masculine, second] if masculine != second else [second]


def forms(text: str) -> list[str]:
    """The folded gender forms of a title, job-ad markers and inclusive endings off, each once.

    >>> forms("Serveur / Serveuse (H/F)")
    ['serveur', 'serveuse']
    """
    out: list[str] = []
    for form in gender_forms(_JOB_AD.sub(" ", _INCLUSIVE.sub("", text))):
        folded = fold(form)
        if folded and folded not in out:
            out.append(folded)
    return out


def keys(text: str) -> frozenset[str]:
    """The stemmed forms of a title: two spellings of one title have the same keys.

    >>> keys("Vendeur / Vendeuse") == keys("vendeuses")
    True
    """
    return frozenset(stemmed(f) or f for f in forms(text))


@dataclass(frozen=True)
class Weights:
    """How the similarity signals add up (tuned on held-out synonyms of parts 1 and 2; the figures are
    reported on part 0, see ``tremplin.bench.normalize_quality``). The label signals (char, word, fuzzy, head) also
    make ``score``, which thresholds read: their mix was kept as it was when the others were re-tuned.

    A label's score is a weighted sum of its signals; a concept's score is its best label's score plus
    shares of its second and third best (several close labels are evidence), of the number of its labels
    among the candidates, of the cosines against the concept's documents and of its word coverage.
    """

    char: float = 1.0  # cosine of character n-gram TF-IDF
    word: float = 0.0  # cosine of stemmed-word TF-IDF (its candidates and concept documents still count)
    fuzzy: float = 0.3  # rapidfuzz token-set ratio on stemmed words: forgives word order and extra words
    head: float = 0.05  # 1 when the first stemmed word (the trade: "vendeur", "technicien") is the same
    second: float = 0.0  # share of the concept's second-best label
    third: float = 0.3  # share of the concept's third-best label
    votes: float = 0.4  # times log(1 + number of the concept's labels among the candidates), scaled
    concept: float = 0.4  # stemmed-word cosine against all of the concept's labels as one document
    exact: float = 2.0  # when a label spells the query's stems (a typo aside): a known title beats many near ones
    exact_from: float = 0.85  # the rapidfuzz ratio on stems from which that bonus starts, reaching all of it at 1
    description: float = 0.0  # cosine of word prefixes against the concept's descriptions (only with them)
    coverage: float = 0.8  # idf-weighted share of the query's words found in some label of the concept
    encoder: float = 2.0  # cosine of the sentence encoder's vectors, best label of the concept (only with one)


_PRUNE_FROM = 1_000  # labels from which common character n-grams are left out


def _l2_rows(m: sp.spmatrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _with_concepts(pairs: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` plus the (form, concept) rows of ``found`` it lacks, as label -1 with zero label signals."""
    only = found.select("form", "concept").join(
        pairs.select("form", "concept").unique(), on=["form", "concept"], how="anti"
    )
    return pl.concat(
        [pairs, only.select("form", pl.lit(-1, pl.Int64).alias("label"), "concept")], how="diagonal_relaxed"
    ).with_columns(pl.col(pl.Float64).fill_null(0.0))


def _documents(concept_ids: np.ndarray, frame: pl.DataFrame, column: str) -> list[str]:
    """One folded text per concept of ``concept_ids``: its rows of ``frame`` joined ("" when none)."""
    texts = dict(
        frame.group_by(CONCEPT_ID).agg(pl.col(column).drop_nulls().str.join(" ")).select(CONCEPT_ID, column).iter_rows()
    )
    return [fold(texts.get(c) or "") for c in concept_ids]


@dataclass(frozen=True)
class TaxonomyIndex:
    """A searchable index of concept labels."""

    char_vectorizer: TfidfVectorizer
    char_t: sp.csr_matrix  # character n-grams x labels, l2-normalized columns
    word_vectorizer: TfidfVectorizer
    word_t: sp.csr_matrix  # stemmed words x labels, l2-normalized columns
    concept_t: sp.csr_matrix  # stemmed words x concepts: all of a concept's labels as one document
    concept_words: sp.csr_matrix  # concepts x stemmed words: 1 where any label of the concept has the word
    concept_ids: np.ndarray  # concept id of each concept column
    label_concept: np.ndarray  # concept column of each label
    texts: list[str]  # stemmed text of each label, for rapidfuzz
    heads: list[str]  # first stemmed word of each label
    words: list[str]  # the folded words of the labels, for spelling
    weights: Weights
    description_vectorizer: TfidfVectorizer | None = None
    description_t: sp.csr_matrix | None = None  # word prefixes x concepts, from the descriptions
    spelling: float = 0.0  # a query word unknown to the labels is read as the nearest label word this close (0: off)
    embed: Embed | None = None  # the sentence encoder, when there is one
    label_vectors: np.ndarray | None = None  # labels x dimensions, l2-normalized rows of ``embed``

    @property
    def concepts(self) -> np.ndarray:
        """Concept id of each indexed label."""
        return self.concept_ids[self.label_concept]

    @classmethod
    def build(
        cls,
        labels: pl.DataFrame,
        *,
        char_ngrams: tuple[int, int] = (2, 4),
        char_max_df: float = 0.1,
        spelling: float = 0.8,
        weights: Weights | None = None,
        descriptions: pl.DataFrame | None = None,
        embed: Embed | None = None,
    ) -> TaxonomyIndex:
        """Index a frame with ``concept_id`` and ``label`` (many labels per concept allowed).

        ``descriptions`` (``concept_id``, ``text``; definitions, skills) adds a cosine against each
        concept's texts with weight ``weights.description``. Without them the index is lexical, on labels only.
        Character n-grams found in more than ``char_max_df`` of the labels are left out when there are 1,000
        labels or more: they weigh little in a cosine but make every query meet nearly every label (speed).
        ``spelling``: see ``_spell`` (0 turns it off). ``embed`` (texts to vectors, a sentence encoder) adds
        the cosine between the query and each concept's closest label, with weight ``weights.encoder``, and the
        concepts closest by it as candidates.
        """
        rows = sorted(
            {
                (str(concept), form)
                for concept, label in labels.select(CONCEPT_ID, LABEL).iter_rows()
                if label
                for form in forms(label)
            }
        )
        folded = [r[1] for r in rows]
        stems = [stemmed(t) or t for t in folded]
        concept_ids, label_concept = np.unique(np.array([r[0] for r in rows], dtype=object), return_inverse=True)
        char_vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=char_ngrams,
            sublinear_tf=True,
            max_df=char_max_df if len(folded) >= _PRUNE_FROM else 1.0,
        )
        char_matrix = char_vectorizer.fit_transform(folded)
        word_vectorizer = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", sublinear_tf=True)
        word_matrix = word_vectorizer.fit_transform(stems)
        membership = sp.csr_matrix(
            (np.ones(len(rows)), (label_concept, np.arange(len(rows)))), shape=(len(concept_ids), len(rows))
        )
        counts = sp.csr_matrix(membership @ (word_matrix > 0).astype(np.float64))
        counts.data = 1.0 + np.log(counts.data)
        concept_matrix = _l2_rows(counts.multiply(word_vectorizer.idf_[np.newaxis, :]))
        description_vectorizer, description_t = None, None
        if descriptions is not None and not descriptions.is_empty():
            documents = _documents(concept_ids, descriptions.with_columns(pl.col(CONCEPT_ID).cast(pl.String)), TEXT)
            description_vectorizer = TfidfVectorizer(analyzer=prefixes, sublinear_tf=True, min_df=2, max_df=0.5)
            description_t = sp.csr_matrix(description_vectorizer.fit_transform(documents).T)
        return cls(
            char_vectorizer=char_vectorizer,
            char_t=sp.csr_matrix(char_matrix.T),
            word_vectorizer=word_vectorizer,
            word_t=sp.csr_matrix(word_matrix.T),
            concept_t=sp.csr_matrix(concept_matrix.T),
            concept_words=sp.csr_matrix((counts > 0).astype(np.float64)),
            concept_ids=concept_ids,
            label_concept=label_concept,
            texts=stems,
            heads=[s.split(" ", 1)[0] for s in stems],
            words=sorted({w for t in folded for w in t.split()}),
            weights=weights or Weights(),
            description_vectorizer=description_vectorizer,
            description_t=description_t,
            spelling=spelling,
            embed=embed,
            label_vectors=_unit_rows(embed(folded)) if embed is not None else None,
        )

    def features(
        self, queries: Sequence[str], *, candidates: int = 50, encoder_candidates: int = 10, threads: int = 2
    ) -> pl.DataFrame:
        """Every candidate (query row, label row) with each similarity signal, for scoring and tuning.

        Candidates are the union of the best labels by character and by word cosine; a character cosine
        outside its top list is taken as the lowest one in that list (an upper bound). Concepts found only
        by their descriptions, or among the ``encoder_candidates`` closest by the encoder, come with ``label``
        -1 and zero label signals.
        """
        # A query written "Vendeur / Vendeuse" is searched as each form; the best form counts.
        query_forms = [(i, f) for i, t in enumerate(queries) for f in forms(t or "")]
        form_query = np.array([i for i, _ in query_forms], dtype=np.int64)
        form_text = [f for _, f in query_forms]
        spelled = self._spell(form_text, threads=threads)
        form_stems = [stemmed(f) or f for f in spelled]

        def top(q: sp.csr_matrix, m: sp.csr_matrix, name: str, key: str, n: int = candidates) -> pl.DataFrame:
            found = sp_matmul_topn(q, m, top_n=n, sort=True, n_threads=threads).tocoo()
            return pl.DataFrame(
                {"form": found.row.astype(np.int64), key: found.col.astype(np.int64), name: found.data},
                schema={"form": pl.Int64, key: pl.Int64, name: pl.Float64},
            )

        q_word = sp.csr_matrix(self.word_vectorizer.transform(form_stems))
        by_char = top(sp.csr_matrix(self.char_vectorizer.transform(form_text)), self.char_t, "char", "label")
        by_word = top(q_word, self.word_t, "word", "label")
        by_concept = top(q_word, self.concept_t, "concept_cos", "concept")
        floor = by_char.group_by("form").agg(pl.col("char").min().alias("floor"))
        pairs = (
            by_char.join(by_word, on=["form", "label"], how="full", coalesce=True)
            .join(floor, on="form", how="left")
            .with_columns(
                pl.col("char").fill_null(pl.col("floor")).fill_null(0.0),
                pl.col("word").fill_null(0.0),
                pl.lit(pl.Series(self.label_concept.astype(np.int64))).gather(pl.col("label")).alias("concept"),
            )
            .drop("floor")
        )
        rows = pairs.get_column("form").to_numpy()
        cols = pairs.get_column("label").to_numpy()
        # rapidfuzz on each (query form, label) pair in C, on ``threads`` threads
        query_side = np.array(form_stems, dtype=object)[rows].tolist()
        label_side = np.array(self.texts, dtype=object)[cols].tolist()
        fuzzy = (
            cpdist(query_side, label_side, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=threads) / 100.0
            if self.weights.fuzzy
            else np.zeros(len(rows))  # a variant without it (the benchmark) spares the slowest signal
        )
        form_heads = np.array([s.split(" ", 1)[0] for s in form_stems], dtype=object)
        head = (form_heads[rows] == np.array(self.heads, dtype=object)[cols]).astype(np.float64)
        # how nearly a label spells the query (1: the same stems), so that a known title with a typo still wins
        exact = cpdist(query_side, label_side, scorer=fuzz.ratio, dtype=np.float64, workers=threads) / 100.0
        signals = [pl.Series("fuzzy", fuzzy), pl.Series("head", head), pl.Series("exact", exact)]
        pairs = pairs.with_columns(signals)
        per_concept = by_concept
        if self.description_vectorizer is not None and self.description_t is not None:
            q_desc = sp.csr_matrix(self.description_vectorizer.transform(form_text))
            by_description = top(q_desc, self.description_t, "description", "concept")
            per_concept = per_concept.join(by_description, on=["form", "concept"], how="full", coalesce=True)
            pairs = _with_concepts(pairs, by_description)
        else:
            per_concept = per_concept.with_columns(pl.lit(0.0).alias("description"))
        closeness = self._closeness(form_text) if self.embed is not None else None
        if closeness is not None:
            nearest = np.argpartition(-closeness, min(encoder_candidates, closeness.shape[1]) - 1, axis=1)
            nearest = nearest[:, :encoder_candidates]
            by_encoder = pl.DataFrame(
                {
                    "form": np.repeat(np.arange(len(form_text), dtype=np.int64), nearest.shape[1]),
                    "concept": nearest.ravel().astype(np.int64),
                }
            )
            pairs = _with_concepts(pairs, by_encoder)
        asked = pairs.select("form", "concept").unique()
        encoder = (
            closeness[asked.get_column("form").to_numpy(), asked.get_column("concept").to_numpy()]
            if closeness is not None
            else np.zeros(asked.height)
        )
        per_concept = per_concept.join(
            asked.with_columns(
                pl.Series("coverage", self._coverage(q_word, form_stems, asked), dtype=pl.Float64),
                pl.Series("encoder", encoder, dtype=pl.Float64),
            ),
            on=["form", "concept"],
            how="full",
            coalesce=True,
        )
        return (
            pairs.join(per_concept, on=["form", "concept"], how="left")
            .with_columns(
                pl.col("form")
                .replace_strict(np.arange(len(query_forms)), form_query, return_dtype=pl.Int64)
                .alias("query"),
                pl.col("concept_cos", "description", "coverage", "encoder").fill_null(0.0),
            )
            .select(
                "query",
                "label",
                "concept",
                "char",
                "word",
                "fuzzy",
                "head",
                "exact",
                "concept_cos",
                "description",
                "coverage",
                "encoder",
            )
        )

    def _closeness(self, texts: list[str], *, chunk: int = 2_000) -> np.ndarray:
        """texts x concepts: the encoder's cosine between each text and the concept's closest label."""
        assert self.embed is not None and self.label_vectors is not None
        distinct = sorted(set(texts))
        where = {t: i for i, t in enumerate(distinct)}
        vectors = _unit_rows(self.embed(distinct))[[where[t] for t in texts]]
        # labels are sorted by concept, so each concept's labels are one run of columns
        starts = np.flatnonzero(np.r_[True, np.diff(self.label_concept) != 0])
        out = np.empty((len(texts), len(self.concept_ids)), dtype=np.float32)
        for start in range(0, len(texts), chunk):
            cosines = vectors[start : start + chunk] @ self.label_vectors.T
            out[start : start + chunk] = np.maximum.reduceat(cosines, starts, axis=1)
        return out

    def _spell(self, texts: list[str], *, threads: int, chunk: int = 2_000) -> list[str]:
        """Folded texts with each word unknown to the labels (5 letters or more) replaced by the nearest label
        word when rapidfuzz's ratio reaches ``spelling``: one typo in a word of 5 letters or more. Done before
        stemming, which would carry the typo into a stem far from the right one ("monetuse": "monetus")."""
        if not self.spelling:
            return texts
        known = set(self.words)
        unknown = sorted({w for t in texts for w in t.split() if len(w) >= 5 and w not in known})
        if not unknown:
            return texts
        fixed: dict[str, str] = {}
        for start in range(0, len(unknown), chunk):
            part = unknown[start : start + chunk]
            ratios = cdist(
                part, self.words, scorer=fuzz.ratio, score_cutoff=100 * self.spelling, dtype=np.uint8, workers=threads
            )
            best = ratios.argmax(axis=1)
            found = ratios[np.arange(len(part)), best]
            fixed.update((w, self.words[b]) for w, b, r in zip(part, best, found, strict=True) if r)
        return [" ".join(fixed.get(w, w) for w in t.split()) for t in texts]

    def _coverage(
        self, q_word: sp.csr_matrix, stems: list[str], asked: pl.DataFrame, *, chunk: int = 5_000
    ) -> np.ndarray:
        """For each (form, concept) row of ``asked``: the idf-weighted share of the form's words that some label
        of the concept has. A synonym often takes its words from several labels of its concept. A word no label
        has counts with the highest idf, so that it weighs against every concept."""
        idf = self.word_vectorizer.idf_
        known = self.word_vectorizer.vocabulary_
        unknown = np.array([sum(w not in known for w in set(s.split())) for s in stems], dtype=np.float64)
        present = sp.csr_matrix((q_word > 0).astype(np.float64).multiply(idf[np.newaxis, :]))
        total = np.asarray(present.sum(axis=1)).ravel() + unknown * (idf.max() if len(idf) else 1.0)
        present = sp.csr_matrix(sp.diags(1.0 / np.maximum(total, 1e-12)) @ present)
        forms_of, concepts_of = asked.get_column("form").to_numpy(), asked.get_column("concept").to_numpy()
        out = np.zeros(len(forms_of))
        vocabulary_t = sp.csr_matrix(self.concept_words.T)
        for start in range(0, present.shape[0], chunk):
            inside = (forms_of >= start) & (forms_of < start + chunk)
            if inside.any():
                shares = sp.csr_matrix(present[start : start + chunk] @ vocabulary_t)
                out[inside] = np.asarray(shares[forms_of[inside] - start, concepts_of[inside]]).ravel()
        return out

    def rank(self, features: pl.DataFrame) -> pl.DataFrame:
        """Concepts per query row: (query, concept, score, evidence), best first by evidence.

        ``evidence`` orders the concepts; ``score`` in [0, 1] is the similarity of the concept's best label
        (the weighted label signals over their total weight), which is what a threshold should look at.
        """
        w = self.weights
        label = w.char * pl.col("char") + w.word * pl.col("word") + w.fuzzy * pl.col("fuzzy") + w.head * pl.col("head")
        per_label = (
            features.with_columns(label.alias("s"))
            .group_by("query", "concept", "label")
            .agg(pl.col("s").max(), pl.col("exact", "concept_cos", "description", "coverage", "encoder").max())
        )
        per_concept = per_label.group_by("query", "concept").agg(
            pl.col("s").top_k(3).sort(descending=True).alias("top"),
            (pl.col("label") >= 0).sum().alias("votes"),
            pl.col("exact", "concept_cos", "description", "coverage", "encoder").max(),
        )
        second = pl.col("top").list.get(1, null_on_oob=True).fill_null(0.0)
        third = pl.col("top").list.get(2, null_on_oob=True).fill_null(0.0)
        evidence = (
            pl.col("top").list.get(0)
            + w.second * second
            + w.third * third
            + w.votes * pl.col("votes").cast(pl.Float64).log1p() / np.log1p(6)
            + w.concept * pl.col("concept_cos")
            + w.description * pl.col("description")
            + w.coverage * pl.col("coverage")
            + w.encoder * pl.col("encoder")
            + w.exact * ((pl.col("exact") - w.exact_from) / (1.0 - w.exact_from)).clip(0.0, 1.0)
        )
        one_label = max(w.char + w.word + w.fuzzy + w.head, 1e-12)
        return per_concept.select(
            "query",
            "concept",
            (pl.col("top").list.get(0) / one_label).clip(0.0, 1.0).alias(SCORE),
            evidence.alias("evidence"),
        ).sort(["query", "evidence", "concept"], descending=[False, True, False])

    def search(
        self, queries: pl.DataFrame, *, k: int = 5, candidates: int = 50, threads: int = 2, batch: int = 20_000
    ) -> pl.DataFrame:
        """Best ``k`` concepts per query (``query_id``, ``text``), best first.

        ``rank`` weighs all the evidence (a concept's other labels too); ``score`` in [0, 1] is the
        similarity of the concept's best label, so a lower rank may carry a higher score. Queries go ``batch``
        at a time, which bounds memory (each query's result depends on it alone).
        """
        if queries.is_empty():
            return pl.DataFrame(schema=RESULT_SCHEMA)
        if queries.height > batch:
            return pl.concat(
                [
                    self.search(queries.slice(start, batch), k=k, candidates=candidates, threads=threads, batch=batch)
                    for start in range(0, queries.height, batch)
                ]
            )
        ids = pl.Series(QUERY_ID, queries.get_column(QUERY_ID).cast(pl.String))
        texts = [t or "" for t in queries.get_column(TEXT).to_list()]
        ranked = self.rank(self.features(texts, candidates=candidates, threads=threads))
        concept_ids = pl.Series(CONCEPT_ID, self.concept_ids.tolist(), dtype=pl.String)
        return (
            ranked.with_columns(
                pl.lit(ids).gather(pl.col("query")).alias(QUERY_ID),
                pl.lit(concept_ids).gather(pl.col("concept")).alias(CONCEPT_ID),
            )
            .with_columns(pl.int_range(1, pl.len() + 1).over("query").cast(pl.Int32).alias(RANK))
            .filter(pl.col(RANK) <= k)
            .select(list(RESULT_SCHEMA))
        )

    def best(self, queries: pl.DataFrame, *, min_score: float) -> pl.DataFrame:
        """The single best concept per query when its score reaches ``min_score``."""
        return self.search(queries, k=1).filter(pl.col(SCORE) >= min_score).drop(RANK)
