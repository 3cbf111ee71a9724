"""Dev-only helpers: the demo, the generator, the fake Twilio, a throwaway PostgreSQL, the Airflow runner."""
