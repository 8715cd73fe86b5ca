"""``python -m lendstream.storm``: see lendstream.storm.cli."""

from lendstream.storm.cli import main

main()
