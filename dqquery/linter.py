"""Lint filters people already wrote: one filter (JSON) or the filters of a Python file, each finding located (``dqquery.lint``).

:func:`lint` reads a file (or bytes) and returns a :class:`LintReport`: every :class:`LintFinding` with its
``file:line:col``, its code (:data:`dqquery.importers.findings.FINDINGS`), the dqquery query that selects what
the service really selects for the filter (or the intended one, when a finding names it) and the fixed filter
compiled from that query by dqquery's compiler for the same service (a refusal shown as such).

Decisions:
* The findings come from the importers (``from_rr``, ``from_dials``, ``from_oms``, json-logic): the linter only
  finds the filters, reads them as data, locates what the importers report, and adds what only the file shows
  (JSON that does not parse, ``//`` comments, Python that does not parse, a DIALS filter object sent to another
  endpoint's client method, a SIMILAR TO dataset filter of ``create_json``, an argument that is not a literal).
* A Python file is parsed with :mod:`ast` and never executed or imported; a Jupyter notebook's code cells are read
  as one file (magics as ``pass``), and its findings located in the ``.ipynb`` text where the source line is. A filter is read only from literals
  (dicts, lists, tuples, strings, numbers, booleans, ``None``, a negative number); a name counts as its value
  when the file binds it exactly once, by ``name = <literal>`` above the use. Anything else (a call, an
  f-string, a loop variable, ``**kwargs``) makes the whole filter "not checked" (a note): never guessed.
* The calls recognised are the ones that take filters: ``runregistry`` 3.1.2 ``get_runs``/``get_datasets``
  (``filter=``, ``ignore_filter_transformation=``), ``create_json`` and the older ``generate_json`` (json-logic),
  the cmsdials filter classes of :data:`dqquery.dials_api.ENDPOINTS` and the client methods they are passed to
  (``dials.h2d.list_all(f)``, also through a variable), ``dials.oms.query(endpoint=, filters=[OMSFilter(...)])``
  and omsapi chains (``q = omsapi.query("runs")`` then ``q.filter(attr, value, operator=...)``; the receiver of
  ``query`` must have ``oms`` in its name, so that ``df.query(...)`` is not taken for one). A call is recognised
  by its last name (``runregistry.get_runs`` and ``get_runs`` alike).
* A finding is located at the part of the filter its ``where`` names (the longest known prefix), else at the
  filter. JSON positions come from reading the text as a Python expression (``true``/``false``/``null`` have
  the length of ``True``/``False``/``None``), values from the strict JSON reader.
* The suggestion is the import's query (what the service selects) and, where a finding implies it, the intended
  query (a finding's ``fix`` that is itself a query; an RR flag given ``true``, which the client drops, meant as
  ``GOOD``: the real-filters records write it so). The fixed filter is the intended query, else the selected one,
  compiled for the service's target (``rr:runs``, ``rr:raw``, ``rr:datasets``, ``rr:datasets-raw``,
  ``dials:<endpoint>``, ``oms:<resource>``, ``jsonlogic``); a refusal is shown as such. A finding with neither a
  fix nor an intended query gets the generic advice of :data:`GENERIC_FIXES`: the query of what the filter selects
  now is no fix (it repeats the filter), so a warning such as ``flag-means-some-lumisection`` still says what to do.
* A json-logic rule whose variables are all bare names is read as an RR component-classifier rule (those are
  evaluated on the run's and OMS lumisection's attributes); the dataset filter of ``create_json`` (or of a stored
  portal config) is checked here, so that its finding points at the argument.
* Input that is no text (not UTF-8) or unreadable is a located :class:`LintInputError` (the CLI's exit 2);
  anything wrong inside the text is a finding (exit 1 for an error or a warning, 0 with notes only). Text that is not
  JSON (an empty file too) given for ``--rr``/``--dials``/``--oms`` is ``lint-filter-not-read``, not a json-logic code.
  A service option with a ``.py``/``.ipynb`` file (or ``--python``) is refused (exit 2), not silently ignored.
"""

from __future__ import annotations

import ast
import io
import json
import os
import tokenize
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .dials_api import ENDPOINT_ALIASES, ENDPOINTS
from .errors import QueryError
from .files import load_json_document
from .importers.findings import FINDINGS, Finding, Imported, finding
from .limits import MAX_FILE_BYTES, MAX_JSON_DEPTH

__all__ = ["LintFinding", "LintInputError", "LintReport", "lint", "lint_filter", "lint_notebook", "lint_python"]

SERVICES: tuple[str, ...] = ("rr", "dials", "oms", "jsonlogic")

RR_CALLS: dict[str, str] = {"get_runs": "runs", "get_datasets": "datasets"}
"""runregistry 3.1.2 functions that take a ``filter=`` (user format; raw with ``ignore_filter_transformation``)."""

JSONLOGIC_CALLS: tuple[str, ...] = ("create_json", "generate_json")
"""runregistry functions whose first argument (``json_logic=``) is a json-logic rule for the JSON portal."""

DIALS_CLASSES: dict[str, str] = {e.cmsdials_filters: e.name for e in ENDPOINTS.values()}
"""cmsdials 2.4.1 filter class -> the DIALS endpoint it is written for."""

DIALS_CLIENT_ATTRIBUTES: dict[str, str] = {
    "h1d": "th1", "h2d": "th2", "lumi": "lumisection", "run": "run", "file_index": "file-index",
    "dataset_index": "dataset-index", "mes": "mes", "ml_bad_lumis": "ml-bad-lumisection", "ml_models_index": "ml-models-index",
}
"""cmsdials 2.4.1 ``Dials`` client attribute -> the endpoint its ``list``/``list_all`` requests."""

DIALS_LIST_METHODS: tuple[str, ...] = ("list", "list_all")

