"""The ``dqquery`` command line.

Decisions:
* argparse (standard library), one sub-command per job, every option with a help text and examples in the
  epilog. Imports of the heavier modules happen inside each command, so ``dqquery check`` stays instant.
* A query is a positional argument; ``@FILE`` reads it from a file and ``-`` (or ``@-``) from standard input,
  both as bytes decoded as UTF-8 (anything else is a one-line user error, not a traceback).
* ``--max-age`` takes a finite number of days, 0 or more (``nan``, ``inf`` and negatives are refused).
* Exit status: 0 success; 1 a comparison found differences (``json diff``, ``golden --compare``);
  2 a user error (bad query, bad file, unsupported clause, missing credential), printed on stderr as
  a one-screen message, never a traceback.
* A closed standard output (``dqquery demo | head -2``) is not an error: the command finishes its file outputs
  (``-o``, ``--plot``), prints nothing more and exits quietly with status 141 (128 + SIGPIPE), as Unix tools
  killed by SIGPIPE do, so ``set -o pipefail`` scripts still see that the output was cut.
* ``-`` reads standard input wherever a file is read (queries, golden JSONs, snapshots, json-logic rules).
* ``check``, ``plan``, ``fields``, ``explain`` and ``runs`` print JSON with ``--json``/``--format json``;
  luminosity is in ``/pb`` and every text output that prints it names the unit.
* ``fetch`` reports what it fetched (runs, datasets, lumisections, answers from the cache and from the
  network) and where the cache is and how big; progress goes to stderr when it is a terminal (a tqdm bar,
  or plain lines without tqdm).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .about import DOCS_URL
from .errors import QueryError

EPILOG = """\
examples:
  dqquery check 'run_number in 315000..316000 and tracker-strip == GOOD'
  dqquery compile --to rr-raw 'class like "Collisions%" and energy in 6000..7000'
  dqquery compile --to dials:lumisection 'run_number >= 367100 and dataset ~ "ZeroBias"'
  dqquery golden 'tracker-strip == GOOD and bpix_ready' --snapshot demo -o golden.json
  dqquery golden 'dt-dt == GOOD' --table lumisections.parquet -o golden.json
  dqquery explain @my-selection.dq --snapshot snapshot.json.gz --dataset '%Collisions2018%'
  dqquery demo
  dqquery json diff A.json B.json
  dqquery examples   # writes golden2018.dq and rr_configs/ for the how-to pages

docs: {docs}
  the language {docs}language/, what a query means {docs}semantics/
"""

DOCS_PAGES = {
    "check": "language/",
    "parse": "language/",
    "fields": "fields/",
    "compile": "targets/",
    "plan": "targets/",
    "golden": "golden/",
    "explain": "golden/",
    "fetch": "fetching/",
    "json": "golden/",
    "demo": "getting-started/",
    "examples": "workflows/reproduce-rr-golden-json/",
    "runs": "cli/#runs",
    "cache": "cli/#cache",
    "serve": "cli/#serve",
    "snapshot": "columnar/",
}
"""The docs page each sub-command's help points to (relative to :data:`DOCS_URL`)."""


DEFAULT_MAX_AGE_DAYS = 7.0
"""How long cached service answers are reused by default."""


class UserError(Exception):
    """An error to print as a one-screen message with exit status 2."""


def _read_query(arg: str) -> str:
    """The query text: ``arg`` itself, a file's (``@FILE``) or standard input's (``-``, ``@-``), as UTF-8."""
    if arg in ("-", "@-"):  # @- as well: "@FILE" with the usual "-" for standard input
        stream = getattr(sys.stdin, "buffer", None)
        return _utf8_query(stream.read(), "standard input") if stream is not None else sys.stdin.read()
    if arg.startswith("@"):
        path = Path(arg[1:])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read the query file {path}: {exc.strerror or exc}") from None
        return _utf8_query(raw, f"the query file {path}")
    return arg


def _utf8_query(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} is not UTF-8 text (byte {exc.start})") from None


def _max_age_days(text: str) -> float:
    """``--max-age``: a finite number of days, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (a finite number, 0 or more)")
    return value


def _read_bytes(path: str, what: str) -> bytes:
    """A file's bytes, or standard input's for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def _load_golden(path: str) -> Any:
    """A golden JSON from a file or, for ``-``, standard input (gzip allowed)."""
    from .lumiranges import GoldenJSON

    if path != "-":
        try:
            return GoldenJSON.load(path)
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    import gzip

    raw = _read_bytes(path, "golden JSON")
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return GoldenJSON.from_json(raw)
    except ValueError as exc:
        raise UserError(f"the golden JSON on standard input: {exc}") from None


def _check_output(path: str | None) -> None:
    """Fail before any work when an output file cannot be written (missing folder)."""
    if path and not Path(path).resolve().parent.is_dir():
        raise UserError(f"cannot write {path}: the folder {Path(path).resolve().parent} does not exist")


def _check_plotting(path: str | None) -> None:
    """Fail before any work when a plot is asked for but cannot be drawn."""
    if not path:
        return
    _check_output(path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError('--plot needs matplotlib: pip install "dqquery[plot]"') from None


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=str))


# ------------------------------------------------------------------------------------------- commands


