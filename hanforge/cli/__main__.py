"""``python -m hanforge.cli``: the same as the ``hanforge`` command."""

import sys

from hanforge.cli import main

sys.exit(main())
