"""``python -m xlalign``: see :mod:`xlalign.cli`."""

from __future__ import annotations

import sys

from xlalign.cli import main

if __name__ == "__main__":
    sys.exit(main())
