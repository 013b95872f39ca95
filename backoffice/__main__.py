"""``python -m backoffice``: the same as the ``backoffice`` command."""

from backoffice.cli import main

main()
