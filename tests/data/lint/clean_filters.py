"""Filters of tests/data/real-filters whose records are tagged "none" (nothing wrong): `dqquery lint` exits 0.

Quoted from public CMS code (shared/data/real-filters/filters.jsonl, record ids above each call), with the literal
each record uses in place of a variable. Never run this file.
"""

import runregistry

# rr-client-readme-or-list
runs = runregistry.get_runs(filter={"run_number": {"or": [328762, 323555, 323444]}})

# rr-client-readme-datasets-range
datasets = runregistry.get_datasets(filter={"run_number": {"and": [{">": 309000}, {"<": 310000}]}})

# tkdpg-dcsonly-runs-class-prefix
rr_runs = runregistry.get_runs(filter={"run_number": {"and": [{">": 342000}, {"<": 999999}]}, "class": {"like": "Cosmics22%"}})

# tkdpg-cosmicscounter-datasets
runs = runregistry.get_datasets(filter={"dataset_name": {"like": "%Express%Cosmics%"}, "run_number": {"and": [{">": 0}, {"<": 999999}]}})

# tkdpg-certifier-run-eq
datasets = runregistry.get_datasets(filter={"run_number": {"=": 355374}})

# rr-client-readme-raw-runs
runs = runregistry.get_runs(
    filter={
        "run_number": {"and": [{">": 309000}, {"<": 310000}]},
        "oms_attributes.hlt_key": {"like": "%commissioning2018%"},
        "triplet_summary.dt-dt.GOOD": {">": 0},
    },
    ignore_filter_transformation=True,
)

# tkdpg-dqmexplore-datautils-h2d
dials.h2d.list_all(LumisectionHistogram2DFilters(run_number=380238, dataset__regex="ZeroBias", me="PixelPhase1/Phase1_MechanicalView/PXBarrel/digi_occupancy_per_SignedModuleCoord_per_SignedLadderCoord_PXLayer_1"), max_pages=200)

# dialspy-readme-h1d-me
data = dials.h1d.list_all(LumisectionHistogram1DFilters(me="PixelPhase1/Tracks/PXBarrel/charge_PXLayer_2"), max_pages=5)

# dialspy-readme-h2d-pxbarrel
dials.h2d.list_all(LumisectionHistogram2DFilters(me__regex="PXBarrel", ls_number=78, entries__gte=100), max_pages=5)

# omsapi-example-runs-gt-lt
runs_query = omsapi.query("runs")
runs_query.attrs(["run_number", "start_time"])
runs_query.filter("run_number", 300000, operator="GT")
runs_query.filter("run_number", 310000, operator="LT")

# tkdpg-dqmexplore-rr-config-2024 (the rule, through create_json)
generated = runregistry.create_json(
    json_logic={"and": [{">=": [{"var": "run.oms.run_number"}, 378981]}, {"<=": [{"var": "run.oms.run_number"}, 387721]},
                        {"==": [{"var": "lumisection.rr.tracker-pixel"}, "GOOD"]}]},
    dataset_name_filter="/Express/Collisions2024/DQM",
)
