"""One local Spark session for the whole test run (the ``spark`` fixture in tests/conftest.py).

Decisions:
* Local mode with two threads (``local[2]``): the CI machine has two cores, and a Spark job is ~0.1-1 s, so the
  Spark tests batch many queries into one job (one DataFrame, one condition column per query).
* Started once per session and quietly: loopback only (``SPARK_LOCAL_IP``, driver host), no web UI, no progress
  bar, two shuffle partitions, log level ERROR. The session time zone is UTC, as the sql target assumes for
  timestamps. Python workers (if any) use this interpreter.
* Spark needs pyspark and a Java runtime. Without them the Spark tests are skipped on a developer's machine, and
  FAIL when ``CI=true`` (.ci/run installs pyspark and checks Java), as the json-logic-js and newest-Lark tests do.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import pytest


def _why_spark_cannot_start() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return 'pyspark is not installed (pip install -e ".[test]" installs it)'
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java on PATH or JAVA_HOME): pyspark needs Java 17 or newer"
    return None


def start_local_spark() -> Any:
    """A ``local[2]`` SparkSession for tests; skipped without pyspark or Java, a failure when ``CI=true``."""
    problem = _why_spark_cannot_start()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Spark cannot start: {problem} (.ci/run prepares it)")
        pytest.skip(f"Spark cannot start: {problem}")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("dqquery-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
