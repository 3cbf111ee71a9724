"""The counsellor's web pages (``tremplin serve``): queues, actions, short lists and "why these offers".

Reads and writes the operational store only; it never opens the DuckDB warehouse, so it stays up while
the nightly run holds the warehouse's lock.
"""
