"""What an importer or the linter finds wrong or surprising in a filter someone already wrote.

An importer (``dqquery.from_rr``, ``from_dials``, ``from_oms``, ``import_jsonlogic``) returns an :class:`Imported`:
the query that selects what the real service selects for the filter (quirks included) and the
:class:`Finding` s met on the way. ``dqquery lint`` prints the same findings with their places.

Decisions:
* A finding's ``code`` is one of :data:`FINDINGS` (the table is the single list of codes, each with its severity
  and a one-line meaning); the codes of ``shared/data/real-filters`` (the tags of filters quoted from public CMS
  code) are used as they are, so a test can compare an import's findings with what each quoted filter's entry says.
* Severities: ``error`` (the filter does not select what it says: a constraint dropped, a request that fails or
  is unfiltered), ``warning`` (it probably does not do what its author meant), ``note`` (worth knowing, nothing
  wrong). ``dqquery lint`` exits non-zero when any error or warning is found.
* ``where`` locates the finding inside the filter as a path of keys and list positions (``run_number.or[1]``);
  the linter adds the file and line. ``fix`` says what to write instead (empty when nothing is to be done).
* ``Imported.query`` is ``None`` when the service selects no well-defined set of lumisections for the filter (the
  client raises before any request, the request is unfiltered, or no per-lumisection query is exact); a finding
  then says why. A filter dqquery cannot read at all raises a located :class:`~dqquery.errors.QueryError`.
* The linter's own codes (``lint-*``) are in the same table: a filter it did not check (not a literal) is a note,
  one an importer refused (:class:`~dqquery.errors.QueryError`) an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["FINDINGS", "SEVERITIES", "Finding", "Imported", "finding"]

Severity = Literal["error", "warning", "note"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "note")

FINDINGS: dict[str, tuple[Severity, str]] = {
    # the linter (dqquery lint): what it could not check
    "lint-not-checked": ("note", "a filter argument that is not a literal: not checked"),
    "lint-filter-not-read": ("error", "dqquery cannot read this filter"),
    # Run Registry client (runregistry 3.1.2) and backend
    "client-drops-boolean-flag-value": ("error", "the runregistry client drops a flag whose value is not a status string"),
    "client-ignores-non-dict-filter": ("error", "the runregistry client turns a filter that is not a dict into no filter"),
    "client-raises-unknown-attribute": ("error", "the runregistry client raises on a key it does not list"),
    "client-rejects-invalid-status": ("error", "the runregistry client raises on a status other than GOOD, BAD, STANDBY, EXCLUDED, NOTSET, EMPTY"),
    "raw-key-passthrough": ("warning", "a backend key in the client's user format is passed through unchanged"),
    "dataset-scalar-not-wrapped": ("note", "the dataset transform leaves a scalar value unwrapped; RR reads it as equality"),
    "flag-means-some-lumisection": ("warning", "a status flag in an RR filter selects runs with at least one lumisection of that status"),
    "rr-flags-checked-separately": ("warning", "each RR flag is counted separately: different lumisections may satisfy different flags"),
    "rr-backend-rejects": ("error", "the Run Registry backend answers this filter with an error"),
    "like-without-percent": ("warning", "'like' without % or _ is a whole-value, case-insensitive equality"),
    "redundant-condition": ("note", "one condition is implied by another in the same filter"),
    "readme-snippet-invalid-python": ("error", "the snippet is not valid Python"),
    "dataset-filter-similar-to-wildcard": ("warning", "RR matches dataset names with SIMILAR TO: '_' is any one character"),
    # DIALS (cmsdials 2.4.1)
    "cmsdials-unknown-kwarg-ignored": ("error", "cmsdials ignores a keyword argument its filter model does not declare"),
    "dials-undeclared-parameter": ("error", "the DIALS endpoint does not declare this parameter: django-filter ignores it"),
    "dials-ls-number-typo": ("error", "cmsdials' th1/th2 filter models send ls_number__lte as ls_numbet__lte, which DIALS ignores"),
    "dials-rejects": ("error", "DIALS answers this request with an error (HTTP 400: not a number; HTTP 500: an invalid regex)"),
    "dials-value-ignored": ("error", "DIALS reads this value as no filter (a boolean other than true/false/1/0, a blank string)"),
    "h1d-filter-on-h2d-endpoint": ("error", "a filter object of one DIALS endpoint is sent to another"),
    "regex-looks-like-glob": ("warning", "a regular expression written like a glob ('*' repeats the previous character)"),
    "regex-unescaped-metachar": ("warning", "a regular-expression metacharacter that seems meant literally"),
    # OMS (omsapi 0.9.8.1, cmsdials OMSFilter)
    "oms-filter-without-operator": ("note", "an OMS filter without an operator segment (equality)"),
    "oms-lowercase-operator": ("warning", "a lower-case OMS operator: cmsdials rejects it, omsapi upper-cases it"),
    "omsapi-drops-unknown-attribute": ("error", "omsapi skips a filter on an attribute the resource does not have"),
    "oms-rejects": ("error", "OMS (or the client) refuses this filter: an unknown operator"),
    "oms-operator-not-in-cmsdials": ("warning", "an OMS operator (CT) that omsapi accepts and cmsdials' OMSFilter does not"),
    # json-logic (RR JSON portal, json-logic-js 1.2.3)
    "jsonlogic-file-not-json": ("error", "the json-logic rule is not valid JSON"),
    "jsonlogic-comments": ("error", "the json-logic rule carries // comments, which JSON does not allow"),
    "jsonlogic-malformed": ("error", "the json-logic rule is not a rule the RR portal evaluates"),
    "jsonlogic-unknown-var": ("error", "a variable the RR JSON portal never provides: it reads null"),
    "jsonlogic-in-args-reversed": ("error", "'in' with the variable first tests whether the value is inside the literal"),
    "jsonlogic-in-substring": ("note", "json-logic 'in' on a string is a case-sensitive substring test"),
    "jsonlogic-missing-value-passes": ("warning", "RR (JavaScript) lets a lumisection without the value pass this clause"),
    "jsonlogic-classifier-context": ("note", "an RR component-classifier rule: bare attribute names, not portal variables"),
    "not-expressible": ("note", "dqquery has no query that selects exactly what the service selects for this clause"),
}
"""code -> (severity, one-line meaning). Codes of ``shared/data/real-filters`` are used unchanged."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong or surprising in a filter: ``code`` (a key of :data:`FINDINGS`), a ``message`` about this
    filter, ``where`` in the filter (``run_number.or[1]``; empty: the whole filter) and a ``fix`` (may be empty)."""

    code: str
    message: str
    where: str = ""
    fix: str = ""

    def __post_init__(self) -> None:
        if self.code not in FINDINGS:
            raise AssertionError(f"unknown finding code {self.code!r} (add it to dqquery.importers.findings.FINDINGS)")

    @property
    def severity(self) -> str:
        return FINDINGS[self.code][0]

    def __str__(self) -> str:
        place = f" at {self.where}" if self.where else ""
        fix = f"\n  fix: {self.fix}" if self.fix else ""
        return f"{self.severity}[{self.code}]{place}: {self.message}{fix}"


def finding(code: str, message: str = "", where: str = "", fix: str = "") -> Finding:
    """A :class:`Finding`; the message defaults to the code's one-line meaning."""
    return Finding(code, message or FINDINGS.get(code, ("error", ""))[1], where, fix)


@dataclass(frozen=True)
class Imported:
    """The result of importing a service's filter: ``query`` (a query node, or ``None``: see the module docstring),
    the ``service`` (``rr``, ``dials``, ``oms``, ``jsonlogic``), its ``kind`` (RR ``runs``/``datasets``, the DIALS
    endpoint, the OMS resource) and the ``findings``."""

    query: Any
    service: str
    kind: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str | None:
        """The query as text (:func:`dqquery.unparse`), ``None`` without a query."""
        if self.query is None:
            return None
        from ..unparse import unparse

        return unparse(self.query)

    @property
    def clean(self) -> bool:
        """No error and no warning among the findings."""
        return all(f.severity == "note" for f in self.findings)
