"""The packaged 2018 demo: a SYNTHETIC snapshot built to reproduce the official 2018 golden JSON, and the
example files the documentation uses.

The demo data are not Run Registry data: ``scripts/make_demo_snapshot.py`` generates them so that the standard
query gives the official file. The demo therefore shows the whole pipeline (query, snapshot, golden JSON,
comparison), loss attribution per clause and the timing on a year of realistic size; it is no evidence that
dqquery agrees with the real Run Registry. That evidence is the replay of answers recorded from the real
services (``tests/data/conformance/``, replayed by ``tests/test_conformance_*.py`` in the source repository).

``load_demo()`` returns the :class:`~dqquery.snapshot.Snapshot` in ``dqquery/data/demo-2018.json.gz`` (generated
by ``scripts/make_demo_snapshot.py``, see its docstring for how); ``load_demo_columnar()`` the same snapshot from
``dqquery/data/demo-2018.dqc`` (``dqquery snapshot convert demo-2018.json.gz demo-2018.dqc``), which ``dqquery demo``
and ``--snapshot demo`` of ``golden``/``explain`` evaluate with :mod:`dqquery.vectorized`. With the standard query::

    from dqquery import golden
    from dqquery.demo import DEMO_DATASET, DEMO_QUERY_2018, OFFICIAL_2018, load_demo
    from dqquery.lumiranges import GoldenJSON

    assert golden(DEMO_QUERY_2018, load_demo(), dataset=DEMO_DATASET) == GoldenJSON.load(OFFICIAL_2018)

Decisions:
* The data live inside the package directory (``dqquery/data/``) and are found relative to this file, so they work
  from a source checkout, an editable install and a wheel alike.
* ``DEMO_QUERY_2018`` is modelled on Run Registry's sample golden-JSON rule (``runregistry_backend/sample_json_logic.json``):
  beam energy, field >= 3.7 T, 25 ns filling, no WMass menu, minimum recorded luminosity, the GOOD flags of the
  offline columns and the DCS and beam bits. (RR's ``dc-lowlumi == BAD`` clause is left out.)
* The demo snapshot is loaded once per process and cached (snapshots are treated as read-only); ``dqquery demo``
  loads it afresh (:func:`run_demo`), since it prints how long the load takes.
* The demo ships twice. The columnar file is what ``dqquery demo`` reads when numpy and pyarrow are installed
  (``dqquery[fast]``): measured interleaved in ``tests/benchmarks/bench_demo.py`` (two runs of 7 rounds, loaded
  machine), the whole process takes 1.2-1.4x less time than from the JSON file; the load (its first import of
  numpy and pyarrow included) 1.9-2.1x less and the evaluation 2.6-2.7x less; the rest is interpreter start-up,
  dqquery's imports and the parse, which both pay. The printed "load" is that first load, imports included.
  The JSON file stays because numpy and pyarrow are optional (``dqquery demo`` falls back to it and to the
  reference evaluator and says so), ``load_demo()`` returns a :class:`~dqquery.snapshot.Snapshot` (fake servers,
  run tables), and the generator's determinism test compares its bytes; ``tests/test_demo.py`` checks that both
  files hold the same snapshot.
* The data are called synthetic wherever the demo is shown (:data:`SYNTHETIC_NOTE`, printed by ``dqquery demo``):
  a reader must not take "identical to the official file" for agreement with the real Run Registry.
* The files the how-to pages read ship as package data (:data:`RR_CONFIGS`: real json-logic configs) or are
  written on request (:func:`write_examples`, ``dqquery examples [DIR]``), so the pages work from a wheel.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .about import DOCS_URL
from .files import atomic_write_text
from .snapshot import Snapshot

__all__ = [
    "DATA_DIR",
    "DEMO_COLUMNAR_PATH",
    "DEMO_DATASET",
    "DEMO_PATH",
    "DEMO_QUERY_2018",
    "GOLDEN_2018_QUERY_FILE",
    "OFFICIAL_2018",
    "RR_CONFIGS",
    "SYNTHETIC_NOTE",
    "DemoRun",
    "columnar_available",
    "load_demo",
    "load_demo_columnar",
    "run_demo",
    "write_examples",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_PATH = DATA_DIR / "demo-2018.json.gz"
DEMO_COLUMNAR_PATH = DATA_DIR / "demo-2018.dqc"
"""The demo snapshot as a columnar file (:mod:`dqquery.columnar`): the same snapshot as :data:`DEMO_PATH`."""
OFFICIAL_2018 = DATA_DIR / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
"""The official 2018 Legacy golden JSON (478 runs, 234,529 lumisections), shipped unchanged."""

RR_CONFIGS = DATA_DIR / "rr_configs"
"""Real Run Registry json-logic configs (RR's backend sample rule, the RR client's README example, a DCS-only
cosmics script, a tracker-only ranking tool): JSON objects with ``json_logic`` and ``dataset_name_filter``."""

SYNTHETIC_NOTE = (
    "note: the demo data are SYNTHETIC, not Run Registry data: they were generated so that this query reproduces\n"
    "  the official 2018 golden JSON (scripts/make_demo_snapshot.py in the source repository). The demo shows the\n"
    "  whole pipeline, the loss per clause (dqquery explain --snapshot demo) and the speed on a year of realistic\n"
    "  size (489 runs). Agreement with the real Run Registry is tested by replaying answers recorded from the real\n"
    f"  services: {DOCS_URL}getting-started/#what-the-demo-shows"
)
"""What ``dqquery demo`` says about its data, first."""

DEMO_DATASET = "/ReReco/Run2018__UL2019/DQM"
"""The dataset filter of RR's sample rule: ``_`` matches one character, so it selects the ReReco dataset of every era."""

