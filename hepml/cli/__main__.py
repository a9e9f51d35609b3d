"""``python -m hepml.cli``: the same as the ``hepml`` command."""

import sys

from hepml.cli import main

sys.exit(main())
