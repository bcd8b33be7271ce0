"""The DQM Playground (ML4DQM) list API as a target, read from the OpenAPI document written from its notebook.

``dqquery.compile("run_number >= 315000", "playground:h1d")`` gives
``{"lumisection__run__run_number__gte": 315000}``; ``dqquery.plan`` sends what the Playground's filters can say
and re-checks the rest on the rows.

Decisions:
* The document (``dqquery/data/playground-openapi.json``) was written from the parameter lists of the seed notebook
  (``shared/seeds/004_*``); its ``info.description`` says what is the notebook's (names, order, the ``str`` types,
  page-number pagination by 50) and what is assumed (the ``/api/...`` list paths, the nested row schemas).
* Field mapping (:data:`FIELDS`): the Playground has no catalog of its own, so its columns map to the catalog
  fields that mean the same: ``title`` (the histogram's monitoring-element name) is ``me``, the source data file's
  ``filepath`` is ``logical_file_name``; run and lumisection numbers are ``run_number`` and ``ls_number`` under each
  path's own column (``lumisection__run__run_number``, ``run``, ``run_number``).
* Page size 50 is given (:data:`PAGE_SIZE`): the notebook states it and a document cannot.
* The target's options are the two histogram list paths (:data:`PATHS`), whose filters the notebook lists in
  full. The document also has the notebook's ``runs/``, ``lumisections/`` and ``histogram_data_files/`` lists
  (exact filters on one or two fields, or one ``contains``); they are read by the same code (a test compares
  them with the notebook) and served by the fake, but are not options: too little of a query fits them to be
  worth a target column.
"""

from __future__ import annotations

from pathlib import Path

from .openapi import OpenAPITarget, from_openapi

__all__ = ["DOCUMENT", "FIELDS", "PAGE_SIZE", "PATHS", "TARGET"]

DOCUMENT = Path(__file__).resolve().parent.parent / "data" / "playground-openapi.json"
"""The Playground's OpenAPI document (written from the seed notebook; see its ``info.description``)."""

PAGE_SIZE = 50
"""Rows per page (the notebook: "The fetched data is paginated by 50")."""

PATHS: tuple[str, ...] = ("/api/lumisection_histograms_1d/", "/api/lumisection_histograms_2d/")
"""The list paths that are the target's options (1D first: the default)."""

FIELDS: dict[str, str | tuple[str, ...]] = {
    "run_number": ("run_number", "run", "lumisection__run__run_number"),
    "ls_number": ("ls_number", "lumisection__ls_number"),
    "entries": "entries",
    "me": "title",
    "logical_file_name": ("source_data_file__filepath", "filepath"),
}
"""Catalog field -> the Playground's columns for it (every list path uses one of them)."""

EXAMPLES = (
    "run_number in 315000..316000 and ls_number in [1, 5, 9]",
    "entries > 100",
    'me == "Summary_ClusterStoNCorr__OnTrack__TEC__MINUS__wheel__7"',
    'logical_file_name contains "ZeroBias_2017B"',
    'me like "%TEC%"',
)
PLAN_EXAMPLES = ('run_number == 315267 and me like "%TEC%"', "ls_number < 10 or ls_number > 100")
TRAPS = """\
* Undeclared parameters (`title__contains`, `entries__gt`, ...) are **silently ignored** by django-filter and the
  Playground returns unfiltered pages: dqquery emits only the parameters the document declares for the path.
* Results come in pages of 50 (`page=N`); a page past the end is a 404 `Invalid page.`.
* There is no regex filter: `like` and `~` on `title` or the file path are evaluated locally by `plan`;
  `contains` on the file path is sent as `source_data_file__filepath__contains` (case-sensitive).
"""


class PlaygroundTarget(OpenAPITarget):
    """The OpenAPI target of the Playground, with its docs examples."""

    def examples(self, option: str | None) -> tuple[str, ...]:
        return EXAMPLES if self.canonical_option(option) == "lumisection_histograms_1d" else ()

    def plan_examples(self, option: str | None) -> tuple[str, ...]:
        return PLAN_EXAMPLES if self.canonical_option(option) == "lumisection_histograms_1d" else ()

    def traps(self, option: str | None) -> str:
        return TRAPS if self.canonical_option(option) == "lumisection_histograms_1d" else ""


TARGET = from_openapi(
    DOCUMENT, name="playground", fields=FIELDS, service="DQM Playground", title="DQM Playground query parameters (OpenAPI)",
    include=PATHS, option_aliases={"h1d": "lumisection_histograms_1d", "h2d": "lumisection_histograms_2d"}, page_size=PAGE_SIZE,
    base=PlaygroundTarget,
)
