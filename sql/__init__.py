"""The warehouse's SQL statements, one per ``<verb_object>.sql`` file.

This folder stays at the top of the repository; pyproject.toml maps it into the package ``tremplin.sql`` so the
statements ship inside the wheel, and ``connectors.warehouse`` reads them with ``importlib.resources``.
"""
