"""Fake Run Registry, DIALS, OMS and SSO services on 127.0.0.1 for offline tests and demos.

Each fake is an app (``FakeRunRegistry``, ``FakeDials``, ``FakeOMS``, ``FakeSSO``) run by a
:class:`~dqquery.testing.server.FakeServer` (real HTTP, threaded, fault injection, request log)::

    from dqquery.testing import run_registry
    with run_registry(snapshot) as rr:          # ephemeral port
        rr.faults.fail_nth(2, status=503)
        client = RunRegistryClient(url=rr.url)

From Python every service gets its OWN server (own port, own faults and request log), mounted where the
real one lives: RR at the root, DIALS at ``/api/v1``, OMS at ``/agg/api/v1``, SSO at
``/auth/realms/cern/api-access/token``. ``serve_all`` (and ``python -m dqquery.testing serve``) instead
puts all four on ONE port with those prefixes (they do not collide), default 9500 so that the official
``runregistry`` client with ``ENVIRONMENT=local`` reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .fake_dials import FakeDials
from .fake_oms import FakeOMS
from .fake_rr import FakeRunRegistry, SnapshotData
from .server import FakeServer, FakeSSO, Faults, Request, RequestLog, Response, Router

__all__ = [
    "DIALS_MOUNT",
    "OMS_MOUNT",
    "FakeDials",
    "FakeOMS",
    "FakeRunRegistry",
    "FakeSSO",
    "FakeServer",
    "Faults",
    "Request",
    "RequestLog",
    "Response",
    "Router",
    "dials",
    "oms",
    "run_registry",
    "sample_snapshot",
    "serve_all",
    "sso",
]

DIALS_MOUNT = "/api/v1"
OMS_MOUNT = "/agg/api/v1"

Verifier = Callable[[str | None], bool]


def run_registry(snapshot: Any, *, port: int = 0, require_token: Verifier | None = None, portal_polls: int = 2) -> FakeServer:
    """A fake Run Registry server (not started: use ``with``); ``.url`` is its root."""
    return FakeServer(FakeRunRegistry(snapshot, require_token=require_token, portal_polls=portal_polls), port=port)


def dials(snapshot: Any, *, port: int = 0, secrets: set[str] | frozenset[str] = frozenset(),
          require_token: Verifier | None = None, auth: bool = True, oms_app: Any = None) -> FakeServer:
    """A fake DIALS server; ``.url`` ends with ``/api/v1`` and ``.root`` is what ``cmsdials`` wants as base_url."""
    app = FakeDials(snapshot, secrets=secrets, require_token=require_token, auth=auth, oms=oms_app)
    return FakeServer(app, port=port, mount=DIALS_MOUNT)


def oms(snapshot: Any, *, port: int = 0, require_token: Verifier | None = None) -> FakeServer:
    """A fake OMS server; ``.url`` ends with ``/agg/api/v1``."""
    return FakeServer(FakeOMS(snapshot, require_token=require_token), port=port, mount=OMS_MOUNT)


def sso(clients: dict[str, str], *, port: int = 0, expires_in: float = 1200.0) -> FakeServer:
    """A fake SSO token endpoint; the token URL is ``server.root + FakeSSO.path`` (see ``.app``)."""
    return FakeServer(FakeSSO(clients, expires_in=expires_in), port=port)


def serve_all(snapshot: Any, *, port: int = 9500, host: str = "127.0.0.1", dials_secrets: set[str] | frozenset[str] = frozenset(),
              sso_clients: dict[str, str] | None = None, require_auth: bool = False) -> FakeServer:
    """All fakes on one port: RR at ``/``, DIALS at ``/api/v1``, OMS at ``/agg/api/v1``, SSO token endpoint.

    With ``require_auth`` RR and OMS demand SSO bearer tokens and DIALS a token or one of ``dials_secrets``;
    otherwise only DIALS checks (it accepts any bearer token), as the official clients for ``local`` send none to RR.
    """
    token_service = FakeSSO(sso_clients or {})
    verifier = token_service.verifier() if require_auth else None
    snapshot = SnapshotData.of(snapshot)  # one copy of the data for the three fakes
    oms_app = FakeOMS(snapshot, require_token=verifier)
    router = Router(
        {
            "/": FakeRunRegistry(snapshot, require_token=verifier),
            DIALS_MOUNT: FakeDials(snapshot, secrets=dials_secrets, require_token=verifier, oms=oms_app),
            OMS_MOUNT: oms_app,
            "/auth": _Prefixed(token_service, "/auth"),
        }
    )
    return FakeServer(router, port=port, host=host)


class _Prefixed:
    """Give back a prefix the router stripped (the SSO app matches its full path)."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    def handle(self, request: Request) -> Response:
        request.path = self.prefix + request.path
        return self.app.handle(request)  # type: ignore[no-any-return]


