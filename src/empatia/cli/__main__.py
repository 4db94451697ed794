"""``python -m empatia.cli``: the same as the ``empatia`` command."""

from empatia.cli import main

if __name__ == "__main__":
    main()
