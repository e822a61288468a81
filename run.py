"""``python run.py [flags]`` is ``punchout-sim serve [flags]``."""

import sys

from simulator.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
