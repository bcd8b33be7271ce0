"""Coverage-guided fuzzing of every entry point that takes user text (on demand; never run by pytest).

Run (see docs/dev/fuzzing.md)::

    .venv/bin/pip install atheris
    nice -n 10 .venv/bin/python tests/fuzz/fuzz_hostile.py -max_total_time=600 -timeout=10 -rss_limit_mb=2048 \\
        -print_final_stats=1 -artifact_prefix=/tmp/dqquery-fuzz- /tmp/dqquery-corpus

The first byte chooses an entry point; the rest is its input. An empty (or new) corpus directory is first
seeded with the compliance corpus's queries and one example per entry point. A finding is an exception outside the error
contract (QueryError, SnapshotError, GoldenJSONError, PatternError for a dataset pattern, UnknownDataset when
no dataset matches), a run longer than
``-timeout`` seconds, or more memory than ``-rss_limit_mb``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["dqquery"]):
    import dqquery
    from dqquery.errors import QueryError
    from dqquery.evaluator import UnknownDataset, golden
    from dqquery.files import load_json_document
    from dqquery.lumiranges import GoldenJSON, GoldenJSONError
    from dqquery.patterns import PatternError
    from dqquery.snapshot import Snapshot, SnapshotError
    from dqquery.targets.jsonlogic import from_jsonlogic, to_jsonlogic

ALLOWED = (QueryError, SnapshotError, GoldenJSONError, PatternError, UnknownDataset)

# A small snapshot whose string fields the regex, like and dataset-pattern entry points run on.
SNAPSHOT = Snapshot.from_dict(
    {
        "runs": [
            {
                "run_number": 315257,
                "oms_attributes": {"hlt_key": "/cdaq/physics/Run2018/2e34/v3.5.0/HLT/V5", "energy": 6500.0},
                "rr_attributes": {"class": "Collisions18", "significant": True},
            }
        ],
        "datasets": [{"run_number": 315257, "name": "/PromptReco/Collisions2018A/DQM", "dataset_attributes": {}}],
        "lumisections": {
            "315257": {
                "/PromptReco/Collisions2018A/DQM": {
                    "rr": [{"start": 1, "end": 10, "tracker-strip": {"status": "GOOD"}}],
                    "oms": [{"start": 1, "end": 10, "bpix_ready": True, "recorded": 0.5}],
                }
            }
        },
    }
)


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 7)
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes()) if choice != 7 else ""
    try:
        if choice == 0:
            node = dqquery.parse(text)
            to_jsonlogic(node)  # a parsed query compiles and round-trips through the importer
        elif choice == 1:
            from_jsonlogic(text)
        elif choice == 2:
            Snapshot.from_dict(load_json_document(text, SnapshotError))
        elif choice == 3:
            GoldenJSON.from_json(text)
        elif choice == 4:
            golden(f"hlt_key ~ {_quoted(text)}", SNAPSHOT, dataset="%")
        elif choice == 5:
            golden(f"class like {_quoted(text)}", SNAPSHOT, dataset="%")
        elif choice == 6:
            golden("bpix_ready", SNAPSHOT, dataset=text)
        else:
            GoldenJSON.from_json(data)  # raw bytes: any encoding problem
    except ALLOWED:
        pass


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def seed(corpus: Path) -> None:
    """Write the starting inputs into an empty corpus directory: one selector byte, then the text."""
    import yaml

    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    compliance = Path(__file__).resolve().parents[1] / "compliance"
    queries = [c["query"] for c in yaml.safe_load((compliance / "valid.yaml").read_text(encoding="utf-8"))]
    queries += [c["query"] for c in yaml.safe_load((compliance / "invalid.yaml").read_text(encoding="utf-8")) if isinstance(c.get("query"), str)]
    examples = [b"\x00" + q.encode() for q in queries] + [
        b"\x01" + b'{"and": [{"==": [{"var": "run.run_number"}, 315257]}, {"in": ["WMass", {"var": "run.oms.hlt_key"}]}]}',
        b"\x02" + json.dumps(SNAPSHOT.to_dict()).encode(),
        b"\x03" + b'{"315257": [[1, 88], [91, 92]]}',
        b"\x04" + rb"^/cdaq/(a+)+\d$",
        b"\x05" + b"Coll%s_8",
        b"\x06" + b"/PromptReco/%(A|B)%/DQM",
    ]
    for i, example in enumerate(examples):
        (corpus / f"seed-{i:03}").write_bytes(example)


if __name__ == "__main__":
    corpora = [Path(arg) for arg in sys.argv[1:] if not arg.startswith("-")]
    if corpora and not corpora[0].is_file():  # a file argument replays one input (a crash to reproduce)
        seed(corpora[0])
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
