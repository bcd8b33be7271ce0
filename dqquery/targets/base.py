"""The target framework: what a compile target is, what compiling returns, and the registry of targets by name.

A target is one service's filter dialect (Run Registry, DIALS, OMS, RR json-logic). It is a :class:`Target`
object registered once by name; everything that needs targets (``dqquery.compile``, ``dqquery.plan``, the
CLI, the support matrix and ``docs/targets.md``, the compliance tests) reads this registry.

    >>> import dqquery
    >>> compiled = dqquery.compile("run_number > 367100", "dials:run")
    >>> compiled.request, compiled.exact
    ({'run_number__gte': 367101}, True)

Decisions:
* A target spec is ``NAME`` or ``NAME:OPTION`` (``dials:th2``, ``oms:lumisections``). Options (DIALS
  endpoints, OMS resources, RR's formats) are data on the target, with aliases (``dials:h2d`` is
  ``dials:th2``) and a default (``dials`` is ``dials:run``). A target may also take whole-spec aliases
  (``rr-raw`` is ``rr:raw``) so that names users already type keep working. An unknown name or option is
  an ``unsupported`` :class:`~dqquery.errors.QueryError` with a did-you-mean, never a ``KeyError``.
* Every compile returns a :class:`Compiled`: the request to send, ``exact`` (the request selects exactly
  what the query selects; otherwise a superset, with a note per reason), notes and warnings. There is one
  answer to "is it exact?" for every target.
* Refusals go through one path: a compiler raises :func:`dqquery.errors.unsupported`; :func:`compile`
  (the strict entry point) adds the one hint policy: when the target can be planned, the hint says that
  ``dqquery.plan`` sends what the target can express and evaluates the rest locally. ``plan`` calls
  :meth:`Target.compile` directly and adds its own hints.
* What a target supports is data (:class:`Support` per node kind, and per polarity where it differs),
  next to its compiler; the compilers consult it before dispatch, and ``docs/targets.md`` is generated
  from it, so the two cannot disagree.
* The built-in targets are listed once, in :data:`BUILTIN` (name -> module), and imported on first use, so
  ``import dqquery`` stays light. A target written elsewhere (a test, a plug-in) calls :func:`register`.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .. import ast as A
from ..errors import QueryError, unsupported
from ..query import as_node, source_text

__all__ = [
    "BUILTIN",
    "LEVELS",
    "Bound",
    "Compiled",
    "Level",
    "Refusals",
    "Support",
    "SupportTable",
    "Target",
    "compile",
    "compile_bound",
    "get",
    "names",
    "register",
    "registered",
    "resolve",
    "specs",
    "unregister",
]

Level = Literal["exact", "superset", "partial", "unsupported"]
LEVELS: tuple[str, ...] = ("exact", "superset", "partial", "unsupported")


@dataclass(frozen=True)
class Support:
    """How a target handles one node kind: ``level`` and, unless exact, why (``reason``).

    ``negated`` is the support of the kind's negated form (after negation normal form: ``not like``,
    ``not in``, ``is not null``, ``not contains``) when it differs; ``None`` means the same.
    Levels: ``exact`` (compiled forms mean exactly the query), ``superset`` (they may select more; ``plan``
    re-checks locally), ``partial`` (some forms compile exactly, the others are refused), ``unsupported``.
    """

    level: Level
    reason: str = ""
    negated: Support | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown support level {self.level!r}; choose {', '.join(LEVELS)}")
        if self.level != "exact" and not self.reason:
            raise ValueError(f"a {self.level} support needs a reason")

    def of(self, negated: bool) -> Support:
        """The support of the positive or the negated form."""
        return self.negated if negated and self.negated is not None else self

    def describe(self) -> str:
        """``exact`` or ``level: reason`` (the support matrix's cell)."""
        return self.level if not self.reason else f"{self.level}: {self.reason}"


SupportTable = Mapping[str, Support]
"""Node kind (``compare``, ``in_range``, ... ``or``: every ``kind`` of :data:`dqquery.ast.NODE_CLASSES`) -> support."""


@dataclass(frozen=True)
class Compiled:
    """What compiling a query for one target gives: the ``request`` to send (a dict of parameters, a Run
    Registry filter, a json-logic rule), whether it is ``exact`` (else a superset to re-check locally),
    ``notes`` (why it is a superset, per clause) and ``warnings`` (the target's own: exact, but probably not what
    was meant; warnings about the query itself, such as a near-miss field name, are issued as
    :class:`~dqquery.errors.QueryWarning` only)."""

    target: str
    request: Any
    exact: bool = True
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class Target:
    """One compile target. Subclass, set the class attributes, implement :meth:`compile` and
    :meth:`support`, then :func:`register` an instance.

    ``options``: the valid options, the default first (``()``: the target takes none; ``None``: any text,
    such as ``rr-portal``'s dataset pattern). ``option_aliases``: other spellings of an option.
    ``spec_aliases``: whole specs that mean ``NAME:OPTION`` (``{"rr-raw": "raw"}``). ``plannable``: ``plan``
    accepts it. ``service`` and ``option_word`` name them in messages ("unknown DIALS endpoint 'x'").
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...] | None] = ()
    option_aliases: ClassVar[Mapping[str, str]] = {}
    spec_aliases: ClassVar[Mapping[str, str]] = {}
    plannable: ClassVar[bool] = True
    service: ClassVar[str] = ""
    option_word: ClassVar[str] = "option"

    # -------------------------------------------------------------------- to implement

    def compile(self, query: A.QueryLike, option: str | None, **settings: Any) -> Compiled:
        """Compile ``query`` (text or node; errors point into the text) for ``option``. Refuse with
        :func:`dqquery.errors.unsupported`; never drop a clause. ``settings`` are target-specific keywords
        of the ``to_*`` wrappers (DIALS' ``generation``)."""
        raise NotImplementedError

    def support(self, option: str | None) -> SupportTable:
        """Node kind -> :class:`Support`, for one option."""
        raise NotImplementedError

    # -------------------------------------------------------------------- defaults

    def spec(self, option: str | None) -> str:
        """The canonical spelling of ``NAME:OPTION`` (``plan`` and messages use it)."""
        return self.name if not option else f"{self.name}:{option}"

    def matrix_options(self) -> tuple[str | None, ...]:
        """The options shown as columns of the support matrix."""
        return tuple(self.options) if self.options else (None,)

    def carries(self, option: str | None) -> Callable[[str], bool] | None:
        """Whether a catalog path is a value in the rows the target returns (``plan`` re-checks its residual on
        them); ``None`` when the residual is applied by the caller to other data (Run Registry's, to
        lumisections by :func:`dqquery.golden`)."""
        return None

    def empty_request(self, option: str | None) -> Any:
        """The request that fetches everything (``plan``'s worst case)."""
        return {}

    def examples(self, option: str | None) -> tuple[str, ...]:
        """Queries shown compiled in ``docs/targets.md``."""
        return ()

    def plan_examples(self, option: str | None) -> tuple[str, ...]:
        """Queries shown planned in ``docs/targets.md``."""
        return ()

    def traps(self, option: str | None) -> str:
        """Markdown bullets: the service's traps and how dqquery avoids them (``docs/targets.md``)."""
        return ""

    def canonical_option(self, option: str | None) -> str | None:
        """The option a spelling means (``None`` when the target takes none); raises on an unknown one."""
        if self.options is None:
            return option or None
        if not self.options:
            if option:
                raise _unknown(f"target {self.name!r} takes no option (got {option!r})", [], self.name)
            return None
        if not option:
            return self.options[0]
        option = self.option_aliases.get(option, option)
        if option not in self.options:
            choices = [*self.options, *self.option_aliases]
            raise _unknown(f"unknown {self.service or self.name} {self.option_word} {option!r}", choices, self.spec(None), got=option)
        return option

    def __repr__(self) -> str:
        return f"<target {self.name}>"


class Refusals:
    """A compiler's refusals for one query: each names the target and points into the query text when the
    query was given as text (a node built in Python is shown printed, without a position)."""

    def __init__(self, query: Any, target: str) -> None:
        self.text = query if isinstance(query, str) else source_text(query)
        self.located = isinstance(query, str)
        self.target = target

    def unsupported(self, node: Any, message: str, hint: str = "") -> QueryError:
        """The refusal of ``node`` (see :func:`dqquery.errors.unsupported`)."""
        return unsupported(self.target, message, node, query=self.text, located=self.located, hint=hint)


@dataclass(frozen=True)
class Bound:
    """A target with its option chosen: what a spec such as ``dials:th2`` resolves to."""

    target: Target
    option: str | None
    spec: str = field(default="")

    def compile(self, query: A.QueryLike, **settings: Any) -> Compiled:
        """``target.compile`` for this option (no hint added: :func:`compile` adds the plan hint)."""
        return self.target.compile(query, self.option, **settings)

    def support(self) -> SupportTable:
        return self.target.support(self.option)


# ------------------------------------------------------------------------------------------------ registry

BUILTIN: dict[str, str] = {
    "rr": "dqquery.targets.runregistry",
    "dials": "dqquery.targets.dials",
    "oms": "dqquery.targets.oms",
    "jsonlogic": "dqquery.targets.jsonlogic",
    "rr-portal": "dqquery.targets.rr_portal",
    "sql": "dqquery.targets.sql",
    "playground": "dqquery.targets.playground",
}
"""The built-in targets: name -> the module that registers it (imported on first use)."""

_REGISTRY: dict[str, Target] = {}


def register(target: Target, *, replace: bool = False) -> Target:
    """Add ``target`` to the registry under ``target.name``; returns it (usable as a class decorator's helper)."""
    if not target.name or ":" in target.name:
        raise ValueError(f"a target needs a name without ':' (got {target.name!r})")
    if target.name in _REGISTRY and not replace and type(_REGISTRY[target.name]) is not type(target):
        raise ValueError(f"a target named {target.name!r} is already registered")
    _REGISTRY[target.name] = target
    return target


def unregister(name: str) -> None:
    """Remove a registered target (tests use :func:`registered` instead)."""
    _REGISTRY.pop(name, None)


@contextmanager
def registered(target: Target) -> Iterator[Target]:
    """Register ``target`` for the duration of a ``with`` block."""
    previous = _REGISTRY.get(target.name)
    register(target, replace=True)
    try:
        yield target
    finally:
        if previous is None:
            unregister(target.name)
        else:
            _REGISTRY[target.name] = previous


def _load(name: str) -> Target | None:
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    return _REGISTRY.get(name)


def names() -> list[str]:
    """Every target name, built-in ones first (in :data:`BUILTIN` order), then the registered ones."""
    for name in BUILTIN:
        _load(name)
    return [*[n for n in BUILTIN if n in _REGISTRY], *[n for n in _REGISTRY if n not in BUILTIN]]


def specs(*, plannable: bool | None = None, matrix: bool = False) -> list[str]:
    """Every ``NAME:OPTION`` spec (canonical spelling), optionally only the plannable targets, or only the
    support matrix's columns."""
    out: list[str] = []
    for name in names():
        target = _REGISTRY[name]
        if plannable is not None and target.plannable != plannable:
            continue
        if target.options is None and not matrix:
            out.append(target.name)
            continue
        options = target.matrix_options() if matrix else (tuple(target.options) or (None,))
        out.extend(target.spec(o) for o in options)
    return list(dict.fromkeys(out))


def _unknown(message: str, choices: list[str], target: str = "", prefix: str = "", got: str = "") -> QueryError:
    word = got or message.rpartition(" ")[2].strip("'")
    close = difflib.get_close_matches(word.split(":")[-1], choices, n=3, cutoff=0.5)
    hint = (
        "did you mean " + " or ".join(f"'{prefix}{c}'" for c in close) + "?"
        if close
        else ("choose one of: " + ", ".join(f"{prefix}{c}" for c in choices) if choices else "")
    )
    return QueryError("unsupported", message, hint=hint, target=target)


def get(name: str) -> Target:
    """The target registered as ``name`` (``rr``, ``dials``, ``oms``, ``jsonlogic``, ...); an unknown name is an
    ``unsupported`` :class:`QueryError` with a did-you-mean."""
    target = _load(name)
    if target is None:
        raise _unknown(f"unknown target {name!r}", _spellings(), got=name)
    return target


def _spellings() -> list[str]:
    out = list(names())
    for name in names():
        out.extend(_REGISTRY[name].spec_aliases)
    return out


def resolve(spec: str) -> Bound:
    """The target and option a spec means (``dials:h2d`` -> dials, ``th2``; ``rr-raw`` -> rr, ``raw``)."""
    if not isinstance(spec, str) or not spec:
        raise QueryError("unsupported", f"a target is a name such as 'dials:run', not {spec!r}", hint="targets: " + ", ".join(specs()))
    name, sep, option = spec.partition(":")
    target = _load(name)
    if target is None:
        for other in names():
            alias = _REGISTRY[other].spec_aliases.get(name)
            if alias is not None:
                if sep:  # ``rr-raw:x`` is not a spelling of anything
                    raise _unknown(f"target {name!r} takes no option (got {option!r})", [], name)
                target, option = _REGISTRY[other], alias
                break
    if target is None:
        raise _unknown(f"unknown target {spec!r}", _spellings(), got=name)
    if sep and not option and target.options is not None:
        raise _unknown(f"{name}: the option after ':' is empty", list(target.options or ()), name, prefix=f"{name}:")
    chosen = target.canonical_option(option or None)
    return Bound(target, chosen, target.spec(chosen))


def compile(query: A.QueryLike, target: str, /) -> Compiled:
    """Compile ``query`` (text or node) for ``target`` (``"rr"``, ``"dials:th2"``, ``"oms:lumisections"``,
    ``"jsonlogic"``, ...): exactly, as a superset with notes (``exact`` false), or an ``unsupported``
    :class:`~dqquery.errors.QueryError` located in the query. The target's own warnings are in
    :attr:`Compiled.warnings`; warnings about the query itself are issued as :class:`~dqquery.errors.QueryWarning`."""
    return compile_bound(query, resolve(target))


def compile_bound(query: A.QueryLike, bound: Bound, **settings: Any) -> Compiled:
    """:func:`compile` for a resolved target (the ``to_*`` wrappers call this, with their own ``settings``)."""
    try:
        return bound.compile(query, **settings)
    except QueryError as err:
        if err.category != "unsupported":
            raise
        raise with_plan_hint(err, query, bound) from None


PLAN_HINT = 'dqquery.plan(query, "{spec}") sends what {spec} can express and evaluates the rest locally'
NOT_CARRIED_HINT = (
    "{spec} rows do not carry {names}, so dqquery.plan cannot re-check it locally either; "
    "Run Registry flags and OMS bits are evaluated together by `dqquery golden`"
)


def with_plan_hint(err: QueryError, query: Any, bound: Bound) -> QueryError:
    """The one hint policy of a strict compile's refusal: the error names the target, and its last hint says
    whether ``dqquery.plan`` can do it (the target is plannable and its rows carry every field the query
    tests, so the residual can be re-checked on them) or why not."""
    hint = err.hint
    if bound.target.plannable and "dqquery.plan" not in hint:
        carried = bound.target.carries(bound.option)
        missing: list[str] = []
        if carried is not None:
            try:
                missing = [ref.name for ref in A.fields_of(as_node(query)) if not carried(ref.path)]
            except QueryError:  # pragma: no cover - the query compiled far enough to be refused, so it parses
                missing = []
        extra = (
            NOT_CARRIED_HINT.format(spec=bound.spec, names=", ".join(dict.fromkeys(f"'{n}'" for n in missing)))
            if missing
            else PLAN_HINT.format(spec=bound.spec)
        )
        hint = f"{hint}; {extra}" if hint else extra
    return QueryError(
        "unsupported", err.message, query=err.query, offset=err.offset, end=err.end, hint=hint, target=err.target or bound.spec
    )
