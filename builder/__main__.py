"""`python -m builder` runs the pybuild command."""

import sys

from builder.cli import main

sys.exit(main())