def cmd_check(args: argparse.Namespace) -> int:
    from .query import parse
    from .unparse import unparse

    node = parse(_read_query(args.query))
    if args.json:
        from . import ast as A

        paths = sorted({ref.path for ref in A.fields_of(node)})
        _print_json({"canonical": unparse(node), "fields": paths})
    else:
        print(unparse(node))
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from .ast import node_to_json
    from .query import parse

    print(node_to_json(parse(_read_query(args.query)), indent=2))
    return 0


def cmd_fields(args: argparse.Namespace) -> int:
    from .catalog import FIELDS

    rows = [f for f in FIELDS if (not args.level or f.level == args.level) and (not args.grep or args.grep in f.path)]
    if args.json:
        _print_json([{"name": f.name, "path": f.path, "type": f.type, "unit": f.unit or None, "level": f.level,
                      "aliases": list(f.aliases), "doc": f.doc} for f in rows])
        return 0
    width = max((len(f.name) for f in rows), default=4)
    unit_width = max([4, *(len(f.unit) for f in rows)])
    print(f"{'name':<{width}}  {'type':<11}  {'unit':<{unit_width}}  {'level':<11}  path")
    for f in rows:
        print(f"{f.name:<{width}}  {f.type:<11}  {f.unit or '-':<{unit_width}}  {f.level:<11}  {f.path}")
    return 0


def _compile(target: str, text: str) -> Any:
    """The target registry's strict compile (``dqquery.compile``): unknown targets get a did-you-mean."""
    from .targets.base import compile_bound, resolve

    return compile_bound(text, resolve(target))


def targets_help() -> str:
    """The targets of the registry, one line each (the epilog of ``compile`` and ``plan``)."""
    from .targets.base import get, names

    lines = []
    for name in names():
        target = get(name)
        options = "TEXT" if target.options is None else "|".join(target.options)
        spelled = f"{name}[:{options}]" if options else name
        aliases = ", ".join(target.spec_aliases)
        lines.append(f"  {spelled}: {target.title}" + (f" (also {aliases})" if aliases else "") + ("" if target.plannable else " [compile only]"))
    return "targets:\n" + "\n".join(lines)


def _with_targets_epilog(parser: argparse.ArgumentParser) -> None:
    """Show the registry's targets under ``--help`` (read then, so that ``dqquery`` starts without the compilers)."""
    plain = parser.format_help

    def format_help() -> str:
        docs_link = parser.epilog
        parser.epilog = targets_help() + (f"\n\n{docs_link}" if docs_link else "")
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        try:
            return plain()
        finally:
            parser.epilog = docs_link

    parser.format_help = format_help  # type: ignore[method-assign]


def cmd_compile(args: argparse.Namespace) -> int:
    import warnings

    from .errors import QueryWarning
    from .query import parse
    from .unparse import unparse

    if args.from_jsonlogic:
        from .files import load_json_document
        from .targets.jsonlogic import from_jsonlogic_report

        try:
            text = Path(args.from_jsonlogic).read_bytes() if args.from_jsonlogic != "-" else sys.stdin.read()
        except OSError as exc:
            raise UserError(f"cannot read {args.from_jsonlogic}: {exc.strerror or exc}") from None
        rule = load_json_document(text, lambda message: UserError(f"{args.from_jsonlogic}: {message}"))
        dataset_filter = None
        if isinstance(rule, dict) and "json_logic" in rule:  # a portal request or a stored golden-JSON config
            dataset_filter = rule.get("dataset_name_filter")
            rule = rule["json_logic"]
            if isinstance(rule, str):  # the portal request carries the rule as JSON text
                rule = load_json_document(rule, lambda message: UserError(f"the json_logic of {args.from_jsonlogic}: {message}"))
        node, notes = from_jsonlogic_report(rule)
        print(unparse(node))
        if dataset_filter:
            print(f"note: the rule is for datasets {dataset_filter!r}: add --dataset '{dataset_filter}' to dqquery golden", file=sys.stderr)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        return 0
    if not args.query:
        raise UserError("give a query, or --from-jsonlogic FILE")
    if not args.to:
        raise UserError("say which target with --to (see `dqquery compile --help` for the list)")
    text = _read_query(args.query)
    parse(text)  # syntax and check errors first, located in the text
    compiled = _compile(args.to, text)  # compilers get the text so their errors point into it too
    exact, notes = _fidelity(args.to, text, compiled)
    request = compiled.request
    if isinstance(request, str):  # a text request (a SQL condition) is printed as itself, ready to paste
        print(request)
    else:
        _print_json(dict(request) if isinstance(request, dict) else request)
    for line in notes:
        print(line, file=sys.stderr)
    for warning in compiled.warnings:  # through the command's one-line warnings: each message once
        warnings.warn(QueryWarning(warning), stacklevel=2)
    if args.exact and not exact:
        raise UserError(f"the {args.to} filter is a superset of the query (see the notes above) and --exact was given; "
                        f"use `dqquery plan --to {args.to.partition(':')[0]} ...` for the requests plus a local residual")
    return 0


def _fidelity(target: str, text: str, compiled: Any) -> tuple[bool, list[str]]:
    """Whether a compiled filter is exact, and what a user must know about it (printed on stderr, never dropped)."""
    lines: list[str] = []
    if not compiled.exact and not compiled.notes:
        lines.append("note: superset: the service may return more than the query selects; re-check it locally (dqquery golden, "
                     "or dqquery.plan)")
    lines += [f"note: {n}" for n in compiled.notes]
    return compiled.exact, lines


