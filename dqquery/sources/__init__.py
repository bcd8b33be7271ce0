"""Clients for the CMS services dqquery reads: Run Registry, DIALS and OMS.

All three share :mod:`dqquery.sources.http` (session, timeouts, bounded retries with backoff and jitter,
``Retry-After``), :mod:`dqquery.sources.auth` (SSO client credentials, bearer tokens, DIALS secret keys;
see its table of environment variables) and the optional SQLite cache :mod:`dqquery.sources.cache`.
Every URL is configurable (argument, or ``DQQUERY_RR_URL``, ``DQQUERY_DIALS_URL``, ``DQQUERY_OMS_URL``).
A fetch that cannot finish raises :class:`FetchError` with ``partial`` data and a ``resume`` object.
"""

from __future__ import annotations

from .auth import BearerToken, ClientCredentials, MissingCredentials, NoAuth, SecretKey
from .cache import Cache, CacheMiss
from .dials import DialsClient, DialsListing
from .http import FetchError, RetryPolicy, ServiceError, SourceError, TransportError
from .oms import OMSClient
from .runregistry import RunRegistryClient

__all__ = [
    "BearerToken",
    "Cache",
    "CacheMiss",
    "ClientCredentials",
    "DialsClient",
    "DialsListing",
    "FetchError",
    "MissingCredentials",
    "NoAuth",
    "OMSClient",
    "RetryPolicy",
    "RunRegistryClient",
    "SecretKey",
    "ServiceError",
    "SourceError",
    "TransportError",
]
