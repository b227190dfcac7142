"""The ``ZARR_ENGINE_*`` switches read from the environment."""

from __future__ import annotations

import os


def switched_off(name: str) -> bool:
    """Whether the switch ``name`` is set to 0, false, no or off (in any case);
    a switch that is unset, or set to anything else, is on."""
    return os.environ.get(name, "1").strip().lower() in ("0", "false", "no", "off")
