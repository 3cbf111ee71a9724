"""The nightly steps, in the order they run: feedback, ingest, normalize, shards, route, publish, summary."""
