"""``python -m hanforge`` is ``hanforge``."""

import sys

from hanforge.cli import main

sys.exit(main())
