"""Expectation engine: E_ξ[f(x)] by routes tried in order.

Exponential-family moments, finite sums, standardising substitution with
general rules, budgeted plain integration; simplification, CPU budgets, and
the mpmath numeric route.  Imports only :mod:`symgeo.declare` below it.
"""