DEMO_QUERY_2018 = """\
energy in 6000..7000 and b_field >= 3.7 and injection_scheme contains "25ns" and not hlt_key contains "WMass"
and recorded_lumi >= 0.08
and tracker-pixel == GOOD and tracker-strip == GOOD and tracker-track == GOOD
and ecal-ecal == GOOD and ecal-es == GOOD and egamma-egamma == GOOD and hcal-hcal == GOOD
and csc-csc == GOOD and dt-dt == GOOD and muon-muon == GOOD and jetmet-jetmet == GOOD and lumi-lumi == GOOD
and l1t-l1tmu == GOOD and l1t-l1tcalo == GOOD and hlt-hlt == GOOD
and cms_active and bpix_ready and fpix_ready and tibtid_ready and tob_ready and tecp_ready and tecm_ready
and ebp_ready and ebm_ready and eep_ready and eem_ready and esp_ready and esm_ready
and hbhea_ready and hbheb_ready and hbhec_ready and hf_ready and ho_ready
and dtp_ready and dtm_ready and dt0_ready and cscp_ready and cscm_ready and rpc_ready
and beam1_present and beam2_present and beam1_stable and beam2_stable"""
"""The standard 2018 golden-JSON query (48 clauses)."""

GOLDEN_2018_QUERY_FILE = "golden2018.dq"
"""The name :func:`write_examples` gives :data:`DEMO_QUERY_2018` (``dqquery golden @golden2018.dq ...``)."""


@functools.lru_cache(maxsize=1)
def load_demo() -> Snapshot:
    """The demo snapshot (cached)."""
    if not DEMO_PATH.exists():  # pragma: no cover - packaging error
        raise FileNotFoundError(f"the demo snapshot is missing from the installation: {DEMO_PATH}")
    return Snapshot.load(DEMO_PATH)


def columnar_available() -> bool:
    """Whether numpy and pyarrow (``dqquery[fast]``) are installed, so the columnar demo file can be read."""
    return all(importlib.util.find_spec(name) is not None for name in ("numpy", "pyarrow"))


@functools.lru_cache(maxsize=1)
def load_demo_columnar() -> Any:
    """The demo snapshot as a :class:`~dqquery.columnar.ColumnarSnapshot` (cached; needs ``dqquery[fast]``)."""
    from .columnar import ColumnarSnapshot

    if not DEMO_COLUMNAR_PATH.exists():  # pragma: no cover - packaging error
        raise FileNotFoundError(f"the columnar demo snapshot is missing from the installation: {DEMO_COLUMNAR_PATH}")
    return ColumnarSnapshot.load(DEMO_COLUMNAR_PATH)


@dataclass(frozen=True)
class DemoRun:
    """One evaluation of a query on the demo: the golden JSON, the seconds spent loading the snapshot file and
    evaluating the query, and which file and engine were used."""

    result: Any
    load_seconds: float
    evaluate_seconds: float
    source: str


def run_demo(query: Any, dataset: str = DEMO_DATASET, columnar: bool | None = None) -> DemoRun:
    """Load the demo snapshot from its file (not from the cache: the load is timed) and evaluate ``query``:
    the columnar file with :mod:`dqquery.vectorized` when ``columnar`` (default: when numpy and pyarrow are
    installed), else the JSON file with the reference evaluator."""
    if columnar is None:
        columnar = columnar_available()
    t0 = time.perf_counter()
    if columnar:
        from .columnar import ColumnarSnapshot
        from .vectorized import golden

        snapshot: Any = ColumnarSnapshot.load(DEMO_COLUMNAR_PATH)
        source = "columnar file, vectorized evaluator"
    else:
        from .evaluator import golden  # type: ignore[assignment]

        snapshot = Snapshot.load(DEMO_PATH)
        source = 'JSON file, reference evaluator; pip install "dqquery[fast]" for the columnar one'
    t1 = time.perf_counter()
    result = golden(query, snapshot, dataset=dataset)
    return DemoRun(result, t1 - t0, time.perf_counter() - t1, source)


def write_examples(directory: str | os.PathLike[str] = ".") -> list[Path]:
    """Write the documentation's example files into ``directory``: ``golden2018.dq`` (the standard 2018 query)
    and ``rr_configs/*.json`` (:data:`RR_CONFIGS`). Existing files of the same names are replaced, each
    atomically; returns the paths written."""
    target = Path(directory)
    files = {GOLDEN_2018_QUERY_FILE: "# The standard 2018 golden-JSON query (dqquery.demo.DEMO_QUERY_2018)\n" + DEMO_QUERY_2018 + "\n"}
    for config in sorted(RR_CONFIGS.glob("*.json")):
        files[f"rr_configs/{config.name}"] = config.read_text(encoding="utf-8")
    written = []
    for name, text in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(atomic_write_text(path, text))
    return written
