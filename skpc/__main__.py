"""``python -m skpc``: the skpc command line."""

import sys

from skpc.cli import main

sys.exit(main())
