"""Family methods for divergences, entropy and exponential-family structure (issue: divergences).

Kept out of family.py so each concept module owns its public entry points;
results are cached on the family through ``self._cached``.
"""

from __future__ import annotations


class DivergenceMethods:
    """Mixin of :class:`symgeo.family.Family`."""
