"""The exception hierarchy: one base class, messages that name the bad input."""

from __future__ import annotations


class TremplinError(Exception):
    """Base class of every error tremplin raises on purpose."""


class ConfigError(TremplinError):
    """A setting is missing or has a value tremplin cannot use."""


class ReferenceDataError(TremplinError):
    """A reference file (ROME, communes, density grid) is missing or malformed."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class InputFileError(TremplinError):
    """An input file cannot be read at all (single bad rows go to quarantine instead)."""

    def __init__(self, path: object, problem: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class WarehouseError(TremplinError):
    """A DuckDB statement failed; the message names the statement."""


class OpStoreError(TremplinError):
    """The operational store refused an operation."""


class SmsError(TremplinError):
    """Sending an SMS failed."""

    def __init__(
        self, message: str, *, code: int | None = None, permanent: bool = False, uncertain: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        # The request may have reached the provider (the answer timed out): look it up before sending again.
        self.uncertain = uncertain


class IncompleteNight(TremplinError):
    """The night's report is written, but steps of the night are missing: the run must not look green."""