GENERIC_FIXES: dict[str, str] = {
    "client-raises-unknown-attribute": "use a key the runregistry client lists (runregistry/attributes.py), or write the "
    "selection as a dqquery query and compile it: dqquery compile --to rr:runs (or rr:datasets) '...'",
    "client-rejects-invalid-status": "use one of GOOD, BAD, STANDBY, EXCLUDED, NOTSET, EMPTY",
    "client-ignores-non-dict-filter": "pass a dict, e.g. {\"run_number\": 355374}; dqquery compile --to rr:runs writes one from a query",
    "client-drops-boolean-flag-value": "give the flag a status string: {\"tracker-strip\": \"GOOD\"}",
    "omsapi-drops-unknown-attribute": "use an attribute of the resource (dqquery fields --grep NAME lists dqquery's names)",
    "cmsdials-unknown-kwarg-ignored": "use the keywords the cmsdials 2.x filter class declares (dqquery compile --to dials:ENDPOINT "
    "writes them from a query)",
    "dials-undeclared-parameter": "use a parameter the endpoint declares (dqquery compile --to dials:ENDPOINT writes them)",
    "h1d-filter-on-h2d-endpoint": "use the filter class of the endpoint the request goes to",
    "jsonlogic-comments": "remove the // comments (JSON has none)",
    "jsonlogic-file-not-json": "make the file valid JSON (dqquery compile --to jsonlogic writes a rule from a query)",
    "jsonlogic-unknown-var": "use a variable of the JSON portal (run.oms.*, run.rr.*, lumisection.rr.*, lumisection.oms.*, "
    "dataset.name)",
    "jsonlogic-in-args-reversed": "write the literal first: {\"in\": [\"25ns\", {\"var\": ...}]} tests for a substring",
    "jsonlogic-malformed": "write the rule as a dqquery query and compile it: dqquery compile --to jsonlogic '...'",
    "readme-snippet-invalid-python": "fix the syntax at this place (a missing comma between dict entries is the usual cause)",
    "lint-filter-not-read": "write the selection as a dqquery query and compile it for the service",
    "raw-key-passthrough": "use the attribute's own name (the client adds the prefix), or send the whole filter in the "
    "backend format with ignore_filter_transformation=True",
    "flag-means-some-lumisection": "to require the status on every lumisection, evaluate the query on the lumisections "
    "(dqquery golden; dqquery plan shows the request and the local residual)",
    "rr-flags-checked-separately": "evaluate the query on the lumisections (dqquery golden; dqquery plan shows the residual)",
    "rr-backend-rejects": "write the selection as a dqquery query: dqquery compile --to rr:raw writes a filter the backend reads",
    "like-without-percent": "surround the value with % for a substring match, or use = for an exact one",
    "dataset-filter-similar-to-wildcard": r"write '\_' for a literal underscore, or keep it if any character will do",
    "dials-ls-number-typo": "send ls_number__lte as a query parameter yourself, or filter the rows by ls_number after fetching",
    "dials-rejects": "give the parameter a value of its type (a number, a valid regular expression)",
    "dials-value-ignored": "give a boolean as true or false, a string not blank",
    "regex-looks-like-glob": "a regular expression is a search: drop the trailing '*', anchor with '^' and '$' where meant",
    "regex-unescaped-metachar": "escape the character with a backslash where it is meant literally",
    "oms-lowercase-operator": "write the operator in upper case (EQ, NEQ, LT, LE, GT, GE, LIKE)",
    "oms-rejects": "use an operator OMS knows: EQ, NEQ, LT, LE, GT, GE, LIKE, CT",
    "oms-operator-not-in-cmsdials": "with cmsdials' OMSFilter use LIKE with % around the value",
    "jsonlogic-missing-value-passes": "add a clause that requires the value where it must be present",
}
"""What to do about a finding whose importer gave no fix, when there is no intended query to suggest either."""

_NOT_CHECKED = "lint-not-checked"
_NOT_READ = "lint-filter-not-read"
_JSONLOGIC_OPERATORS = frozenset({
    "var", "missing", "missing_some", "if", "?:", "==", "===", "!=", "!==", "!", "!!", "or", "and", ">", ">=", "<", "<=",
    "max", "min", "+", "-", "*", "/", "%", "map", "reduce", "filter", "all", "none", "some", "merge", "in", "cat", "substr", "log",
})


class LintInputError(ValueError):
    """The input cannot be linted at all (unreadable, not text, no service given for a filter): exit 2."""


@dataclass(frozen=True)
class LintFinding:
    """One finding at ``path:line:col``: the importer's :class:`Finding` (``code``, ``message``, ``where``, ``fix``)
    plus where it was found (``call``: the function or class the filter is given to; ``target``: dqquery's target
    for the service) and the suggestion: ``query`` (text, ``None`` when there is none), ``fixed`` (the filter
    compiled from it) or ``refusal`` (the compiler's message when it cannot express the query)."""

    path: str
    line: int
    col: int
    finding: Finding
    call: str = ""
    target: str = ""
    query: str | None = None
    fixed: Any = None
    refusal: str = ""
    intended: str | None = None
    filter_at: tuple[int, int] = (0, 0)  # where the filter itself starts (its findings are grouped under it)

    @property
    def code(self) -> str:
        return self.finding.code

    @property
    def severity(self) -> str:
        return self.finding.severity

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "col": self.col, "code": self.code, "severity": self.severity,
                "message": self.finding.message, "where": self.finding.where, "fix": self.finding.fix, "call": self.call,
                "target": self.target, "query": self.query, "intended": self.intended, "fixed": self.fixed, "refusal": self.refusal or None,
                "filter_line": self.filter_at[0], "filter_col": self.filter_at[1]}

    def headline(self) -> str:
        place = f" at {self.finding.where}" if self.finding.where else ""
        return f"{self.location}: {self.severity}[{self.code}]{place}: {self.finding.message}"


