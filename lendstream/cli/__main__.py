"""``python -m lendstream.cli`` = ``lendstream``."""

import sys

from lendstream.cli import main

sys.exit(main())
