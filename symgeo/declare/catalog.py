"""The built-in catalog: one declaration file per family, shipped as ``symgeo.families``.

Names, coordinate order and meanings are a public contract (``catalog.md``).
The files are read by :mod:`symgeo.declare.loader` like any user's file; the
facade (:func:`symgeo.family.get_family`) builds and caches the families.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import DeclarationError


def catalog_files():
    """Map name -> path (or importlib resource) of every built-in declaration file."""
    try:
        root = resources.files("symgeo.families")
        files = {p.name[:-5]: p for p in root.iterdir() if p.name.endswith(".toml")}
        if files:
            return files
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    here = Path(__file__).resolve().parent.parent.parent / "families"
    return {p.stem: p for p in here.glob("*.toml")}


def family_names():
    """Sorted names of the built-in catalog."""
    return sorted(catalog_files())


def catalog_text(name):
    """(text, origin) of the built-in declaration ``name``; an unknown name is refused."""
    files = catalog_files()
    if name not in files:
        raise DeclarationError(f"unknown family {name!r}; built-in families: "
                               f"{', '.join(sorted(files))}")
    return files[name].read_text(encoding="utf-8"), f"families/{name}.toml"
