"""Entry point for ``python -m samis``."""

import sys

from samis.cli import main

if __name__ == "__main__":
    sys.exit(main())
