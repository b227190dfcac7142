"""``python -m zarr_engine.cli``: the same as the ``zarr-engine`` command."""

import sys

from . import main

sys.exit(main())
