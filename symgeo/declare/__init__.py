"""Declaration layer (bottom): safe formula parser, supports and domains, TOML loader, catalog.

Imports nothing from the rest of symgeo but :mod:`symgeo.errors`.
"""
