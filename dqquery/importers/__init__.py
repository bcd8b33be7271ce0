"""Importers: read a service's own filter language back into dqquery queries, one module per dialect.

:mod:`dqquery.importers.jsonlogic` reads Run Registry json-logic rules (``dqquery.from_jsonlogic``).

Decisions:
* Importers are apart from the compile targets (:mod:`dqquery.targets`): they share facts about a service
  (its variables, a model of its engine in :mod:`dqquery.emulate`), not code paths.
* Importing this package imports no importer; each module is imported on first use (``dqquery.from_jsonlogic``
  through the package's lazy attributes).
"""
