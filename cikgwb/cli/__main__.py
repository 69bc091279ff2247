"""``python -m cikgwb.cli``: the ``cikgwb`` command (as ``python -m cikgwb``)."""

import sys

from . import main

sys.exit(main())
