"""Reparameterisation: the pulled-back Fisher J^T I J equals the directly derived one."""

import sympy as sp

import symgeo


def _eq(a, b):
    return all(sp.simplify(x - y) == 0 for x, y in zip(a, b))


def test_normal_to_normal_var_and_back():
    normal = symgeo.get_family("normal")
    normal_var = symgeo.get_family("normal_var")
    mu, v = sp.Symbol("mu", real=True), sp.Symbol("v", positive=True)
    as_var = normal.reparameterize([(mu, "real"), (v, "positive")], {"mu": mu, "sigma": sp.sqrt(v)})
    assert [c.name for c in as_var.coordinates] == ["mu", "v"]
    assert _eq(as_var.fisher(), normal_var.fisher())
    m, s = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)
    as_sd = normal_var.reparameterize([(m, "real"), (s, "positive")], {"mu": m, "v": s ** 2})
    assert _eq(as_sd.fisher(), normal.fisher())


def test_gamma_rate_to_scale_matches_direct_derivation():
    gamma = symgeo.get_family("gamma")
    a, th = sp.Symbol("alpha", positive=True), sp.Symbol("theta", positive=True)
    scale = gamma.reparameterize([(a, "positive"), (th, "positive")], {"alpha": a, "beta": 1 / th})
    x = sp.Symbol("x", positive=True)
    direct = symgeo.Family("gamma_scale", -a * sp.log(th) - sp.loggamma(a) + (a - 1) * sp.log(x) - x / th,
                           x, sp.Interval(0, sp.oo), [(a, "positive"), (th, "positive")])
    assert _eq(scale.fisher(), direct.fisher())


def test_bernoulli_logit():
    bern = symgeo.get_family("bernoulli")
    t = sp.Symbol("t", real=True)
    logit = bern.reparameterize([(t, "real")], {"p": 1 / (1 + sp.exp(-t))})
    # Fisher in the natural parameter is the variance p(1-p)
    tt = logit.coordinates[0]
    p = 1 / (1 + sp.exp(-tt))
    assert sp.simplify(logit.fisher()[0, 0] - p * (1 - p)) == 0
