"""Ops tools: alerts, Airflow callbacks, retention, backups, explanations for a seeker."""
