"""A throwaway PostgreSQL cluster on loopback for the store and webhook tests (``tremplin.dev.pg_server``).

``start()`` starts a new cluster in a temporary directory (``tremplin.dev.pg_server.start_own``), or, with
``TREMPLIN_TEST_POSTGRES_URL`` (``postgresql://user@host:port/db`` of a role that may create databases), uses a
running server instead. ``PostgresUnavailable`` says why there is no server, and the tests skip with that reason
(``make postgres`` installs Debian's server).
"""

from __future__ import annotations

import os

from tremplin.dev.pg_server import Cluster, PostgresUnavailable, connect, find_bindir, start_own

__all__ = ["HINT", "Cluster", "PostgresUnavailable", "find_bindir", "start"]

HINT = "run `make postgres` (Debian's postgresql) or set TREMPLIN_TEST_POSTGRES_URL"


def start() -> Cluster:
    """The server of ``TREMPLIN_TEST_POSTGRES_URL``, or a new cluster in a temporary directory."""
    prefix = f"tremplin_test_{os.getpid()}_"
    url = os.environ.get("TREMPLIN_TEST_POSTGRES_URL")
    if url:
        return connect(url, prefix=prefix, name="TREMPLIN_TEST_POSTGRES_URL")
    return start_own(prefix=prefix, hint=HINT)
