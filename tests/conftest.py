"""Shared fixtures: fake services started per test and stopped afterwards (127.0.0.1 only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Any]]:
    """``serve(server)`` starts a :class:`dqquery.testing.FakeServer` (e.g. ``serve(run_registry(snap))``) and
    returns it; every server started this way is stopped at the end of the test."""
    started: list[Any] = []

    def start(server: Any) -> Any:
        started.append(server.start())
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def no_sleep() -> Callable[[float], None]:
    """A ``sleep`` replacement for clients under test: records waits instead of waiting."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    sleep.waits = waits  # type: ignore[attr-defined]
    return sleep


@pytest.fixture(scope="session")
def dqquery_wheel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """dqquery's wheel, built once per test session from the checkout (tests/wheel_venv.py)."""
    from wheel_venv import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession (``local[2]``) for the whole run (tests/spark_session.py); skipped without pyspark or
    Java, except under ``CI=true``, where that fails."""
    from spark_session import start_local_spark

    session = start_local_spark()
    yield session
    session.stop()
