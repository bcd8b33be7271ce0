"""``python -m dqquery``: the ``dqquery`` command (for environments where the script is not on ``PATH``).

Decisions:
* The same entry point as the console script (:func:`dqquery.cli.main`), so both behave identically.
"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
