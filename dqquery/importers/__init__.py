"""Importers: read a service's own filter language back into dqquery queries, one module per dialect.

:mod:`dqquery.importers.jsonlogic` reads Run Registry json-logic rules (``dqquery.from_jsonlogic``, and with
findings ``dqquery.import_jsonlogic``), :mod:`~dqquery.importers.rr` Run Registry filters (``dqquery.from_rr``),
:mod:`~dqquery.importers.dials` DIALS parameters and cmsdials filter objects (``dqquery.from_dials``),
:mod:`~dqquery.importers.oms` OMS parameters, omsapi chains and cmsdials OMS queries (``dqquery.from_oms``). Each
returns an :class:`~dqquery.importers.findings.Imported` (the query plus findings); :mod:`~dqquery.importers.common`
holds what they share (input bounds, literal nodes, the regex heuristics).

Decisions:
* Importers are apart from the compile targets (:mod:`dqquery.targets`): they share facts about a service
  (its variables, a model of its engine in :mod:`dqquery.emulate`), not code paths.
* Every importer models the client that sends the filter and reads the result the way the service's emulator
  (:mod:`dqquery.emulate`) does, so "the imported query selects what the service selects" is testable row by row.
* Importing this package imports no importer; each module is imported on first use (``dqquery.from_jsonlogic``
  through the package's lazy attributes).
"""