def cmd_plan(args: argparse.Namespace) -> int:
    from .planning import plan

    text = _read_query(args.query)
    p = plan(text, args.to)
    if args.json:
        from .unparse import unparse

        _print_json({"target": p.target, "query": unparse(p.query), "exact": p.exact,
                     "requests": [dict(r) if isinstance(r, dict) else r for r in p.requests],
                     "residual": None if p.residual is None else unparse(p.residual), "notes": list(p.notes)})
    else:
        print(p.describe())
    return 0


def _load_snapshot(spec: str, columnar: bool = False) -> Any:
    """The snapshot named on the command line; ``columnar``: the caller evaluates a
    :class:`~dqquery.columnar.ColumnarSnapshot` (:mod:`dqquery.vectorized`), so a columnar file is not converted."""
    if spec == "demo":
        from .demo import columnar_available, load_demo, load_demo_columnar

        return load_demo_columnar() if columnar and columnar_available() else load_demo()
    from .snapshot import Snapshot

    if spec == "-":
        import gzip

        raw = _read_bytes(spec, "snapshot")
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"the snapshot on standard input is not valid JSON: {exc}") from None
        try:
            return Snapshot.from_dict(data)
        except ValueError as exc:
            raise UserError(f"the snapshot on standard input: {exc}") from None
    try:
        if _is_columnar(spec):
            module = _columnar_module()
            return module.ColumnarSnapshot.load(spec) if columnar else module.load_any(spec)
        return Snapshot.load(spec)
    except OSError as exc:
        raise UserError(f"cannot read the snapshot {spec}: {exc.strerror or exc}") from None


def _is_columnar(path: str) -> bool:
    """A columnar snapshot file (dqquery.columnar) is a ZIP; JSON snapshots are text or gzip."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _columnar_module() -> Any:
    try:
        from . import columnar
    except ImportError:
        raise UserError('columnar snapshots need numpy and pyarrow: pip install "dqquery[fast]"') from None
    return columnar


def cmd_snapshot_convert(args: argparse.Namespace) -> int:
    """JSON snapshot <-> columnar file; the output format follows the output name (``.json``/``.json.gz``: JSON)."""
    columnar = _columnar_module()
    _check_output(args.output)
    try:
        snap = columnar.ColumnarSnapshot.load(args.input)
    except OSError as exc:
        raise UserError(f"cannot read the snapshot {args.input}: {exc.strerror or exc}") from None
    if args.output.endswith((".json", ".json.gz")):
        snap.to_snapshot().save(args.output)
        kind = "JSON snapshot"
    else:
        snap.save(args.output)
        kind = "columnar snapshot"
    print(f"wrote {args.output} ({kind}): {snap.n_runs} runs, {snap.n_units} datasets", file=sys.stderr)
    return 0


def cmd_snapshot_export(args: argparse.Namespace) -> int:
    """Snapshot -> Parquet tables in a folder (dqquery.tables): the columnar tables, or one row per lumisection."""
    _columnar_module()
    from . import tables

    if args.level == "range" and args.dataset is not None:
        raise UserError("--dataset selects lumisections: use it with --level lumisection (the range tables hold every dataset)")
    snap = _load_snapshot(args.input, columnar=True)
    dataset = "%" if args.dataset is None else args.dataset
    written = tables.export_tables(snap, args.directory, level=args.level, dataset=dataset)
    rows = ""
    if args.level == "lumisection":
        import pyarrow.parquet as pq

        rows = f": {pq.read_metadata(written[0]).num_rows} lumisections"
    print(f"wrote {', '.join(p.name for p in written)} into {args.directory} ({args.level} level){rows}", file=sys.stderr)
    return 0


def _default_dataset(spec: str, dataset: str | None) -> str | None:
    if dataset is None and spec == "demo":
        from .demo import DEMO_DATASET

        return DEMO_DATASET
    return dataset


def _clients(args: argparse.Namespace) -> tuple[Any, Any]:
    """Run Registry and OMS clients from the command-line options (URLs, cache, offline mode)."""
    from .sources.cache import Cache
    from .sources.oms import OMSClient
    from .sources.runregistry import RunRegistryClient

    cache = None
    if not getattr(args, "no_cache", False):
        offline = getattr(args, "offline", False)
        max_age = getattr(args, "max_age", None)
        if max_age is None:  # offline means "whatever the cache holds": no age limit unless one is asked for
            ttl = None if offline else DEFAULT_MAX_AGE_DAYS * 24 * 3600.0
        else:
            ttl = max_age * 24 * 3600.0
        cache = Cache(getattr(args, "cache", None), offline=offline, ttl=ttl)
    args.cache_in_use = cache
    workers = getattr(args, "workers", 8)
    if workers < 1:
        raise UserError("--workers must be at least 1")
    from .sources.auth import local_credentials

    with local_credentials(bool(getattr(args, "local_auth", False))):  # decided when a client is built
        rr = RunRegistryClient(getattr(args, "rr", None), cache=cache, workers=workers)
        oms = OMSClient(args.oms, cache=cache) if getattr(args, "oms", None) else None
    return rr, oms


def _snapshot_for(args: argparse.Namespace, text: str, columnar: bool = False) -> Any:
    if args.snapshot:
        return _load_snapshot(args.snapshot, columnar)
    if getattr(args, "rr", None) or getattr(args, "fetch", False):
        from .fetch import fetch_snapshot

        rr, oms = _clients(args)
        return fetch_snapshot(text, dataset=args.dataset or "online", rr=rr, oms=oms, workers=args.workers)
    raise UserError("say where the data comes from: --snapshot FILE (or 'demo'), or --rr URL to fetch it")


def cmd_golden(args: argparse.Namespace) -> int:
    from .query import parse

    text = _read_query(args.query)
    node = parse(text)
    _check_output(args.output)
    dataset = _default_dataset(args.snapshot or "", args.dataset)
    snapshot = None
    if args.table:
        if args.snapshot or args.remote or args.compare_remote or args.fetch or args.rr:
            raise UserError("--table computes the golden JSON from a table: it does not go with --snapshot, --fetch, --rr, "
                            "--remote or --compare-remote")
        from .engines import golden_from_table

        result = golden_from_table(node, args.table, engine=args.engine, dataset=dataset)
    elif args.engine:
        raise UserError("--engine runs the query on a table: give the table with --table FILE")
    elif args.remote:
        from .fetch import remote_golden

        rr, _ = _clients(args)
        result = remote_golden(text, dataset=dataset or "online", rr=rr)
    else:
        snapshot = _snapshot_for(args, text, columnar=True)
        result = _engine(snapshot).golden(node, snapshot, dataset=dataset)
    status = 0
    if args.compare_remote:
        from .fetch import remote_golden

        rr, _ = _clients(args)
        remote = remote_golden(text, dataset=dataset or "online", rr=rr)
        diff = result.diff(remote)
        print(("local and remote agree" if diff.identical else "local and remote DIFFER\n" + diff.summary()), file=sys.stderr)
        status = 0 if diff.identical else 1
    if args.compare:
        other = _load_golden(args.compare)
        diff = result.diff(other)
        print(("identical to " + args.compare) if diff.identical else ("differs from " + args.compare + "\n" + diff.summary()), file=sys.stderr)
        status = 0 if diff.identical else 1
    summary = f"{result.n_runs} runs, {result.n_lumisections} lumisections"
    if snapshot is not None:
        recorded = _engine(snapshot).recorded_in(result, snapshot, dataset)
        if recorded is not None:
            from .catalog import LUMINOSITY_UNIT

            summary += f", recorded luminosity {recorded:.3f} {LUMINOSITY_UNIT}"
    if args.output:
        result.write(args.output)
        print(f"wrote {args.output}: {summary}", file=sys.stderr)
    else:
        print(result.to_json())
        print(f"golden JSON: {summary}", file=sys.stderr)
    _report_cache(args)
    return status


def _engine(snapshot: Any) -> Any:
    """The module that evaluates a snapshot: :mod:`dqquery.vectorized` for a columnar one (read from a columnar
    file), else the reference. Decision: a JSON snapshot is not converted for one query, since the conversion costs
    more than the reference's evaluation (demo year, one run: convert 0.71 s + vectorized 0.02 s against 0.11-0.40 s)."""
    from .snapshot import Snapshot

    if isinstance(snapshot, Snapshot):
        from types import SimpleNamespace

        from .evaluator import golden
        from .explanation import explain
        from .luminosity import recorded_in

        return SimpleNamespace(golden=golden, explain=explain, recorded_in=recorded_in)
    from . import vectorized

    return vectorized


