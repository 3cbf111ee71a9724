"""``python -m tremplin.bench``: the benchmark command line (tremplin.bench.nightly.main)."""

from tremplin.bench.nightly import main

main()
