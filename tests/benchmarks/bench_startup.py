"""Startup: a ``dqquery check`` process and ``import dqquery``, against the floors the interpreter and the named
dependencies set.

Run on demand:  python tests/benchmarks/bench_startup.py [rounds]
Goals (issue 13): ``dqquery check "run_number > 1"`` <= 1.3x a process that only imports lark and pydantic and
builds one model; ``import dqquery`` reported against ``python -c pass``.

Decisions:
* Wall and CPU time (user+sys of the child) are both printed: on a loaded machine the CPU figure is the steadier.
* Every round runs each process once, in a rotated order, so the machine's drift (3x on a shared machine) touches
  all of them alike; the figures are the minimum and the median over rounds, ratios of the same statistic.
* Wall-clock time of the whole process (``subprocess.run``), the figure a user waits for; no warm-up beyond one
  discarded round (it fills the OS file cache and writes the ``.pyc`` files). ``PYTHONDONTWRITEBYTECODE`` is removed
  from the processes' environment: an installed package has its ``.pyc`` files (pip writes them), and compiling
  dqquery's sources at every start (about 80 ms) would measure a development setting, not dqquery.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
FLOOR = "import lark, pydantic\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)\n"


def _dqquery_command() -> list[str]:
    script = Path(PY).with_name("dqquery")
    if script.is_file():
        return [str(script)]
    found = shutil.which("dqquery")
    return [found] if found else [PY, "-m", "dqquery"]


PROCESSES = {
    "python -c pass": [PY, "-c", "pass"],
    "import lark, pydantic + one model": [PY, "-c", FLOOR],
    "import dqquery": [PY, "-c", "import dqquery"],
    'dqquery check "run_number > 1"': [*_dqquery_command(), "check", "run_number > 1"],
}


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _once(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(rounds: int = 21) -> None:
    names = list(PROCESSES)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds + 1):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            w, c = _once(PROCESSES[name])
            if r:
                wall[name].append(w)
                cpu[name].append(c)
    check, floor, imp, bare = names[3], names[1], names[2], names[0]
    print(f"{rounds} interleaved rounds")
    for label, samples in (("wall time", wall), ("CPU time (user+sys; less sensitive to other load)", cpu)):
        low = {name: min(s) for name, s in samples.items()}
        mid = {name: statistics.median(s) for name, s in samples.items()}
        print(f"{label}:")
        for name in names:
            print(f"  {name:38s} min {low[name] * 1e3:7.1f} ms   median {mid[name] * 1e3:7.1f} ms")

        def ratio(a: str, b: str) -> str:
            return f"{low[a] / low[b]:6.2f}x (min) {mid[a] / mid[b]:6.2f}x (median)"

        print(f"  dqquery check  vs lark+pydantic floor: {ratio(check, floor)}   (goal <= 1.3x)")
        print(f"  import dqquery vs lark+pydantic floor: {ratio(imp, floor)}")
        print(f"  import dqquery vs python -c pass:      {ratio(imp, bare)}")
        print(f"  dqquery check  vs python -c pass:      {ratio(check, bare)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