def cmd_explain(args: argparse.Namespace) -> int:
    from . import ast as A
    from .query import parse

    text = _read_query(args.query)
    node = parse(text)
    _check_plotting(args.plot)
    snapshot = _snapshot_for(args, text, columnar=True)
    report = _engine(snapshot).explain(node, snapshot, dataset=_default_dataset(args.snapshot or "", args.dataset))
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table())
        if args.runs:
            print()
            print(report.runs_table(args.runs))
        if len(report.clauses) == 1 and not isinstance(node, A.And):
            print("note: the query's top level is not an 'and', so it is one clause: write the selection as "
                  "'A and B and ...' to see what each part removes", file=sys.stderr)
    if args.plot:
        from .plots import plot_loss

        plot_loss(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    _report_cache(args)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from .fetch import fetch_snapshot
    from .query import parse

    text = _read_query(args.query)
    parse(text)
    _check_output(args.output)
    columnar = None if args.output.endswith((".json", ".json.gz")) else _columnar_module()  # before any request
    rr, oms = _clients(args)
    snap = fetch_snapshot(text, dataset=args.dataset or "online", rr=rr, oms=oms, workers=args.workers)
    if columnar is None:
        snap.save(args.output)
    else:  # the columnar file golden and explain read without conversion
        columnar.ColumnarSnapshot.from_snapshot(snap).save(args.output)
    n_datasets = sum(1 for _ in snap.iter_datasets())
    print(f"wrote {args.output}: {len(snap.runs)} runs, {n_datasets} datasets, {snap.n_lumisections()} lumisections", file=sys.stderr)
    _report_cache(args)
    return 0


def _report_cache(args: argparse.Namespace) -> None:
    """Answers from the cache and from the network, and where the cache is and how big (after a fetch)."""
    cache = getattr(args, "cache_in_use", None)
    if cache is None:
        return
    from .sources.cache import human_size

    print(f"requests: {cache.hits} answered from the cache, {cache.misses} from the network", file=sys.stderr)
    print(f"cache: {cache.path} ({human_size(cache.size_bytes())}; 'dqquery cache info', 'dqquery cache prune --older-than 30d')",
          file=sys.stderr)


def cmd_json(args: argparse.Namespace) -> int:
    from .lumiranges import GoldenJSON

    def load(p: str) -> GoldenJSON:
        return _load_golden(p)

    if args.op == "cmssw":
        if args.b is not None:
            raise UserError("'dqquery json cmssw' takes one file")
        _check_output(args.output)
        text = load(args.a).to_cmssw()
        if args.output:
            from .files import atomic_write_text

            atomic_write_text(args.output, text + "\n")
        else:
            print(text)
        return 0
    if args.b is None:
        raise UserError(f"'dqquery json {args.op}' needs two files")
    if args.a == "-" and args.b == "-":
        raise UserError("only one of A and B can be standard input (-)")
    if args.op == "diff" and args.output:
        raise UserError("'dqquery json diff' writes no file: it reports what each side has alone; "
                        "use 'dqquery json sub A B -o FILE' (and 'sub B A') for those lumisections as golden JSONs")
    if args.plot and args.op != "diff":
        raise UserError("--plot goes with 'dqquery json diff'")
    _check_plotting(args.plot)
    _check_output(args.output)
    a, b = load(args.a), load(args.b)
    if args.op == "diff":
        diff = a.diff(b)
        print(diff.summary())
        if args.plot:
            from .plots import plot_diff

            plot_diff(diff, args.plot, left=Path(args.a).name, right=Path(args.b).name)
            print(f"wrote {args.plot}", file=sys.stderr)
        return 0 if diff.identical else 1
    result = {"and": a & b, "or": a | b, "sub": a - b}[args.op]
    if args.output:
        result.write(args.output)
    else:
        print(result.to_json())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on bundled data: reproduce the official 2018 golden JSON from the demo snapshot."""
    from .demo import DEMO_DATASET, DEMO_QUERY_2018, OFFICIAL_2018, SYNTHETIC_NOTE, run_demo
    from .lumiranges import GoldenJSON
    from .query import parse

    print(SYNTHETIC_NOTE)
    print("query:\n  " + DEMO_QUERY_2018.strip().replace("\n", "\n  "))
    query = parse(DEMO_QUERY_2018)  # parsed once (the first parse of a process also builds the parser)
    print(f"units: {query_units(query)}")
    run = run_demo(query, dataset=DEMO_DATASET)
    result = run.result
    official = GoldenJSON.load(OFFICIAL_2018)
    diff = result.diff(official)
    print(f"dataset: {DEMO_DATASET}")
    print(f"golden JSON: {result.n_runs} runs, {result.n_lumisections} lumisections")
    print(f"time: load {run.load_seconds * 1000:.0f} ms, evaluate {run.evaluate_seconds * 1000:.0f} ms ({run.source})")
    if args.output:
        result.write(args.output)
        print(f"wrote {args.output}")
    if diff.identical:
        print(f"identical to the official file {Path(OFFICIAL_2018).name} (by construction)")
        return 0
    print("DIFFERS from the official file:\n" + diff.summary())
    return 1


def query_units(query: Any) -> str:
    """``energy in GeV, b_field in T, ...``: the unit of each field of the query that has one (first-use order)."""
    from . import ast as A
    from .catalog import UNITS

    named: dict[str, str] = {}
    for ref in A.fields_of(query):
        if UNITS.get(ref.path):
            named.setdefault(ref.name, UNITS[ref.path])
    return ", ".join(f"{name} in {unit}" for name, unit in named.items())


def cmd_examples(args: argparse.Namespace) -> int:
    """Write the files the documentation's how-to pages use into a folder."""
    from .demo import write_examples

    for path in write_examples(args.directory):
        print(f"wrote {path}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from .query import parse
    from .runlists import check_columns, format_runs, run_table

    text = _read_query(args.query)
    node = parse(text)
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else []
    try:
        check_columns(columns)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if columns and args.format == "dqmgui":  # never drop what was asked for without a word
        raise UserError("--columns does not apply to --format dqmgui: its layout is fixed ('run_number reco_type' "
                        "per line, as the DQM GUI crawler reads it); use --format txt, csv or json for columns")
    _check_output(args.output)
    snapshot = _snapshot_for(args, text)
    table = run_table(node, snapshot, dataset=_default_dataset(args.snapshot or "", args.dataset))
    out = format_runs(table, args.format, columns)
    if args.output:
        from .files import atomic_write_text

        atomic_write_text(args.output, out)
        print(f"wrote {args.output}: {len({r.run_number for r in table})} runs", file=sys.stderr)
    else:
        sys.stdout.write(out)
    _report_cache(args)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from .sources.cache import Cache, cache_files, default_cache_path, human_size, parse_duration

    path = Path(args.cache) if args.cache else default_cache_path()
    if args.op == "prune" and not args.older_than:
        raise UserError("'dqquery cache prune' needs --older-than DURATION (e.g. 30d, 12h)")
    if args.op != "prune" and args.older_than:
        raise UserError("--older-than goes with 'dqquery cache prune'")
    seconds = 0.0
    if args.op == "prune":
        try:
            seconds = parse_duration(args.older_than)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if not path.exists():
        if args.json:
            _print_json({"path": str(path), "exists": False, "size_bytes": 0, "entries": 0})
        else:
            print(f"cache: {path} (does not exist yet: a fetch creates it)")
        return 0
    with Cache(path, ttl=None) as cache:
        before = sum(p.stat().st_size for p in cache_files(path))
        if args.op == "clear":
            removed = cache.clear()
        elif args.op == "prune":
            removed = cache.prune(seconds)
        info = cache.info()
    if args.op != "info":
        print(f"removed {removed} answers: {human_size(before)} -> {human_size(info.size_bytes)}", file=sys.stderr)
    if args.json:
        _print_json({**info.to_dict(), "exists": True})
    else:
        print(info.describe())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .testing.__main__ import main as serve_main

    argv = ["serve", "--snapshot", args.snapshot, "--port", str(args.port), "--host", args.host]
    try:
        return serve_main(argv)
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not an interruption of work
        return 0


# ------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dqquery",
        description="One small query language for CMS data quality: check queries, compile them to Run Registry, "
        "DIALS, OMS and json-logic, and compute golden JSONs locally.",
        epilog=EPILOG.format(docs=DOCS_URL),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .about import __version__

    p.add_argument("--version", action="version", version=f"dqquery {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    q_help = "the query text, @FILE to read it from a file, or - for standard input"

    s = sub.add_parser("check", help="check a query; print its canonical form", description="Check a query and print its canonical form (exit 2 with a located error if it is wrong).")
    s.add_argument("query", help=q_help)
    s.add_argument("--json", action="store_true", help="print JSON: the canonical form and the fields used")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("parse", help="print the syntax tree of a query as JSON", description="Print the checked syntax tree of a query as JSON.")
    s.add_argument("query", help=q_help)
    s.set_defaults(func=cmd_parse)

    s = sub.add_parser("fields", help="list the known fields", description="List the field catalog: short name, type, level, qualified path.")
    s.add_argument("--level", choices=["run", "dataset", "lumisection"], help="only fields of this level")
    s.add_argument("--grep", metavar="TEXT", help="only fields whose path contains TEXT")
    s.add_argument("--json", action="store_true", help="print JSON (name, path, type, unit, level, aliases, doc)")
    s.set_defaults(func=cmd_fields)

    s = sub.add_parser(
        "compile",
        help="compile a query to a service's filter format",
        description="Compile a query to a target's filter and print it as JSON. A clause the target cannot express is an "
        "error (exit 2) naming the clause. Where the filter is a superset (two Run Registry flags: each may hold on a "
        "different lumisection; OMS LIKE) a note on stderr says so (--exact makes it an error); use `dqquery plan` "
        "for the requests plus a local residual.",
    )
    _with_targets_epilog(s)
    s.add_argument("query", nargs="?", help=q_help)
    s.add_argument("--to", metavar="TARGET", help="target format (see below)")
    s.add_argument("--from-jsonlogic", metavar="FILE", help="instead: read an RR json-logic rule and print it as a query")
    s.add_argument("--exact", action="store_true", help="fail (exit 2) when the filter is only a superset of the query")
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("plan", help="show the requests and local residual for a target", description="Show what dqquery would send to a target (a superset) and what it evaluates locally.")
    s.add_argument("query", help=q_help)
    s.add_argument("--to", required=True, metavar="TARGET", help="a plannable target (see below)")
    _with_targets_epilog(s)
    s.add_argument("--json", action="store_true", help="print JSON: requests, residual, notes")
    s.set_defaults(func=cmd_plan)

    def service_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--rr", metavar="URL", help="Run Registry URL (default: $DQQUERY_RR_URL, else production)")
        sp.add_argument("--oms", metavar="URL", help="also take OMS bits and luminosity from this OMS API (default: RR's stored copy)")
        sp.add_argument("--cache", metavar="FILE", help="SQLite cache file (default: $DQQUERY_CACHE_DIR/http-cache.sqlite, else ~/.cache/dqquery/http-cache.sqlite)")
        sp.add_argument("--no-cache", action="store_true", help="do not read or write the local cache")
        sp.add_argument("--offline", action="store_true", help="answer only from the local cache, whatever the age of its answers; fail on anything not cached")
        sp.add_argument("--max-age", type=_max_age_days, metavar="DAYS", default=None, help="reuse cached answers up to this age (default 7 days; no limit with --offline)")
        sp.add_argument("--workers", type=int, default=8, metavar="N", help="requests in flight at once (default 8)")
        sp.add_argument("--local-auth", action="store_true",
                        help="also exchange SSO client credentials for a local URL (127.x, localhost), e.g. `python -m "
                        "dqquery.testing serve --require-auth` (same as DQQUERY_LOCAL_AUTH=1)")

    def data_source(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--snapshot", metavar="FILE", help="snapshot file (.json or .json.gz), or 'demo' for the bundled 2018 demo")
        sp.add_argument("--dataset", metavar="PATTERN", help="dataset name pattern (RR style: %% and _ wildcards, (A|B)); default 'online' (the demo's dataset with --snapshot demo)")
        sp.add_argument("--fetch", action="store_true", help="fetch the data from Run Registry (implied by --rr)")
        service_options(sp)

    s = sub.add_parser("golden", help="compute a golden JSON", description="Compute the golden JSON of a query: locally from a snapshot or fetched data, or remotely with RR's JSON portal (--remote).")
    s.add_argument("query", help=q_help)
    data_source(s)
    s.add_argument("-o", "--output", metavar="FILE", help="write the golden JSON here (atomically) instead of printing it")
    s.add_argument("--compare", metavar="FILE", help="compare with an existing golden JSON (exit 1 if different)")
    s.add_argument("--remote", action="store_true", help="ask RR's JSON portal to compute it (slow) instead of computing locally")
    s.add_argument("--compare-remote", action="store_true", help="compute locally and also remotely, and report any lumisection where they differ")
    s.add_argument("--table", metavar="PATH", help="instead: run the query on a table inside an SQL engine: a Parquet file or glob "
                   "(one row per lumisection, or ranges with ls_first/ls_last) or a folder written by 'dqquery snapshot export'")
    s.add_argument("--engine", metavar="NAME", help="the engine for --table (default duckdb; the engines are listed on the docs site's Engines page)")
    s.set_defaults(func=cmd_golden)

    s = sub.add_parser("explain", help="luminosity lost per clause", description="For each clause of a top-level 'and', the lumisections and recorded luminosity it removes, inclusively and exclusively.")
    s.add_argument("query", help=q_help)
    data_source(s)
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--plot", metavar="PNG", help="also draw the loss per clause (needs matplotlib)")
    s.add_argument("--runs", type=int, default=0, metavar="N", help="also list the N runs that lose the most, with the clauses responsible")
    s.set_defaults(func=cmd_explain)

    s = sub.add_parser("fetch", help="fetch the data a query needs into a snapshot file", description="Fetch runs, datasets and lumisection ranges from RR (and OMS) into a snapshot file.")
    s.add_argument("query", help=q_help)
    s.add_argument("--dataset", metavar="PATTERN", help="dataset name pattern; default 'online'")
    service_options(s)
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="snapshot file to write: .json or .json.gz (JSON), any other name (e.g. .dqc) the columnar format")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("runs", help="list the runs a query selects (run lists for downstream tools)",
                       description="List the runs with at least one lumisection the query selects (the runs of its golden JSON).",
                       epilog="formats: txt (one run per line), csv, json, dqmgui (the DQM GUI crawler's runs.txt: "
                       "'run_number reco_type' per line). Columns: run_number, fill_number, recorded (/pb), dataset, reco.")
    s.add_argument("query", help=q_help)
    data_source(s)
    s.add_argument("--format", choices=["txt", "csv", "json", "dqmgui"], default="txt", help="output layout (default txt)")
    s.add_argument("--columns", metavar="LIST", help="comma-separated columns, e.g. run_number,fill_number,recorded,dataset,reco "
                   "(one row per run and dataset)")
    s.add_argument("-o", "--output", metavar="FILE", help="write the list here (atomically) instead of printing it")
    s.set_defaults(func=cmd_runs)

    s = sub.add_parser("cache", help="show, prune or clear the local cache of service answers",
                       description="The SQLite cache of Run Registry, DIALS and OMS answers: where it is, how big, and cleaning it.")
    s.add_argument("op", choices=["info", "clear", "prune"], help="info: location, size, entries; clear: remove every answer; "
                   "prune: remove answers older than --older-than")
    s.add_argument("--older-than", metavar="DURATION", help="with prune: e.g. 30d, 12h, 90m, 2w (a bare number is days)")
    s.add_argument("--cache", metavar="FILE", help="cache file (default: $DQQUERY_CACHE_DIR/http-cache.sqlite, else ~/.cache/dqquery/http-cache.sqlite)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_cache)

    s = sub.add_parser("serve", help="serve fake Run Registry, DIALS, OMS and SSO from a snapshot (for trying dqquery offline)",
                       description="All fake services on one port, answering from a snapshot; stop with Ctrl-C.")
    s.add_argument("--snapshot", default="demo", metavar="FILE", help="snapshot file, - for standard input, or 'demo' (default)")
    s.add_argument("--port", type=int, default=9500, help="port (default 9500)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("json", help="golden-JSON arithmetic: and, or, sub, diff, cmssw", description="Combine or compare golden JSON files (as CMSSW's compareJSON.py does).")
    s.add_argument("op", choices=["and", "or", "sub", "diff", "cmssw"], help="and/or/sub: combine A and B; diff: what each has alone (exit 1 if different); cmssw: print A as a CMSSW lumi string")
    s.add_argument("a", metavar="A", help="first golden JSON file (- for standard input)")
    s.add_argument("b", metavar="B", nargs="?", help="second golden JSON file (- for standard input)")
    s.add_argument("-o", "--output", metavar="FILE", help="write the result here (atomically)")
    s.add_argument("--plot", metavar="PNG", help="with diff: draw the differences per run (needs matplotlib)")
    s.set_defaults(func=cmd_json)

    s = sub.add_parser("snapshot", help="snapshot files: convert JSON <-> columnar", description="Work with snapshot files.")
    snap_sub = s.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True, help="convert: JSON <-> columnar file; export: Parquet tables")
    c = snap_sub.add_parser(
        "convert",
        help="convert a snapshot between JSON and the columnar file (fast to load)",
        description="Convert a snapshot: to the columnar file (Arrow IPC tables in a ZIP, docs/columnar.md) unless OUT ends "
        "with .json or .json.gz. The input format is recognised from the content. Needs dqquery[fast].",
    )
    c.add_argument("input", metavar="IN", help="a JSON snapshot (.json, .json.gz) or a columnar file")
    c.add_argument("output", metavar="OUT", help="the file to write (atomically)")
    c.set_defaults(func=cmd_snapshot_convert)
    e = snap_sub.add_parser(
        "export",
        help="write a snapshot as Parquet tables for DuckDB, Spark, pandas, polars",
        description="Write a snapshot as Parquet files into DIR (docs/columnar.md, 'Exporting tables'): with --level range "
        "(default) the columnar snapshot's tables and meta.json; with --level lumisection one table, lumisections.parquet, "
        "one row per lumisection dqquery evaluates, columns named as the field catalog. Needs dqquery[fast].",
    )
    e.add_argument("--format", choices=["parquet"], default="parquet", help="the file format (parquet)")
    e.add_argument("--level", choices=["range", "lumisection"], default="range", help="range: the columnar tables (default); "
                   "lumisection: one flat row per evaluated lumisection")
    e.add_argument("--dataset", metavar="PATTERN", help="with --level lumisection: the datasets to export (RR style pattern); "
                   "default every dataset")
    e.add_argument("input", metavar="SNAPSHOT", help="a JSON snapshot, a columnar file, or 'demo'")
    e.add_argument("directory", metavar="DIR", help="the folder to write into (created when missing; each file written atomically)")
    e.set_defaults(func=cmd_snapshot_export)

    s = sub.add_parser(
        "demo",
        help="the whole pipeline on bundled SYNTHETIC 2018 data, built to reproduce the official golden JSON",
        description="Evaluate the standard 2018 golden-JSON query on the bundled demo snapshot and compare with the official "
        "file. The snapshot is synthetic (generated to match the official file), not Run Registry data: the demo shows the "
        "pipeline, loss attribution and speed, not agreement with the real Run Registry.",
    )
    s.add_argument("-o", "--output", metavar="FILE", help="also write the computed golden JSON here")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("examples", help="write the example files of the how-to pages into a folder",
                       description="Write golden2018.dq (the standard 2018 query) and rr_configs/*.json (real Run Registry "
                       "json-logic configs) into DIR, for the documentation's how-to pages.")
    s.add_argument("directory", nargs="?", default=".", metavar="DIR", help="folder to write into (default: the current folder)")
    s.set_defaults(func=cmd_examples)

    for name, page in DOCS_PAGES.items():  # every sub-command's help ends with its docs page
        command = sub.choices[name]
        lead = textwrap.fill(command.epilog, 100, break_on_hyphens=False) + "\n\n" if command.epilog else ""
        command.epilog = f"{lead}docs: {DOCS_URL}{page}"
        if command.description:  # the raw formatter keeps the lines: wrap them here
            command.description = textwrap.fill(command.description, 100, break_on_hyphens=False)
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    return p


class _OneLineWarnings:
    """``warnings.showwarning`` for one command: one line per warning, without source locations, and each
    distinct message once (a query is read several times: checked, compiled, evaluated)."""

    def __init__(self) -> None:
        self.shown: set[str] = set()

    def __call__(self, message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
        text = str(message)
        if text not in self.shown:
            self.shown.add(text)
            print(f"warning: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    from .errors import QueryWarning

    guard = _ClosedPipeGuard(sys.stdout)
    sys.stdout = guard  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _OneLineWarnings()
            warnings.simplefilter("always", QueryWarning)  # deduplicated by message above, not by code location
            status = _main(argv)
        guard.flush()  # what is still buffered: a reader that left after our last write shows here, not at exit
    except BrokenPipeError:
        guard.closed = True
        status = 0
    finally:
        sys.stdout = guard.stream
    if guard.closed:
        guard.silence()
        return CLOSED_PIPE_STATUS
    return status


CLOSED_PIPE_STATUS = 141
"""Exit status when standard output was closed early (128 + SIGPIPE, as a Unix tool killed by SIGPIPE)."""


class _ClosedPipeGuard:
    """Standard output that turns a closed pipe into silence: later writes are dropped, so the command goes on
    to finish its file outputs; :func:`main` then exits with :data:`CLOSED_PIPE_STATUS`."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.closed = False

    def write(self, text: str) -> int:
        if not self.closed:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self.closed = True
        return len(text)

    def flush(self) -> None:
        if not self.closed:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.closed = True

    def silence(self) -> None:
        """Point file descriptor 1 at /dev/null so that the interpreter's final flush can not fail again."""
        import os

        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return  # not a real file (captured output in tests)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except QueryError as err:
        print(err.render(), file=sys.stderr)
        return 2
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (completed requests are kept in the cache; run the same command again to continue)", file=sys.stderr)
        return 130
    except Exception as err:
        # Errors about the user's input or environment (bad files, unknown names, missing credentials,
        # unreachable services, failed fetches) carry a message written for the user: print it without a
        # traceback. Anything else is a bug: let it show.
        if _is_user_error(err):
            from .fetch import RESUME_ADVICE

            message = str(err)
            if RESUME_ADVICE in message:  # the command-line way to continue an interrupted fetch
                message = message.replace(
                    RESUME_ADVICE,
                    "run the same command again without --no-cache so that completed requests are kept"
                    if getattr(args, "no_cache", False)
                    else "completed requests are in the cache: run the same command again to continue",
                )
            if isinstance(err, OSError) and err.strerror:
                message = err.strerror if err.filename is None or str(err.filename) in err.strerror else f"{err.strerror}: {err.filename}"
            print(f"error: {message}", file=sys.stderr)
            return 2
        raise


def _is_user_error(err: BaseException) -> bool:
    """dqquery's own error classes, and ValueError/OSError raised by dqquery code (bad input, files, names)."""
    from .sources.http import SourceError

    if isinstance(err, SourceError):
        return True
    if isinstance(err, OSError):
        return True  # files and folders the user named: missing, unreadable, no space left
    if not isinstance(err, (ValueError, RuntimeError)):
        return False
    if type(err).__module__.startswith("dqquery."):
        return True
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    package_dir = str(Path(__file__).resolve().parent)
    return tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(package_dir)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