@dataclass(frozen=True)
class LintReport:
    """What :func:`lint` found in one file: the findings in file order and how many filters were checked."""

    path: str
    findings: tuple[LintFinding, ...]
    filters: int

    def __post_init__(self) -> None:
        """Every error or warning says what to do: one found without a fix or an intended query gets the generic
        advice of :data:`GENERIC_FIXES`, wherever in the linter it was made."""
        object.__setattr__(self, "findings", tuple(_with_fix(f) for f in self.findings))

    @property
    def clean(self) -> bool:
        """No error and no warning (notes allowed)."""
        return all(f.severity == "note" for f in self.findings)

    @property
    def exit_status(self) -> int:
        """0 clean, 1 an error or a warning (``dqquery lint``)."""
        return 0 if self.clean else 1

    def counts(self) -> dict[str, int]:
        return {s: sum(f.severity == s for f in self.findings) for s in ("error", "warning", "note")}

    def render(self) -> str:
        """The text report: each finding with its fix; the suggestion once per filter, after its findings."""
        lines: list[str] = []
        groups: list[list[LintFinding]] = []
        for f in self.findings:  # consecutive findings of one filter form a group
            if groups and (groups[-1][0].filter_at, groups[-1][0].call) == (f.filter_at, f.call) and f.filter_at != (0, 0):
                groups[-1].append(f)
            else:
                groups.append([f])
        for group in groups:
            for f in group:
                lines.append(f.headline())
                if f.finding.fix:
                    lines.append(f"  fix: {f.finding.fix}")
            suggested = next((f for f in group if f.query is not None or f.intended is not None or f.refusal), None)
            if suggested is not None:
                lines.extend(_suggestion_lines(suggested))
        c = self.counts()
        summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in c.items() if n)
        noun = "filter" if self.filters == 1 else "filters"
        lines.append(f"{self.path}: {self.filters} {noun} checked, {summary or 'no findings'}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.path, "filters": self.filters, "counts": self.counts(), "clean": self.clean,
                "findings": [f.to_json() for f in self.findings]}


def _with_fix(f: LintFinding) -> LintFinding:
    if f.finding.fix or f.intended is not None or f.severity == "note" or f.code not in GENERIC_FIXES:
        return f
    return replace(f, finding=replace(f.finding, fix=GENERIC_FIXES[f.code]))


def _suggestion_lines(f: LintFinding) -> list[str]:
    lines = [f"  query: {f.query}"] if f.query is not None else []
    if f.intended is not None:
        lines.append(f"  intended: {f.intended}")
    if f.refusal:
        lines.append(f"  no fixed filter: {f.refusal}" if not f.target else f"  {f.target} cannot express it: {f.refusal}")
    elif f.fixed is not None:
        lines.append(f"  {f.target}: {json.dumps(f.fixed, sort_keys=False, default=str)}")
    return lines


# ------------------------------------------------------------------------------------------------ entry points


def lint(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    python: bool | None = None,
    rr: str | None = None,
    raw: bool = False,
    dials: str | None = None,
    oms: str | None = None,
    jsonlogic: bool = False,
) -> LintReport:
    """Lint a file (a path) or its content (``bytes``; ``name`` labels the report). A Python file (``.py``, or
    ``python=True``) is scanned for filters; anything else is one filter in JSON, for the service given by
    ``rr`` (``runs``/``datasets``, with ``raw``), ``dials`` (an endpoint), ``oms`` (a resource) or ``jsonlogic``,
    or guessed when unambiguous (a json-logic rule)."""
    if isinstance(source, bytes):
        raw_bytes, label = source, name or "<input>"
    else:
        label = name or str(source)
        raw_bytes = _read(Path(source))
    text = _decode(raw_bytes, label)
    scanned = python or (python is None and label.endswith((".py", ".ipynb")))
    options = [o for o, given in (("--rr", rr), ("--raw", raw), ("--dials", dials), ("--oms", oms), ("--jsonlogic", jsonlogic)) if given]
    if scanned and options:  # a script's calls name their services; an option that would be ignored is refused
        raise LintInputError(f"{' and '.join(options)} {'describes' if len(options) == 1 else 'describe'} one JSON filter, but {label} is read as Python (each call names "
                             "its service): drop the option")
    if label.endswith(".ipynb") and not python:
        return lint_notebook(text, name=label)
    if python is None:
        python = label.endswith(".py") or (not label.endswith(".json") and _looks_like_python(text))
    if python:
        return lint_python(text, name=label)
    return lint_filter(text, name=label, rr=rr, raw=raw, dials=dials, oms=oms, jsonlogic=jsonlogic)


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LintInputError(f"{path}: {size} bytes is more than dqquery reads ({MAX_FILE_BYTES})")
        return path.read_bytes()
    except OSError as exc:
        raise LintInputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LintInputError(f"{label}:{line}:{col}: not UTF-8 text (byte {exc.start}); give a Python file or a JSON filter") from None


