"""What the package is: its version and the address of its documentation.

Decisions:
* These two constants live at the bottom of the layers (docs/dev/architecture.md) so that any module can name
  them (the HTTP client's ``User-Agent``, help texts) without importing the package facade, which sits at the top.
* ``DOCS_URL`` is the one place the documentation's address is written (help texts link to its pages).
"""

from __future__ import annotations

__version__ = "0.1.0"

DOCS_URL = "https://cms-dqm.github.io/dqquery/"
"""The documentation site (``site_url`` in mkdocs.yml): help texts and messages point to its pages."""
