"""Numeric code generation: sympy expressions to standalone vectorised numpy modules.

Below the ``Family`` facade so that ``Family.numeric(q)`` can compile the very
source that ``symgeo build`` (:mod:`symgeo.emit.build`) writes to ``generated/``.
"""