def _looks_like_python(text: str) -> bool:
    """JSON starts with ``{``, ``[`` or a string (after blanks and ``//`` comment lines); anything else is Python."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("//"):
            return stripped[0] not in '{["'
    return False


# ------------------------------------------------------------------------------------------------ one JSON filter


def lint_filter(
    text: str,
    *,
    name: str = "<input>",
    rr: str | None = None,
    raw: bool = False,
    dials: str | None = None,
    oms: str | None = None,
    jsonlogic: bool = False,
) -> LintReport:
    """Lint one filter written as JSON (see :func:`lint`)."""
    chosen = [s for s, given in (("rr", rr), ("dials", dials), ("oms", oms), ("jsonlogic", jsonlogic)) if given]
    if len(chosen) > 1:
        raise LintInputError(f"give one service, not {' and '.join(chosen)}")
    if rr is not None and rr not in ("runs", "datasets"):
        raise LintInputError(f"--rr takes runs or datasets, not {rr!r}")
    if raw and rr is None:
        raise LintInputError("--raw goes with --rr runs|datasets")
    findings: list[LintFinding] = []
    comments = list(_json_comments(text))
    for line, col in comments:
        findings.append(LintFinding(name, line, col, finding("jsonlogic-comments", "a // comment: JSON has no comments",
                                                             fix=GENERIC_FIXES["jsonlogic-comments"])))
    if comments:  # as written the file is not JSON; it is checked with the comments blanked out
        findings.append(LintFinding(name, *comments[0], finding(
            "jsonlogic-file-not-json", "not valid JSON as written (// comments); checked with the comments removed",
            fix=GENERIC_FIXES["jsonlogic-comments"])))
    body = _without_comments(text) if comments else text
    try:
        value = load_json_document(body, ValueError)
    except ValueError as exc:
        line, col = _json_error_position(body)
        findings.append(LintFinding(name, line, col, _not_json(exc, body, rr is not None or dials is not None or oms is not None)))
        return LintReport(name, tuple(findings), 1)
    service, kind, raw_format, call = _service_of(value, rr, raw, dials, oms, jsonlogic)
    positions = _json_positions(body)
    dataset_filter = None
    if service == "jsonlogic" and isinstance(value, dict) and "json_logic" in value:  # a portal request or saved config
        dataset_filter = value.get("dataset_name_filter")
        value = value["json_logic"]
        if isinstance(value, str):  # a portal request carries the rule as JSON text
            try:
                value = load_json_document(value, ValueError)
            except ValueError as exc:
                at = positions.get("json_logic", (1, 1))
                findings.append(LintFinding(name, *at, finding("jsonlogic-file-not-json", "the json_logic text is not valid JSON: "
                                                                + _short(exc).removeprefix("not valid JSON: "),
                                                                fix=GENERIC_FIXES["jsonlogic-file-not-json"])))
                return LintReport(name, tuple(findings), 1)
        positions = {**{k[len("json_logic."):]: v for k, v in positions.items() if k.startswith("json_logic.")},
                     "": positions.get("json_logic", (1, 1)), "dataset_name_filter": positions.get("dataset_name_filter", (1, 1))}
    line, col = positions.get("", (1, 1))
    site = _Site(name, line, col, call, positions)
    checked = _check(site, service, kind, raw_format, value)
    if isinstance(dataset_filter, str):
        checked.extend(_dataset_filter_findings(site, dataset_filter, service, positions["dataset_name_filter"]))
    findings.extend(sorted(checked, key=lambda f: (f.line, f.col)))
    return LintReport(name, tuple(findings), 1)


def _not_json(exc: ValueError, body: str, other_service: bool) -> Finding:
    """The finding for a filter text that is not JSON: ``jsonlogic-file-not-json`` for a rule (or a file of unknown
    service), ``lint-filter-not-read`` for an RR, DIALS or OMS filter (not a json-logic matter); always with a fix."""
    message = _short(exc)
    fix = "give the filter as JSON (true/false/null, double quotes); dqquery compile writes one from a query"
    if not message.startswith("not valid JSON"):  # valid JSON dqquery does not read (too deep, duplicate keys ...)
        message = f"not read: {message}"
        fix = "write each key once and nest the filter only as deep as it needs; dqquery compile writes one from a query"
    if not body.strip():
        message = "the input is empty: there is no filter"
    if other_service:
        return finding("lint-filter-not-read", message, fix=fix)
    return finding("jsonlogic-file-not-json", message, fix=GENERIC_FIXES["jsonlogic-file-not-json"])


def _service_of(value: Any, rr: str | None, raw: bool, dials: str | None, oms: str | None,
                jsonlogic: bool) -> tuple[str, str, bool, str]:
    """(service, kind, raw, call label) from the options, or guessed: only a json-logic rule is unambiguous."""
    if rr is not None:
        return "rr", rr, raw, f"Run Registry {rr} filter" + (" (raw)" if raw else "")
    if dials is not None:
        endpoint = ENDPOINT_ALIASES.get(dials, dials)
        if endpoint not in ENDPOINTS:
            raise LintInputError(f"unknown DIALS endpoint {dials!r}; one of {', '.join(ENDPOINTS)}")
        return "dials", endpoint, False, f"DIALS {endpoint}"
    if oms is not None:
        return "oms", oms, False, f"OMS {oms}"
    if jsonlogic or _is_jsonlogic(value):
        rule = value.get("json_logic") if isinstance(value, dict) and "json_logic" in value else value
        if _bare_variables_only(rule):  # RR's component classifiers name attributes bare (gem_included)
            return "jsonlogic", "rr-component-classifier", False, "json-logic rule (RR component classifier)"
        return "jsonlogic", "json_portal", False, "json-logic rule"
    raise LintInputError("say which service the filter is for: --rr runs|datasets [--raw], --dials ENDPOINT, --oms RESOURCE "
                         "or --jsonlogic (only a json-logic rule is recognised by its shape)")


def _is_jsonlogic(value: Any) -> bool:
    """A json-logic rule: every object has exactly one key, an operator (or a portal request with ``json_logic``)."""
    if isinstance(value, dict) and "json_logic" in value:
        return True
    if not isinstance(value, dict) or len(value) != 1:
        return False
    stack, seen = [value], 0
    while stack and seen < 100_000:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            if len(item) != 1 or next(iter(item)) not in _JSONLOGIC_OPERATORS:
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _bare_variables_only(rule: Any) -> bool:
    """The rule has variables and none is a JSON-portal path (``run.``, ``dataset.``, ``lumisection.``)."""
    variables = [c["var"] for _, c in _jsonlogic_clauses(rule) if "var" in c]
    names = [v[0] if isinstance(v, list) and v else v for v in variables]
    return bool(names) and all(isinstance(n, str) and not n.startswith(("run.", "dataset.", "lumisection.")) for n in names)


def _json_comments(text: str) -> Iterator[tuple[int, int]]:
    """(line, col) of each ``//`` outside a JSON string."""
    for number, line in enumerate(text.splitlines(), 1):
        in_string = escaped = False
        for col, char in enumerate(line):
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif line.startswith("//", col):
                yield number, col + 1
                break


def _without_comments(text: str) -> str:
    """The text with each ``//`` comment blanked out (lines and columns kept)."""
    lines = text.split("\n")
    for line, col in _json_comments(text):
        current = lines[line - 1]
        lines[line - 1] = current[: col - 1] + " " * (len(current) - col + 1)
    return "\n".join(lines)


def _json_error_position(text: str) -> tuple[int, int]:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.lineno, exc.colno
    except (ValueError, RecursionError):
        pass
    return 1, 1


def _short(exc: BaseException) -> str:
    message = str(exc)
    return message if len(message) <= 200 else message[:200] + "..."


def _json_positions(text: str) -> dict[str, tuple[int, int]]:
    """Path in the filter (``run_number.or[1]``) -> (line, col) of that part of a JSON text, read as a Python
    expression (JSON's three names respelled in place); empty when it does not read (positions are a help)."""
    if len(text) > 2_000_000:
        return {}
    try:
        tokens = []
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and tok.string in ("true", "false", "null"):
                tok = tok._replace(string={"true": "True", "false": "False", "null": "None"}[tok.string])
            tokens.append(tok)
        with warnings.catch_warnings():  # JSON's "\/" is an invalid escape to Python: no SyntaxWarning on stderr
            warnings.simplefilter("ignore")
            expression = ast.parse(tokenize.untokenize(tokens).strip() or "None", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError):
        return {}
    positions: dict[str, tuple[int, int]] = {}
    _node_positions(expression, "", positions, 0)
    return positions


