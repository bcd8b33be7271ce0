"""Build dqquery's wheel and install it into a throw-away virtual environment, offline and fast.

Used by the docs test (every example runs against the installed wheel) and the packaging test.

Decisions:
* The wheel is built from the checkout with the test environment's hatchling (``--no-build-isolation``), and
  installed with ``--no-deps --no-index``: no network.
* The new environment sees the test environment's third-party packages (lark, pydantic, ...) through a ``.pth``
  file listing its site-packages. Paths listed in a ``.pth`` file come after the environment's own
  site-packages and ``.pth`` files inside them are not processed, so the editable dqquery of the checkout stays
  invisible: ``import dqquery`` finds the wheel's copy, and nothing of the source tree.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(dist: Path) -> Path:
    """Build the wheel of the checkout into ``dist`` and return its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (wheel,) = dist.glob("dqquery-*.whl")
    return wheel


def install_in_new_venv(wheel: Path, venv: Path) -> Path:
    """Create a virtual environment at ``venv`` holding ``wheel`` (and the ``dqquery`` command); return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = next((venv / "lib").glob("python3*/site-packages"))
    (venv_site / "test_env_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    return python
