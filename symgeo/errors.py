"""Exceptions raised by symgeo.

Every error names the family and the quantity it concerns and says what the
user can do next, so that the CLI can print it as one line.
"""


class SymgeoError(Exception):
    """Base class of all symgeo errors."""


class FormulaError(SymgeoError):
    """A formula in a family declaration was refused by the safe parser."""


class DeclarationError(SymgeoError):
    """A family declaration is invalid (undeclared symbol, bad support, ...)."""


class DerivationError(SymgeoError):
    """A symbolic derivation did not close (every route failed or ran out of budget)."""


class BudgetExceeded(SymgeoError):
    """A symbolic computation ran out of its CPU-time budget."""


class CommandBudgetSpent(BaseException):
    """The whole command's time budget (``SYMGEO_BUDGET``) is spent.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
    Exception`` inside sympy or mpmath can swallow it; the CLI turns it into
    one line and a non-zero exit.
    """


class Terminated(BaseException):
    """SIGTERM arrived: unwind (killing any timed child) and exit."""