def _node_positions(node: ast.AST, path: str, out: dict[str, tuple[int, int]], depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        return
    out.setdefault(path, (node.lineno, node.col_offset + 1))  # type: ignore[attr-defined]
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                sub = f"{path}.{key.value}" if path else key.value
                out.setdefault(sub, (key.lineno, key.col_offset + 1))
                _node_positions(value, sub, out, depth + 1)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for i, item in enumerate(node.elts):
            _node_positions(item, f"{path}[{i}]", out, depth + 1)


# ------------------------------------------------------------------------------------------------ checking one filter


@dataclass
class _Site:
    """Where one filter is: file, the position of the filter, the call it is given to, and positions of its parts."""

    path: str
    line: int
    col: int
    call: str
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def locate(self, where: str) -> tuple[int, int]:
        """The position of the longest known prefix of ``where`` (a path in the filter); an importer may name a part
        by the backend's key (``rr_attributes.class.like`` for the user's ``class``), so leading segments are
        dropped until a prefix is known; else the position of the filter."""
        segments = where.split(".")
        for start in range(len(segments)):
            path = ".".join(segments[start:])
            ends = [i for i, char in enumerate(path) if char in ".["] + [len(path)]
            for end in reversed(ends):  # the longest prefix first, each a dictionary look-up
                if end and path[:end] in self.positions:
                    return self.positions[path[:end]]
        return self.line, self.col

    def at(self, f: Finding, **suggestion: Any) -> LintFinding:
        line, col = self.locate(f.where) if f.where else (self.line, self.col)
        if not f.fix and suggestion.get("intended") is None and f.code in GENERIC_FIXES:
            f = replace(f, fix=GENERIC_FIXES[f.code])
        return LintFinding(self.path, line, col, f, self.call, filter_at=(self.line, self.col), **suggestion)


def target_for(service: str, kind: str, raw: bool = False) -> str | None:
    """dqquery's compile target for a service's filter (``None``: dqquery has no compiler for it)."""
    if service == "rr":
        return {("runs", False): "rr:runs", ("runs", True): "rr:raw", ("datasets", False): "rr:datasets",
                ("datasets", True): "rr:datasets-raw"}[(kind, raw)]
    if service == "dials":
        return f"dials:{ENDPOINT_ALIASES.get(kind, kind)}"
    if service == "oms":
        return f"oms:{kind}" if kind in ("runs", "lumisections") else None
    return "jsonlogic"


def import_filter(service: str, value: Any, kind: str, raw: bool = False) -> Imported:
    """The importer of ``service`` on one filter (``kind``: RR runs/datasets, DIALS endpoint, OMS resource)."""
    importer = _IMPORTERS[service]
    return importer(value, kind, raw)


def _import_rr(value: Any, kind: str, raw: bool) -> Imported:
    from .importers.rr import from_rr

    return from_rr(value, kind=kind, raw=raw)


def _import_dials(value: Any, kind: str, raw: bool) -> Imported:
    from .importers.dials import from_dials

    return from_dials(value, kind)


def _import_oms(value: Any, kind: str, raw: bool) -> Imported:
    from .importers.oms import from_oms

    return from_oms(value, kind)


def _import_jsonlogic(value: Any, kind: str, raw: bool) -> Imported:
    from .importers.jsonlogic import import_jsonlogic

    return import_jsonlogic(value, kind)


def _jsonlogic_clauses(rule: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, clause) of every one-operator object of a rule, iteratively (no recursion limit)."""
    stack: list[tuple[str, Any]] = [("", rule)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            if len(node) == 1:
                yield where, node
            for key, value in node.items():
                stack.append((f"{where}.{key}" if where else str(key), value))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(node))


_IMPORTERS: dict[str, Callable[[Any, str, bool], Imported]] = {
    "rr": _import_rr, "dials": _import_dials, "oms": _import_oms, "jsonlogic": _import_jsonlogic,
}
"""service -> importer (value, kind, raw) -> :class:`Imported`."""


def _check(site: _Site, service: str, kind: str, raw: bool, value: Any) -> list[LintFinding]:
    """The findings of one filter, each with the suggestion (query and fixed filter)."""
    target = target_for(service, kind, raw) or ""
    try:
        imported = import_filter(service, value, kind, raw)
    except QueryError as err:
        return [site.at(finding(_NOT_READ, f"dqquery cannot read this filter: {err.message}"))]
    except RecursionError:
        return [site.at(finding(_NOT_READ, "dqquery cannot read this filter: nested too deeply"))]
    suggestion = _suggestion(imported, target, value)
    return [site.at(f, target=target, **suggestion) for f in imported.findings]


def _suggestion(imported: Imported, target: str, value: Any = None) -> dict[str, Any]:
    """The query the filter selects, the intended one where a finding implies it (:func:`_intended`), and the
    fixed filter: the intended query (else the selected one) compiled for the service."""
    from .unparse import unparse

    intended = _intended(imported, value)
    query = intended if intended is not None else imported.query
    if query is None:
        return {}
    out: dict[str, Any] = {"query": None if imported.query is None else unparse(imported.query),
                           "intended": None if intended is None else unparse(intended)}
    if not target:
        return {**out, "refusal": f"dqquery has no compiler for the OMS resource {imported.kind!r}"}
    from .targets.base import compile as compile_query

    try:
        request = compile_query(query, target).request
    except QueryError as err:
        return {**out, "refusal": err.message}
    return {**out, "fixed": dict(request) if isinstance(request, dict) else request}


def _intended(imported: Imported, value: Any) -> Any:
    """The query the author evidently meant, where a finding says it: a fix that is itself a query, or an RR flag
    the client dropped because its value was ``true`` (meant: ``GOOD``, as the flag's other uses write it)."""
    from . import ast as A
    from .query import parse

    for f in imported.findings:
        if f.fix and f.severity != "note":
            try:
                return parse(f.fix)
            except (QueryError, RecursionError):
                continue
    dropped = [f.where for f in imported.findings if f.code == "client-drops-boolean-flag-value" and isinstance(value, dict)
               and value.get(f.where) in (True, {"=": True})]
    if dropped and imported.query is not None:
        try:
            return A.make_and([imported.query, *(parse(f"{flag} == GOOD") for flag in dropped)])
        except QueryError:
            return None
    return None


def _dataset_filter_findings(site: _Site, pattern: str, service: str, position: tuple[int, int] | None = None) -> list[LintFinding]:
    if "_" not in pattern:
        return []
    line, col = position or (site.line, site.col)
    return [LintFinding(site.path, line, col, finding(
        "dataset-filter-similar-to-wildcard", f"dataset_name_filter {pattern!r}: RR matches it with SIMILAR TO, where each '_' "
        "is any one character", fix=GENERIC_FIXES["dataset-filter-similar-to-wildcard"]), site.call,
        filter_at=(site.line, site.col))]


# ------------------------------------------------------------------------------------------------ Python files


class _NotLiteral(Exception):
    """A part of a filter that is not a literal: ``node`` is where, ``why`` says what it is."""

    def __init__(self, node: ast.AST, why: str) -> None:
        super().__init__(why)
        self.node = node
        self.why = why


def lint_python(text: str, *, name: str = "<input>") -> LintReport:
    """Lint the filters of a Python file's text (parsed with :mod:`ast`, never executed)."""
    nul = text.find("\0")
    if nul >= 0:  # Python refuses a NUL byte anywhere in a source file
        line, col = text.count("\n", 0, nul) + 1, nul - text.rfind("\n", 0, nul)
        return LintReport(name, (LintFinding(name, line, col, finding("readme-snippet-invalid-python", "not valid Python: a NUL byte")),), 0)
    try:
        with warnings.catch_warnings():  # the user's invalid escapes are not ours to warn about
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename="<dqquery lint>")  # not the path: Python would re-read that file for columns
    except SyntaxError as err:
        line, col = err.lineno or 1, err.offset or 1
        detail = (err.msg or "invalid syntax").split(" (")[0]
        return LintReport(name, (LintFinding(name, line, col, finding(
            "readme-snippet-invalid-python", f"not valid Python: {detail}")),), 0)
    except (ValueError, RecursionError, MemoryError):  # nesting beyond the parser's stack
        return LintReport(name, (LintFinding(name, 1, 1, finding("readme-snippet-invalid-python",
                                                                  "not valid Python: nested too deeply for Python's parser")),), 0)
    scanner = _Scanner(name, tree)
    try:
        scanner.scan()
    except RecursionError:
        return LintReport(name, (LintFinding(name, 1, 1, finding("readme-snippet-invalid-python",
                                                                  "not checked: the file is nested too deeply")),), 0)
    found = sorted(scanner.findings, key=lambda f: (f.filter_at if f.filter_at != (0, 0) else (f.line, f.col), f.line, f.col))
    return LintReport(name, tuple(found), scanner.filters)


_MAGIC_PREFIXES = ("%", "!", "?")


def lint_notebook(text: str, *, name: str = "<input>") -> LintReport:
    """Lint the code cells of a Jupyter notebook as one Python file (names bound in one cell are seen by the next),
    never executed; IPython magics (``%``, ``!``) read as ``pass``, a cell that is not Python is its own finding.
    Findings are located in the ``.ipynb`` file itself (the line and column of the source text in its JSON)."""
    notebook = load_json_document(text, lambda message: LintInputError(f"{name}: not a Jupyter notebook: {message}"))
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise LintInputError(f"{name}: not a Jupyter notebook (no list of cells)")
    positions = _json_positions(text)
    lines: list[str] = []
    origin: list[tuple[int, int, str] | None] = []  # combined line -> (cell, source line, its text)
    findings: list[LintFinding] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        cell_lines = [str(x) for x in source] if isinstance(source, list) else str(source).splitlines(keepends=True)
        code = [line.rstrip("\r\n") for line in cell_lines]
        code = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(_MAGIC_PREFIXES) else line for line in code]
        alone = lint_python("\n".join(code), name=name) if code else None
        if alone is not None and any(f.code == "readme-snippet-invalid-python" for f in alone.findings):
            findings.extend(_in_notebook(f, [(index, i, line) for i, line in enumerate(code)], positions, isinstance(source, list))
                            for f in alone.findings)
            continue
        origin.extend((index, i, line) for i, line in enumerate(code))
        lines.extend(code)
        origin.append(None)
        lines.append("")
    report = lint_python("\n".join(lines), name=name)
    findings.extend(_in_notebook(f, origin, positions, True) for f in report.findings)
    findings.sort(key=lambda f: (f.filter_at if f.filter_at != (0, 0) else (f.line, f.col), f.line, f.col))
    return LintReport(name, tuple(findings), report.filters)


