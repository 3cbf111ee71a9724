"""``python -m tremplin``: the same command line as the ``tremplin`` script."""

from tremplin.cli import main

if __name__ == "__main__":
    main()
