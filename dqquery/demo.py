"""The packaged 2018 demo: a synthetic snapshot that reproduces the official 2018 golden JSON.

``load_demo()`` returns the :class:`~dqquery.snapshot.Snapshot` in ``dqquery/data/demo-2018.json.gz`` (generated
by ``scripts/make_demo_snapshot.py``, see its docstring for how). With the standard query::

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
* The demo snapshot is loaded once per process and cached (snapshots are treated as read-only).
"""

from __future__ import annotations

import functools
from pathlib import Path

from .snapshot import Snapshot

__all__ = ["DATA_DIR", "DEMO_DATASET", "DEMO_PATH", "DEMO_QUERY_2018", "OFFICIAL_2018", "load_demo"]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_PATH = DATA_DIR / "demo-2018.json.gz"
OFFICIAL_2018 = DATA_DIR / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
"""The official 2018 Legacy golden JSON (478 runs, 234,529 lumisections), shipped unchanged."""

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


@functools.lru_cache(maxsize=1)
def load_demo() -> Snapshot:
    """The demo snapshot (cached)."""
    if not DEMO_PATH.exists():  # pragma: no cover - packaging error
        raise FileNotFoundError(f"the demo snapshot is missing from the installation: {DEMO_PATH}")
    return Snapshot.load(DEMO_PATH)
