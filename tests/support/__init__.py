"""What the tests share: data builders, the throwaway PostgreSQL, the browser, the SIGTERM plugin."""
