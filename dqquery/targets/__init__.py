"""Compile targets: one module per service dialect, registered by name in :mod:`dqquery.targets.base`.

``dqquery.targets.get("dials")`` is the DIALS target, ``dqquery.compile(query, "dials:th2")`` compiles for it;
``dqquery.targets.register`` adds a target (see ``docs/dev/adding-a-target.md``).

Decision: this package re-exports the framework only; importing it does not import any compiler (they are
imported on first use through :data:`~dqquery.targets.base.BUILTIN`). ``dqquery.targets.from_openapi`` (a target for
any django-filter service, :mod:`dqquery.targets.openapi`) is imported on first access for the same reason.
"""

from __future__ import annotations

from typing import Any

from .base import (
    BUILTIN,
    Bound,
    Compiled,
    Refusals,
    Support,
    SupportTable,
    Target,
    compile,
    get,
    names,
    register,
    registered,
    resolve,
    specs,
    unregister,
)

__all__ = [
    "BUILTIN",
    "Bound",
    "Compiled",
    "Refusals",
    "Support",
    "SupportTable",
    "Target",
    "compile",
    "from_openapi",
    "get",
    "names",
    "register",
    "registered",
    "resolve",
    "specs",
    "unregister",
]


def __getattr__(name: str) -> Any:
    if name == "from_openapi":
        from .openapi import from_openapi

        return from_openapi
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
