"""Coordinate changes (pushforward of the declaration, pullback of the metric).

Given new coordinates zeta and the old ones as functions xi(zeta), the new
family has log-density ell(x | xi(zeta)) and Fisher matrix

    I_zeta = J^T I_xi(xi(zeta)) J,    J_ij = d xi_i / d zeta_j.
"""

from __future__ import annotations

import sympy as sp

from ..declare.parse import user_value
from ..engine.simplify import tidy_matrix
from ..errors import DeclarationError
from .fisher import FisherResult


def reparameterize(family, new_coordinates, mapping, name, make_family):
    """The family in coordinates ``new_coordinates``, and its pullback data.

    ``mapping`` gives every old coordinate as an expression in the new ones
    (dict old Symbol or name -> expr).  ``make_family`` builds the new family
    from declaration arguments (the facade passes its class).  Returns
    ``(child, (family, mapping, J))`` with J_ij = d xi_i / d zeta_j in the
    child's own symbols, from which :func:`pullback_fisher` derives the metric.
    """
    specs = []
    for c in new_coordinates:
        sym, dom = c if isinstance(c, tuple) else (c, None)
        specs.append((sp.Symbol(sym) if isinstance(sym, str) else sym, dom))
    names = {sym.name: sym for sym, _ in specs}
    by_name = {}
    for key, expr in mapping.items():
        old = family.symbol(key) if isinstance(key, str) else family.symbol(key.name)
        by_name[old] = user_value(expr, names, where=f"family {family.name!r}: reparameterize "
                                                     f"mapping for {old.name}")
    missing = set(family.coordinates) - set(by_name)
    if missing:
        raise DeclarationError(f"family {family.name!r}: reparameterize needs every old coordinate "
                               f"as a function of the new ones; missing "
                               f"{', '.join(sorted(m.name for m in missing))}")
    coord_args = []
    for sym, dom in specs:
        coord_args.append(sym if dom is None else (sym, dom))
    new_name = name or f"{family.name}_reparameterized"
    child = make_family(new_name, family.declared_log_density.xreplace(by_name), family.variables,
                   family.support, coord_args, fixed={k.name: v for k, v in family.fixed.items()},
                   fixed_domains=family.fixed_domains, fixed_defaults=family.fixed_defaults,
                   constraints=[c.xreplace(by_name) for c in family.constraints],
                   title=family.title, description=f"{family.name} in new coordinates",
                   references=family.references, validate=False)
    # express the mapping in the child's own (assumption-carrying) symbols
    rename = {sp.Symbol(s.name): s for s in child.coordinates}
    for sym, _ in specs:
        rename[sym] = child.symbol(sym.name)
    mapping_child = {old: expr.xreplace(rename) for old, expr in by_name.items()}
    J = sp.Matrix([[sp.diff(mapping_child[o], z) for z in child.coordinates]
                   for o in family.coordinates])
    child.log_density = family.log_density.xreplace(mapping_child)
    child.declared_log_density = family.declared_log_density.xreplace(mapping_child)
    child._check_declaration()
    return child, (family, mapping_child, J)


def pullback_fisher(parent, mapping, J):
    """I_zeta = J^T I_xi(xi(zeta)) J, simplified once, as a FisherResult."""
    M = J.T * parent.fisher().xreplace(mapping) * J
    return FisherResult(tidy_matrix(M, symmetric=True), "pullback", {},
                        [f"pullback J^T I J of the Fisher matrix of {parent.name!r}"])