def _in_notebook(f: LintFinding, origin: list[tuple[int, int, str] | None], positions: dict[str, tuple[int, int]],
                 listed: bool) -> LintFinding:
    """A finding of the cells' code, located in the notebook's JSON text."""

    def place(line: int, col: int) -> tuple[int, int]:
        where = origin[line - 1] if 0 < line <= len(origin) else None
        if where is None:
            return line, col
        cell, index, text = where
        at = positions.get(f"cells[{cell}].source[{index}]" if listed else f"cells[{cell}].source")
        if at is None:
            return line, col
        escaped = len(json.dumps(text[: max(col - 1, 0)], ensure_ascii=False)) - 2  # the characters before col, as JSON
        return at[0], at[1] + 1 + escaped

    line, col = place(f.line, f.col)
    return replace(f, line=line, col=col, filter_at=place(*f.filter_at) if f.filter_at != (0, 0) else (0, 0))


def _last_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "(...)")
    else:
        parts.append("...")
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str, position: int | None = None) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


class _Scanner:
    """Finds the filters of one module and checks each."""

    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.tree = tree
        self.findings: list[LintFinding] = []
        self.filters = 0
        self.bindings: dict[str, list[ast.AST]] = {}  # name -> binding nodes (an Assign's value, or the binder)
        self.parents: dict[int, ast.AST] = {}
        self.sent: dict[int, tuple[str, ast.Call]] = {}  # id(filter-object node) -> (endpoint, the list call)
        self.filter_calls: dict[str, list[ast.Call]] | None = None

    # ----------------------------------------------------------------------------- bindings

    def _collect(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bindings.setdefault(target.id, []).append(node.value)
                    else:
                        self._bind_all(target, node)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.comprehension, ast.NamedExpr)):
                target = node.target
                self._bind_all(target, node)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        self._bind_all(item.optional_vars, node)
            elif isinstance(node, ast.arg):
                self.bindings.setdefault(node.arg, []).append(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    self.bindings.setdefault((alias.asname or alias.name).split(".")[0], []).append(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bindings.setdefault(node.name, []).append(node)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for n in node.names:
                    self.bindings.setdefault(n, []).append(node)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bindings.setdefault(node.name, []).append(node)

    def _bind_all(self, target: ast.AST, binder: ast.AST) -> None:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                self.bindings.setdefault(sub.id, []).append(binder)

    def _assigned_value(self, name: ast.Name) -> ast.AST | None:
        """The expression a name is bound to when the file binds it once, by a plain assignment above ``name``."""
        bound = self.bindings.get(name.id, [])
        if len(bound) != 1 or not isinstance(bound[0], ast.expr):
            return None
        value = bound[0]
        parent = self.parents.get(id(value))
        if not isinstance(parent, ast.Assign) or parent.lineno >= name.lineno:
            return None
        return value

    # ----------------------------------------------------------------------------- literals

    def literal(self, node: ast.AST, path: str = "", positions: dict[str, tuple[int, int]] | None = None,
                depth: int = 0, resolving: frozenset[str] = frozenset()) -> Any:
        """The Python value of a literal expression (names bound once to a literal included); positions of its parts
        are recorded under their paths. Raises :class:`_NotLiteral`."""
        if depth > MAX_JSON_DEPTH:
            raise _NotLiteral(node, "nested too deeply")
        if positions is not None:
            positions.setdefault(path, (node.lineno, node.col_offset + 1))  # type: ignore[attr-defined]
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, bool, int, float)) or node.value is None:
                return node.value
            raise _NotLiteral(node, f"a {type(node.value).__name__} constant")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
            return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for key, value in zip(node.keys, node.values):
                if key is None:
                    raise _NotLiteral(value, "a ** expansion")
                k = self.literal(key, path, None, depth + 1, resolving)
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise _NotLiteral(key, "a key that is not a string or number")
                sub = f"{path}.{k}" if path else str(k)
                if positions is not None:
                    positions.setdefault(sub, (key.lineno, key.col_offset + 1))
                out[k] = self.literal(value, sub, positions, depth + 1, resolving)
            return out
        if isinstance(node, (ast.List, ast.Tuple)):
            items = []
            for i, item in enumerate(node.elts):
                if isinstance(item, ast.Starred):
                    raise _NotLiteral(item, "a * expansion")
                items.append(self.literal(item, f"{path}[{i}]", positions, depth + 1, resolving))
            return items
        if isinstance(node, ast.Name):
            if node.id in resolving:
                raise _NotLiteral(node, f"the name {node.id!r}, defined through itself")
            value = self._assigned_value(node)
            if value is None:
                raise _NotLiteral(node, f"the name {node.id!r}, not bound once to a literal above it")
            return self.literal(value, path, positions, depth + 1, resolving | {node.id})  # parts located in the literal
        what = {ast.Call: "a call", ast.JoinedStr: "an f-string", ast.BinOp: "an expression", ast.Attribute: "an attribute",
                ast.Subscript: "a subscript"}.get(type(node), "an expression")
        raise _NotLiteral(node, what)

    # ----------------------------------------------------------------------------- the scan

    def scan(self) -> None:
        self._collect()
        self._pair_dials_objects()
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            name = _last_name(node.func)
            if name in RR_CALLS:
                self._rr_call(node, name)
            elif name in JSONLOGIC_CALLS:
                self._jsonlogic_call(node, name)
            elif name in DIALS_CLASSES:
                self._dials_object(node, name)
            elif name == "query" and isinstance(node.func, ast.Attribute) and _last_name(node.func.value) == "oms" \
                    and _keyword(node, "filters") is not None:
                self._dials_oms_query(node)
            elif name == "query" and isinstance(node.func, ast.Attribute) and "oms" in _dotted(node.func.value).lower():
                self._omsapi_query(node)

    def _site(self, node: ast.AST, call: str) -> _Site:
        return _Site(self.path, node.lineno, node.col_offset + 1, call)  # type: ignore[attr-defined]

    def _not_checked(self, call: str, what: str, err: _NotLiteral) -> None:
        node = err.node
        self.findings.append(LintFinding(self.path, node.lineno, node.col_offset + 1, finding(  # type: ignore[attr-defined]
            _NOT_CHECKED, f"{what} of {call} is not a literal ({err.why}): not checked"), call))

    def _run(self, site: _Site, service: str, kind: str, raw: bool, value: Any) -> None:
        self.filters += 1
        self.findings.extend(_check(site, service, kind, raw, value))

    def _rr_call(self, call: ast.Call, name: str) -> None:
        label = _dotted(call.func)
        node = _keyword(call, "filter")
        if node is None:
            expansion = next((kw.value for kw in call.keywords if kw.arg is None), None)
            if expansion is not None:  # get_runs(**options): the filter may be in there
                self._not_checked(label, "the filter", _NotLiteral(expansion, "a ** expansion"))
            return  # no filter: get_runs() lists everything (the client itself warns about size)
        raw_node = _keyword(call, "ignore_filter_transformation")
        site = self._site(node, label)
        try:
            raw = bool(self.literal(raw_node)) if raw_node is not None else False
            value = self.literal(node, "", site.positions)
        except _NotLiteral as err:
            self._not_checked(label, "the filter", err)
            return
        self._run(site, "rr", RR_CALLS[name], raw, value)

    def _jsonlogic_call(self, call: ast.Call, name: str) -> None:
        label = _dotted(call.func)
        node = _keyword(call, "json_logic", 0)
        if node is None:
            return
        site = self._site(node, label)
        try:
            value = self.literal(node, "", site.positions)
        except _NotLiteral as err:
            self._not_checked(label, "the json_logic", err)
            return
        if isinstance(value, str):  # the rule as JSON text
            text = value
            if any(_json_comments(text)):  # reported, then checked with the comments removed (as a rule file is)
                self.findings.append(site.at(finding("jsonlogic-comments", "the json_logic text has // comments: JSON has none",
                                                     fix=GENERIC_FIXES["jsonlogic-comments"])))
                self.findings.append(site.at(finding(
                    "jsonlogic-file-not-json", "the json_logic text is not valid JSON as written (RR's portal refuses it); checked "
                    "with the comments removed", fix=GENERIC_FIXES["jsonlogic-comments"])))
                text = _without_comments(text)
            try:
                value = load_json_document(text, ValueError)
            except ValueError as exc:
                self.findings.append(site.at(finding("jsonlogic-file-not-json", "the json_logic text is not valid JSON: "
                                                     + _short(exc).removeprefix("not valid JSON: "))))
                return
        self._run(site, "jsonlogic", "json_portal", False, value)
        dataset = _keyword(call, "dataset_name_filter", 1)
        if dataset is not None:
            try:
                pattern = self.literal(dataset)
            except _NotLiteral:
                return
            if isinstance(pattern, str):
                self.findings.extend(_dataset_filter_findings(site, pattern, "jsonlogic", (dataset.lineno, dataset.col_offset + 1)))

    # DIALS: a filter object is checked against the endpoint it is sent to (its own when it is not sent in the file)

    def _pair_dials_objects(self) -> None:
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or node.func.attr not in DIALS_LIST_METHODS:
                continue
            endpoint = DIALS_CLIENT_ATTRIBUTES.get(_last_name(node.func.value))
            argument = _keyword(node, "filters", 0)
            if endpoint is None or argument is None:
                continue
            if isinstance(argument, ast.Name):
                value = self._assigned_value(argument)
                if value is not None:
                    self.sent[id(value)] = (endpoint, node)
            self.sent[id(argument)] = (endpoint, node)

    def _dials_object(self, call: ast.Call, class_name: str) -> None:
        own = DIALS_CLASSES[class_name]
        endpoint, sent_by = self.sent.get(id(call), (own, None))
        label = f"{_dotted(sent_by.func)}({class_name}(...))" if sent_by is not None else class_name
        site = self._site(call, label)
        if call.args:
            self._not_checked(label, "a positional argument", _NotLiteral(call.args[0], "cmsdials filters take keywords"))
            return
        kwargs: dict[str, Any] = {}
        try:
            for kw in call.keywords:
                if kw.arg is None:
                    raise _NotLiteral(kw.value, "a ** expansion")
                site.positions.setdefault(kw.arg, (kw.value.lineno, kw.value.col_offset + 1))
                kwargs[kw.arg] = self.literal(kw.value, kw.arg, site.positions)
        except _NotLiteral as err:
            self._not_checked(label, "an argument", err)
            return
        self._run(site, "dials", endpoint, False, {"class": class_name, "kwargs": kwargs})

    # OMS: cmsdials' dials.oms.query(endpoint=..., filters=[OMSFilter(...)]) and omsapi query chains

    def _dials_oms_query(self, call: ast.Call) -> None:
        label = _dotted(call.func)
        site = self._site(call, label)
        try:
            endpoint = self.literal(_keyword(call, "endpoint", 0) or call)
            filters_node = _keyword(call, "filters")
            if isinstance(filters_node, ast.Name):
                filters_node = self._assigned_value(filters_node) or filters_node
            if not isinstance(filters_node, (ast.List, ast.Tuple)):
                raise _NotLiteral(filters_node or call, "not a list of OMSFilter(...)")
            filters = []
            for i, item in enumerate(filters_node.elts):
                if not (isinstance(item, ast.Call) and _last_name(item.func) == "OMSFilter" and not item.args):
                    raise _NotLiteral(item, "not OMSFilter(attribute_name=..., value=..., operator=...)")
                site.positions.setdefault(f"filters[{i}]", (item.lineno, item.col_offset + 1))
                filters.append({"class": "OMSFilter", "kwargs": {kw.arg: self.literal(kw.value) for kw in item.keywords if kw.arg}})
        except _NotLiteral as err:
            self._not_checked(label, "the query", err)
            return
        if not isinstance(endpoint, str):
            return
        self._run(site, "oms", endpoint, False, {"endpoint": endpoint, "filters": filters})

    def _omsapi_query(self, call: ast.Call) -> None:
        """``X.query("resource")`` followed by ``.filter(...)`` calls on the same chain or on the variable it is bound to."""
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            return
        resource = call.args[0].value
        filter_calls: list[ast.Call] = []
        node: ast.AST = call
        while True:  # chained: omsapi.query("runs").filter(...).filter(...)
            parent = self.parents.get(id(node))
            grand = self.parents.get(id(parent)) if parent is not None else None
            if isinstance(parent, ast.Attribute) and parent.attr in ("filter", "attrs", "per_page", "sort", "paginate") \
                    and isinstance(grand, ast.Call):
                if parent.attr == "filter":
                    filter_calls.append(grand)
                node = grand
                continue
            break
        assign = self.parents.get(id(node))
        if isinstance(assign, ast.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Name):
            variable = assign.targets[0].id
            if len(self.bindings.get(variable, [])) == 1:
                filter_calls.extend(self._filter_calls_on(variable))
        if not filter_calls:
            return
        filter_calls.sort(key=lambda c: (c.lineno, c.col_offset))
        label = f"omsapi query({resource!r}).filter"
        site = self._site(filter_calls[0], label)
        chain = []
        try:
            for i, fc in enumerate(filter_calls):
                attribute = self.literal(_keyword(fc, "attribute", 0) or fc)
                value_node = _keyword(fc, "value", 1)
                if value_node is None:
                    raise _NotLiteral(fc, "no value")
                operator_node = _keyword(fc, "operator", 2)
                operator = self.literal(operator_node) if operator_node is not None else "EQ"
                site.positions.setdefault(f"[{i}]", (fc.lineno, fc.col_offset + 1))
                chain.append([attribute, self.literal(value_node), operator])
        except _NotLiteral as err:
            self._not_checked(label, "a filter", err)
            return
        self._run(site, "oms", resource, False, chain)

    def _filter_calls_on(self, variable: str) -> list[ast.Call]:
        if self.filter_calls is None:  # variable -> its .filter(...) calls, collected once
            self.filter_calls = {}
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "filter" \
                        and isinstance(node.func.value, ast.Name):
                    self.filter_calls.setdefault(node.func.value.id, []).append(node)
        return self.filter_calls.get(variable, [])


assert _NOT_CHECKED in FINDINGS and _NOT_READ in FINDINGS, "lint's own codes belong in importers.findings.FINDINGS"
