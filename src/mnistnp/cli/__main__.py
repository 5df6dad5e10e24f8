"""``python -m mnistnp.cli``: the same as the ``mnistnp`` command."""

import sys

from . import main

sys.exit(main())