def sample_snapshot(n_runs: int = 6, *, first_run: int = 315000, ls_per_run: int = 30, seed: int = 0,
                    datasets: tuple[str, ...] = ("online", "/PromptReco/Collisions2018A/DQM"), luminosity: bool = True) -> Any:
    """A small deterministic :class:`~dqquery.snapshot.Snapshot` for tests, benchmarks and demos.

    Runs alternate collisions/cosmics classes and energies; each (run, dataset) has RR ranges over
    ``dt-dt``, ``tracker-strip``, ``csc-csc`` with some BAD/STANDBY stretches and OMS ranges over RR's
    stored bits (some ``null``), plus per-lumisection luminosity. Only bits RR keeps are used, so the
    snapshot survives a round trip through the fake Run Registry unchanged.
    """
    import random

    from ..snapshot import Snapshot

    rng = random.Random(seed)
    runs, dataset_rows, lumis = [], [], {}
    statuses = ("GOOD", "GOOD", "GOOD", "BAD", "STANDBY")
    for i in range(n_runs):
        run = first_run + i
        collisions = i % 3 != 2
        runs.append({
            "run_number": run,
            "oms_attributes": {"energy": 6500.0 if collisions else 0.0, "b_field": rng.choice([3.8, 3.8, 0.0]),
                               "stable_beam": collisions, "fill_number": 7000 + i // 2,
                               "injection_scheme": "25ns_2556b" if collisions else "", "ls_duration": ls_per_run,
                               "start_time": f"2018-06-{1 + i % 28:02d}T10:00:00Z", "hlt_key": f"/cdaq/physics/v{i}"},
            "rr_attributes": {"class": "Collisions18" if collisions else "Cosmics18", "state": "COMPLETED",
                              "significant": True, "stop_reason": ""},
        })
        lumis[run] = {}
        for name in datasets:
            if name != "online":
                dataset_rows.append({"run_number": run, "name": name,
                                     "dataset_attributes": {"global_state": rng.choice(["COMPLETED", "OPEN"]),
                                                            "tracker_state": "COMPLETED"}})
            rr_ranges, oms_ranges, start = [], [], 1
            while start <= ls_per_run:
                end = min(ls_per_run, start + rng.randint(2, 9))
                rr_ranges.append({c: {"status": rng.choice(statuses), "comment": "", "cause": ""}
                                  for c in ("dt-dt", "tracker-strip", "csc-csc")} | {"start": start, "end": end})
                start = end + 1
            start = 1
            while start <= ls_per_run:
                end = min(ls_per_run, start + rng.randint(3, 12))
                oms_ranges.append({"cms_active": True, "bpix_ready": rng.choice([True, True, False]),
                                   "fpix_ready": rng.choice([True, None]), "beam1_present": collisions,
                                   "start": start, "end": end})
                start = end + 1
            entry: dict[str, Any] = {"rr": rr_ranges, "oms": oms_ranges}
            if luminosity:
                entry["luminosity"] = {"start": 1, "recorded": [round(rng.uniform(0.0, 0.2), 4) for _ in range(ls_per_run)],
                                       "delivered": [round(rng.uniform(0.1, 0.2), 4) for _ in range(ls_per_run)]}
            lumis[run][name] = entry
    return Snapshot.from_dict({"runs": runs, "datasets": dataset_rows, "lumisections": lumis})
