"""One example of each finding `dqquery lint` reports in a Python file (tests/test_lint.py).

Built from the `verbatim` snippets of tests/data/real-filters (shared/data/real-filters/filters.jsonl, quoted from
public CMS code; the record id is given above each call); variables of the originals are replaced by the literal
the record uses. A line `# expect: CODE, ...` names the findings of the call that follows it.
Never run this file: the names it uses are not defined.
"""

import runregistry
from cmsdials.filters import LumisectionHistogram1DFilters, LumisectionHistogram2DFilters, MLModelsIndexFilters, OMSFilter

# striptkmaps-2020-02-bool-flags
# expect: client-drops-boolean-flag-value
runs = runregistry.get_runs(
    filter={
        "run_number": {"and": [{">": 272000}, {"<": 326000}]},
        "tracker_included": True,
        "tracker-strip": True,
        "tracker-pixel": True,
    }
)

# rr-client-readme-bare-dt
# expect: client-raises-unknown-attribute
runs = runregistry.get_runs(filter={"run_number": {"and": [{">": 309000}, {"<": 310000}]}, "dt": "GOOD"}, compress_attributes=False)

# rr-client-test-utils-run-triplet-invalid
# expect: client-rejects-invalid-status
runs = runregistry.get_runs(filter={"ecal-ecal": {"=": "HEHEHE"}})

# rr-client-test-utils-run-non-dict-filter
# expect: client-ignores-non-dict-filter
runs = runregistry.get_runs(filter="SDF")

# rr-client-test-runs-strip
# expect: flag-means-some-lumisection
filter_run = {"run_number": {"and": [{">": 309000}, {"<": 310000}]}, "tracker-strip": "GOOD"}
runs = runregistry.get_runs(filter=filter_run)

# tkdpg-dqmexplore-runs-two-flags
# expect: rr-flags-checked-separately
runs = runregistry.get_runs(
    filter={
        "run_number": {"and": [{"=": 365753}]},
        "class": {"and": [{"=": "Collisions23"}]},
        "tracker-strip": "GOOD",
        "tracker-pixel": "GOOD",
    }
)

# dqmspace-dcsonly-2024-runs
# expect: raw-key-passthrough, like-without-percent
runs = runregistry.get_runs(
    filter={
        "run_number": {"and": [{">=": 362167}, {"<=": 999999}]},
        "class": {"like": "Collisions24"},
        "significant": {"=": True},
        "state": {"=": "SIGNOFF"},
        "oms_attributes.tracker_included": {"=": True},
        "oms_attributes.pixel_included": {"=": True},
    }
)

# rr-client-get-dataset-helper
# expect: dataset-scalar-not-wrapped
dataset = runregistry.get_datasets(filter={"run_number": 327604, "dataset_name": "/PromptReco/HICosmics18A/DQM"})

# tkdpg-dqmexplore-h1d-track-glob
# expect: regex-looks-like-glob
runnb = 380238
me__regex = "Tracking/TrackParameters/highPurityTracks/pt_1/GeneralProperties/Track*"
data1D = dials.h1d.list_all(LumisectionHistogram1DFilters(run_number=runnb, dataset__regex="ZeroBias", me__regex=me__regex), max_pages=200)

# dialspy-readme-h2d-eeot-plus
# expect: regex-unescaped-metachar
dials.h2d.list_all(LumisectionHistogram2DFilters(me__regex="EEOT digi occupancy EE +", entries__gte=100, run_number__gte=360392, run_number__lte=365000), max_pages=5)

# ma128-h1d-filters-on-h2d-with-dataset (the filter object assigned, then passed)
# expect: h1d-filter-on-h2d-endpoint
h1d_filters = LumisectionHistogram1DFilters(me="CSC/CSCOfflineMonitor/Occupancy/hOStripSerial", dataset="/StreamExpress/Run2024I-Express-v1/DQMIO", run_number__gte=385000, run_number__lte=386000)
data = dials.h2d.list_all(h1d_filters, enable_progress=False)

# dialspy-0x-readme-h2d-title-contains
# expect: cmsdials-unknown-kwarg-ignored
dials.h2d.list_all(LumisectionHistogram2DFilters(title_contains="EEOT digi occupancy EE +", min_entries=100, min_run_number=360392, max_run_number=365000), max_pages=5)

