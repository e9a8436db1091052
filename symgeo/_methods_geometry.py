"""Family methods for connections, curvature, geodesics and natural gradient.

Kept out of family.py so each concept module owns its public entry points;
results are cached on the family through ``self._cached``.
"""

from __future__ import annotations


class GeometryMethods:
    """Mixin of :class:`symgeo.family.Family`."""
