"""Runs the documentation's examples inside another Python environment (the one holding the installed wheel).

Invoked by tests/test_docs.py as ``python -I docs_runner.py JOBS.json RESULTS.json`` with a temporary folder as
working directory; it imports only the standard library and dqquery, and judges nothing: it reports what
happened and the test compares.

Decisions:
* One process for every example (starting one per example would cost seconds each on a loaded machine).
* Each Python file gets a fresh sub-folder and one namespace; each console block a fresh sub-folder whose
  commands run in order (a command may read the file an earlier one wrote). Console commands run in-process
  through ``dqquery.cli.main``, standard output and error captured separately.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from pathlib import Path


def _in_fresh_folder(name: str) -> Path:
    """A new sub-folder of the runner's working folder (the current folder when this is called)."""
    folder = Path.cwd() / name
    folder.mkdir()
    return folder


def run_queries(queries: dict[str, str]) -> dict[str, str | None]:
    import dqquery

    out: dict[str, str | None] = {}
    for key, text in queries.items():
        try:
            node = dqquery.parse(text)
            again = dqquery.parse(dqquery.unparse(node))
            out[key] = None if again == node else f"the canonical form reads back differently: {dqquery.unparse(node)}"
        except Exception:
            out[key] = traceback.format_exc()
    return out


def run_error_queries(queries: dict[str, str]) -> dict[str, str | None]:
    import dqquery

    out: dict[str, str | None] = {}
    for key, text in queries.items():
        try:
            dqquery.parse(text)
            out[key] = None
        except dqquery.QueryError as err:
            out[key] = str(err)
    return out


def run_python(files: dict[str, list[list]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    home = Path.cwd()
    for key, blocks in files.items():
        os.chdir(_in_fresh_folder(f"python-{len(out)}"))
        namespace: dict = {"__name__": "__docs__"}
        printed = io.StringIO()
        error = None
        for where, code in blocks:
            try:
                with contextlib.redirect_stdout(printed):
                    exec(compile(code, where, "exec"), namespace)
            except BaseException:
                error = f"{where}:\n{traceback.format_exc()}"
                break
        out[key] = {"printed": printed.getvalue().splitlines(), "error": error}
        os.chdir(home)
    return out


def run_console(blocks: dict[str, list[list[str]]]) -> dict[str, list[dict]]:
    from dqquery.cli import main

    out: dict[str, list[dict]] = {}
    home = Path.cwd()
    for key, commands in blocks.items():
        os.chdir(_in_fresh_folder(f"console-{len(out)}"))
        results = []
        for argv in commands:
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse: --help, usage errors
                    code = exc.code if isinstance(exc.code, int) else 2
                except BaseException:
                    code, stderr = 99, io.StringIO(traceback.format_exc())
            results.append({"code": code, "out": stdout.getvalue(), "err": stderr.getvalue()})
        out[key] = results
        os.chdir(home)
    return out


def main() -> int:
    jobs = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    import dqquery

    results = {
        "dqquery_file": dqquery.__file__,
        "queries": run_queries(jobs["queries"]),
        "errors": run_error_queries(jobs["errors"]),
        "python": run_python(jobs["python"]),
        "console": run_console(jobs["console"]),
    }
    Path(sys.argv[2]).write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
