"""`python -m fer_audit.cli ARGS` runs the command line (as jobs and torchrun do)."""

import sys

from fer_audit.cli.toplevel import main

sys.exit(main())
