"""Oversight of the matching: fairness audit across groups of seekers and counsellors' override rates.

Pure like ``matching/``: polars frames in, polars frames out; no files, no clock, no database.
"""

from __future__ import annotations

from tremplin.errors import TremplinError


class OversightError(TremplinError):
    """A frame given to the oversight functions cannot be audited (missing column, wrong type, duplicate)."""
