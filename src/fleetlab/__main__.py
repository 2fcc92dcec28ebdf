"""`python -m fleetlab ARGS` is `fleetlab ARGS`."""

import sys

from .app.cli import main

sys.exit(main())