# omsapi-readme-typo-nun-number
# expect: omsapi-drops-unknown-attribute
q = omsapi.query("runs")
q.filter("nun_number", 320149)

# rr-backend-sample-jsonlogic (the rule, through create_json)
# expect: dataset-filter-similar-to-wildcard, jsonlogic-in-substring, jsonlogic-missing-value-passes
generated = runregistry.create_json(
    json_logic={"and": [{">=": [{"var": "run.oms.energy"}, 6000]}, {"in": ["25ns", {"var": "run.oms.injection_scheme"}]},
                        {"==": [{"in": ["WMass", {"var": "run.oms.hlt_key"}]}, False]}]},
    dataset_name_filter="/ReReco/Run2018__UL2019/DQM",
)

# rr-backend-test-jsonlogic-2020 (without its comment)
# expect: jsonlogic-unknown-var, jsonlogic-in-args-reversed
generated = runregistry.create_json(
    json_logic={"and": [{"==": [{"var": "run.name"}, "/PromptReco/Collisions18A/DQM"]}, {"in": [{"var": "run.oms.injection_scheme"}, "25ns"]}]},
    dataset_name_filter="/PromptReco/Collisions18A/DQM",
)

# cmsdials' own th1 field, misspelled (cmsdials 2.4.1 LumisectionHistogram1DFilters.ls_numbet__lte)
# expect: dials-ls-number-typo
dials.h1d.list_all(LumisectionHistogram1DFilters(run_number=380238, ls_numbet__lte=100))

# a regular expression PostgreSQL refuses
# expect: dials-rejects
dials.h1d.list_all(LumisectionHistogram1DFilters(run_number=380238, me__regex="(unclosed"))

# a boolean DIALS reads as no filter
# expect: dials-value-ignored
dials.ml_models_index.list_all(MLModelsIndexFilters(active="yes"))

# a cmsdials 2.4.1 field the v1.12.0 server does not declare
# expect: dials-undeclared-parameter
dials.ml_models_index.list_all(MLModelsIndexFilters(id=3))

# a number inside an and-list of an OMS attribute: RR fails with text >= integer
# expect: rr-backend-rejects
runs = runregistry.get_runs(filter={"run_number": {">": 300000}, "energy": {"and": [{">=": 6000}, {"<=": 7000}]}})

# a lower-case operator, which cmsdials' OMSFilter refuses
# expect: oms-lowercase-operator
dials.oms.query("runs", filters=[OMSFilter(attribute_name="run_number", value=355374, operator="eq")])

# an operator OMS does not know
# expect: oms-rejects
q2 = omsapi.query("runs")
q2.filter("run_number", 355374, "XX")

# omsapi's CT, which cmsdials' OMSFilter does not have
# expect: oms-operator-not-in-cmsdials
dials.oms.query("runs", filters=[OMSFilter(attribute_name="hlt_key", value="collisions", operator="CT")])

# an operator json-logic does not have
# expect: jsonlogic-malformed
generated = runregistry.create_json(json_logic={"and": [{"foo": [1]}]}, dataset_name_filter="/PromptReco/Collisions2018A/DQM")

# a rule given as JSON text with a // comment (rr-backend-test-jsonlogic-2020 keeps its comments in a file)
# expect: jsonlogic-comments, jsonlogic-file-not-json
generated = runregistry.create_json(json_logic="""{"and": [
  // the energy cut
  {">=": [{"var": "run.oms.energy"}, 6000]}
]}""", dataset_name_filter="/PromptReco/Collisions2018A/DQM")

# an omsapi chain with CT (undocumented by OMS: not imported)
# expect: oms-operator-not-in-cmsdials, not-expressible
q3 = omsapi.query("runs")
q3.filter("hlt_key", "collisions", "CT")

# dials-backend-rr-editable-datasets: the second name condition is implied by the first
# expect: redundant-condition
raw = runregistry.get_datasets(filter={"and": [{"rr_attributes.class": {"=": "Collisions24"}}, {"name": {"=": "/PromptReco/Collisions2024/DQM"}},
                                               {"name": {"<>": "online"}}]}, ignore_filter_transformation=True)

# a filter dqquery cannot read (a key that is not a string)
# expect: lint-filter-not-read
runs = runregistry.get_runs(filter={"run_number": {1: 2}})

# a filter that is not a literal
# expect: lint-not-checked
runs = runregistry.get_runs(filter={"run_number": {">": int(input())}})
