import sys

import runregistry

runs = runregistry.get_runs(filter={
    "run_number": {"and": [{">": 272000}, {"<": 326000}]},
    "tracker-strip": True,
})
datasets = runregistry.get_datasets(filter={
    "run_number": {"and": [{">": 272000}, {"<": 326000}]},
    "class": {"like": "Collisions18"},
})
one_run = runregistry.get_runs(filter={"run_number": int(sys.argv[1])})
