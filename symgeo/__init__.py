"""symgeo: information geometry of probability families, derived symbolically.

Public API::

    symgeo.family_names()            sorted names of the built-in catalog
    symgeo.get_family(name, **fixed) a built-in Family (fixed hyper-parameters set)
    symgeo.load_family(path)         a Family from a declaration file (TOML)
    symgeo.Family(...)               declare a family from sympy objects
    with symgeo.time_limit(30): ...  stop the work inside after 30 s (CommandBudgetSpent)

This module only re-exports; no module of the package imports it.
"""

from ._version import __version__
from .declare.catalog import family_names
from .declare.support import (
                     Box,
                     Compositions,
                     Domain,
                     FiniteValues,
                     IntegerBox,
                     IntegerRange,
                     Simplex,
)
from .engine.budget import command_budget as time_limit
from .errors import (
                     BudgetExceeded,
                     CommandBudgetSpent,
                     DeclarationError,
                     DerivationError,
                     FormulaError,
                     SymgeoError,
)
from .family import Family, get_family, load_family

__all__ = ["Family", "family_names", "get_family", "load_family", "SymgeoError",
           "DeclarationError", "DerivationError", "FormulaError", "BudgetExceeded",
           "CommandBudgetSpent", "time_limit",
           "Box", "IntegerBox", "IntegerRange", "FiniteValues", "Simplex", "Compositions", "Domain",
           "__version__"]
