"""``python -m lendstream.reconcile``: see lendstream.reconcile.cli."""

import sys

from lendstream.reconcile.cli import main

sys.exit(main())
