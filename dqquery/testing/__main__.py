"""``python -m dqquery.testing serve --snapshot FILE [--port N]``: all fake services on one port.

RR answers at ``http://127.0.0.1:N/``, DIALS at ``/api/v1/``, OMS at ``/agg/api/v1/`` and the SSO token
endpoint at ``/auth/realms/cern/api-access/token``. Point the clients at it with::

    export DQQUERY_RR_URL=http://127.0.0.1:9500 DQQUERY_DIALS_URL=http://127.0.0.1:9500/api/v1 \\
           DQQUERY_OMS_URL=http://127.0.0.1:9500/agg/api/v1
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dqquery.testing", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve fake RR, DIALS, OMS and SSO from a snapshot on one port")
    serve.add_argument("--snapshot", required=True, help="snapshot file (.json or gzip), or 'demo' for the bundled 2018 demo")
    serve.add_argument("--port", type=int, default=9500, help="port (default 9500, the RR backend's)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    serve.add_argument("--dials-secret", action="append", default=[], help="accepted DIALS X-CLIENT-SECRET (repeatable)")
    serve.add_argument("--sso-client", action="append", default=[], metavar="ID:SECRET",
                       help="a client the SSO token endpoint accepts (repeatable), e.g. --sso-client my-app:s3cret")
    serve.add_argument("--require-auth", action="store_true", help="RR and OMS demand SSO bearer tokens, DIALS a token or secret")
    args = parser.parse_args(argv)

    from ..snapshot import Snapshot
    from . import DIALS_MOUNT, OMS_MOUNT, serve_all
    from .server import FakeSSO

    clients = {}
    for spec in args.sso_client:
        client_id, sep, secret = spec.partition(":")
        if not sep or not client_id or not secret:
            parser.error(f"--sso-client takes ID:SECRET, got {spec!r}")
        clients[client_id] = secret
    try:
        if args.snapshot == "demo":
            from ..demo import load_demo

            snapshot = load_demo()
        else:
            snapshot = Snapshot.load(args.snapshot)
        server = serve_all(snapshot, port=args.port, host=args.host, dials_secrets=set(args.dials_secret),
                           sso_clients=clients, require_auth=args.require_auth)
    except (OSError, ValueError) as exc:  # a missing or invalid snapshot file, a port in use
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server.faults.set_latency(args.latency)
    root = server.root
    print(json.dumps({"rr": root, "dials": root + DIALS_MOUNT, "oms": root + OMS_MOUNT,
                      "sso_token_url": root + FakeSSO.path}), flush=True)
    print(f"fake Run Registry, DIALS, OMS and SSO listening on {root} (from {args.snapshot}); press Ctrl-C to stop\n"
          f"use them with: export DQQUERY_RR_URL={root} DQQUERY_DIALS_URL={root + DIALS_MOUNT} "
          f"DQQUERY_OMS_URL={root + OMS_MOUNT}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
