"""The `boxwise` command as a user's install has it, for the benches that time its start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def installed_boxwise(workdir: Path) -> str:
    """The `boxwise` command of a virtual environment holding this checkout (editable) and its
    dependencies, as a user's install has it (`pipx install`, a venv): the console script, not
    `python -m boxwise` (runpy and importlib.util: 3 ms a start no user pays). The interpreter
    running this bench may carry start-up hooks of its own machine in its site-packages (here a
    sandbox's `.pth` imports certifi at every start: 20 ms no install of boxwise has)."""
    venv = workdir / "boxwise-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "boxwise").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                        "--disable-pip-version-check", "-e", str(REPO)], check=True)  # fmt: skip
    return str(venv / "bin" / "boxwise")
