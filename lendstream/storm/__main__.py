"""``python -m lendstream.storm``: see lendstream.storm.cli."""

import sys

from lendstream.storm.cli import main

sys.exit(main())
