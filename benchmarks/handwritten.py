"""Hand-written textbook formulas for every catalog family, as the yardstick of the
generated numpy modules (issue 15).

For each family in ``families/`` and each of fisher, score, log_density, kl and
entropy that has a closed form in the literature, a plain vectorised numpy /
scipy.special function with the same signature, argument order and output shape
as the generated ``generated/numpy/NAME.py`` function:

* ``fisher(*coords)``             -> (..., d, d)
* ``score(x, *coords)``           -> (..., d)
* ``log_density(x, *coords)``     -> (...)
* ``kl(*coords_p, *coords_q)``    -> (...)   KL(p || q) in nats
* ``entropy(*coords)``            -> (...)   in nats (differential for densities)

Multivariate x has the variables on its last axis.  Fixed hyper-parameters take
the catalog defaults (binomial n = 10, categorical K = 3, dirichlet K = 3,
multinomial n = 5 and K = 3, mvnormal d = 2, negative_binomial r = 3, pareto
xm = 1, student_t nu = 4).

The formulas are written the way one writes them by hand: no domain checks, no
defensive copies, no broadcasting of unused arguments (a constant entry such as
the 0 of a diagonal Fisher matrix is written into the output by numpy).  They
are written from the textbook formulas cited beside each family, independently
of symgeo.  ``HANDWRITTEN[(family, quantity)]`` is the function; ``SKIPPED``
lists the quantities with no closed form, with the reason.

``random_params(family, rng, n)`` and ``random_x(family, rng, n)`` give generic
points of the coordinate domain and of the support (numpy Generator ``rng``),
shared by the agreement test and the benchmark.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sc

EULER = np.euler_gamma
LOG2PI = np.log(2 * np.pi)

# fixed hyper-parameters: the catalog defaults (families/NAME.toml, [[fixed]] default)
BINOMIAL_N = 10
MULTINOMIAL_N = 5
NEGBIN_R = 3
PARETO_XM = 1.0
STUDENT_NU = 4.0


def _trigamma(x):
    # psi_1(x) = zeta(2, x) (Hurwitz zeta); scipy's polygamma(1, x) also evaluates psi(x)
    return sc.zeta(2, x)


def _mat(rows):
    """A (..., d, d) array from a nested list of entries (numbers or arrays)."""
    shape = np.broadcast_shapes(*(np.shape(e) for row in rows for e in row))
    out = np.empty(shape + (len(rows), len(rows[0])))
    for i, row in enumerate(rows):
        for j, e in enumerate(row):
            out[..., i, j] = e
    return out


def _vec(entries):
    """A (..., d) array from a list of entries."""
    shape = np.broadcast_shapes(*(np.shape(e) for e in entries))
    out = np.empty(shape + (len(entries),))
    for i, e in enumerate(entries):
        out[..., i] = e
    return out


def _sym2(a, b, c):
    return _mat([[a, b], [b, c]])


# ======================================================================
# bernoulli (p): Johnson, Kemp, Kotz, Univariate Discrete Distributions (2005), ch. 3;
# KL and entropy e.g. Cover & Thomas, Elements of Information Theory (2006), ch. 2.

def bernoulli_fisher(p):
    return np.expand_dims(np.expand_dims(1 / (p * (1 - p)), -1), -1)


def bernoulli_score(x, p):
    return np.expand_dims(x / p - (1 - x) / (1 - p), -1)


def bernoulli_log_density(x, p):
    return x * np.log(p) + (1 - x) * np.log1p(-p)


def bernoulli_kl(p_p, p_q):
    return p_p * np.log(p_p / p_q) + (1 - p_p) * np.log((1 - p_p) / (1 - p_q))


def bernoulli_entropy(p):
    return -p * np.log(p) - (1 - p) * np.log1p(-p)


# ======================================================================
# beta (a, b): Johnson, Kotz, Balakrishnan, Continuous Univariate Distributions
# vol. 2 (1995), ch. 25; Fisher/KL/entropy as on Wikipedia "Beta distribution".

def beta_fisher(a, b):
    t = _trigamma(a + b)
    return _sym2(_trigamma(a) - t, -t, _trigamma(b) - t)


def beta_score(x, a, b):
    d = sc.digamma(a + b)
    return _vec([np.log(x) - sc.digamma(a) + d, np.log1p(-x) - sc.digamma(b) + d])


def beta_log_density(x, a, b):
    return (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - sc.betaln(a, b)


def beta_kl(a_p, b_p, a_q, b_q):
    return (sc.betaln(a_q, b_q) - sc.betaln(a_p, b_p) + (a_p - a_q) * sc.digamma(a_p)
            + (b_p - b_q) * sc.digamma(b_p) + (a_q - a_p + b_q - b_p) * sc.digamma(a_p + b_p))


def beta_entropy(a, b):
    return (sc.betaln(a, b) - (a - 1) * sc.digamma(a) - (b - 1) * sc.digamma(b)
            + (a + b - 2) * sc.digamma(a + b))


# ======================================================================
# binomial (p; n = 10): Johnson, Kemp, Kotz (2005), ch. 3.  Entropy: the exact
# finite sum -sum_k P(k) log P(k) over k = 0..n (no shorter closed form).

def binomial_fisher(p, n=BINOMIAL_N):
    return np.expand_dims(np.expand_dims(n / (p * (1 - p)), -1), -1)


def binomial_score(x, p, n=BINOMIAL_N):
    return np.expand_dims(x / p - (n - x) / (1 - p), -1)


def binomial_log_density(x, p, n=BINOMIAL_N):
    return (sc.gammaln(n + 1) - sc.gammaln(x + 1) - sc.gammaln(n - x + 1)
            + x * np.log(p) + (n - x) * np.log1p(-p))


def binomial_kl(p_p, p_q, n=BINOMIAL_N):
    return n * (p_p * np.log(p_p / p_q) + (1 - p_p) * np.log((1 - p_p) / (1 - p_q)))


def binomial_entropy(p, n=BINOMIAL_N):
    lp, lq = np.log(p), np.log1p(-p)
    h = 0.0
    for k in range(n + 1):
        lpmf = sc.gammaln(n + 1) - sc.gammaln(k + 1) - sc.gammaln(n - k + 1) + k * lp + (n - k) * lq
        h = h - np.exp(lpmf) * lpmf
    return h


# ======================================================================
# categorical (p1, p2; K = 3, p3 = 1 - p1 - p2), x in {1, 2, 3}: Amari, Information
# Geometry and Its Applications (2016), sec. 2.2 (Fisher diag(1/p_i) + 1/p_K);
# KL and entropy Cover & Thomas (2006), ch. 2.

def categorical_fisher(p1, p2):
    c = 1 / (1 - p1 - p2)
    return _sym2(1 / p1 + c, c, 1 / p2 + c)


def categorical_score(x, p1, p2):
    c = (x == 3) / (1 - p1 - p2)
    return _vec([(x == 1) / p1 - c, (x == 2) / p2 - c])


def categorical_log_density(x, p1, p2):
    return np.where(x == 1, np.log(p1), np.where(x == 2, np.log(p2), np.log1p(-(p1 + p2))))


def categorical_kl(p1_p, p2_p, p1_q, p2_q):
    p3_p, p3_q = 1 - p1_p - p2_p, 1 - p1_q - p2_q
    return p1_p * np.log(p1_p / p1_q) + p2_p * np.log(p2_p / p2_q) + p3_p * np.log(p3_p / p3_q)


def categorical_entropy(p1, p2):
    p3 = 1 - p1 - p2
    return -(p1 * np.log(p1) + p2 * np.log(p2) + p3 * np.log(p3))


# ======================================================================
# cauchy (x0, gamma): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 16;
# KL: Chyzak & Nielsen, "A closed-form formula for the Kullback-Leibler divergence
# between Cauchy distributions" (2019).

def cauchy_fisher(x0, gamma):
    g = 1 / (2 * gamma**2)
    return _sym2(g, 0.0, g)


def cauchy_score(x, x0, gamma):
    r = x - x0
    den = gamma**2 + r**2
    return _vec([2 * r / den, (r**2 - gamma**2) / (gamma * den)])


def cauchy_log_density(x, x0, gamma):
    r = x - x0
    return np.log(gamma) - np.log(np.pi * (gamma**2 + r**2))


def cauchy_kl(x0_p, gamma_p, x0_q, gamma_q):
    return np.log(((gamma_p + gamma_q)**2 + (x0_p - x0_q)**2) / (4 * gamma_p * gamma_q))


def cauchy_entropy(x0, gamma):
    return np.log(4 * np.pi * gamma)


# ======================================================================
# dirichlet (a1, a2, a3; K = 3), x on the simplex (last axis x1, x2, x3): Kotz,
# Balakrishnan, Johnson, Continuous Multivariate Distributions vol. 1 (2000), ch. 49;
# KL and entropy as on Wikipedia "Dirichlet distribution".

def dirichlet_fisher(a1, a2, a3):
    a = np.stack([a1, a2, a3], axis=-1)
    t = _trigamma(a1 + a2 + a3)
    out = np.empty(a.shape + (3,))
    out[...] = -np.expand_dims(np.expand_dims(t, -1), -1)
    i = np.arange(3)
    out[..., i, i] += _trigamma(a)
    return out


def dirichlet_score(x, a1, a2, a3):
    a = np.stack([a1, a2, a3], axis=-1)
    return np.log(x) - sc.digamma(a) + np.expand_dims(sc.digamma(a1 + a2 + a3), -1)


def dirichlet_log_density(x, a1, a2, a3):
    a = np.stack([a1, a2, a3], axis=-1)
    return (((a - 1) * np.log(x)).sum(-1) - sc.gammaln(a).sum(-1)
            + sc.gammaln(a1 + a2 + a3))


def dirichlet_kl(a1_p, a2_p, a3_p, a1_q, a2_q, a3_q):
    a = np.stack([a1_p, a2_p, a3_p], axis=-1)
    b = np.stack([a1_q, a2_q, a3_q], axis=-1)
    a0, b0 = a1_p + a2_p + a3_p, a1_q + a2_q + a3_q
    return (sc.gammaln(a0) - sc.gammaln(a).sum(-1) - sc.gammaln(b0) + sc.gammaln(b).sum(-1)
            + ((a - b) * (sc.digamma(a) - np.expand_dims(sc.digamma(a0), -1))).sum(-1))


def dirichlet_entropy(a1, a2, a3):
    a = np.stack([a1, a2, a3], axis=-1)
    a0 = a1 + a2 + a3
    return (sc.gammaln(a).sum(-1) - sc.gammaln(a0) + (a0 - 3) * sc.digamma(a0)
            - ((a - 1) * sc.digamma(a)).sum(-1))


# ======================================================================
# exponential (lam, rate): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 19.

def exponential_fisher(lam):
    return np.expand_dims(np.expand_dims(1 / lam**2, -1), -1)


def exponential_score(x, lam):
    return np.expand_dims(1 / lam - x, -1)


def exponential_log_density(x, lam):
    return np.log(lam) - lam * x


def exponential_kl(lam_p, lam_q):
    r = lam_q / lam_p
    return r - np.log(r) - 1


def exponential_entropy(lam):
    return 1 - np.log(lam)


# ======================================================================
# gamma (alpha shape, beta rate): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 17;
# KL and entropy as on Wikipedia "Gamma distribution" (rate parameterisation).

def gamma_fisher(alpha, beta):
    return _sym2(_trigamma(alpha), -1 / beta, alpha / beta**2)


def gamma_score(x, alpha, beta):
    return _vec([np.log(beta) - sc.digamma(alpha) + np.log(x), alpha / beta - x])


def gamma_log_density(x, alpha, beta):
    return alpha * np.log(beta) - sc.gammaln(alpha) + (alpha - 1) * np.log(x) - beta * x


def gamma_kl(alpha_p, beta_p, alpha_q, beta_q):
    return ((alpha_p - alpha_q) * sc.digamma(alpha_p) - sc.gammaln(alpha_p) + sc.gammaln(alpha_q)
            + alpha_q * np.log(beta_p / beta_q) + alpha_p * (beta_q - beta_p) / beta_p)


def gamma_entropy(alpha, beta):
    return alpha - np.log(beta) + sc.gammaln(alpha) + (1 - alpha) * sc.digamma(alpha)


# ======================================================================
# geometric (p; failures before the first success, x = 0, 1, ...): Johnson, Kemp,
# Kotz (2005), ch. 5.

def geometric_fisher(p):
    return np.expand_dims(np.expand_dims(1 / (p**2 * (1 - p)), -1), -1)


def geometric_score(x, p):
    return np.expand_dims(1 / p - x / (1 - p), -1)


def geometric_log_density(x, p):
    return np.log(p) + x * np.log1p(-p)


def geometric_kl(p_p, p_q):
    return np.log(p_p / p_q) + (1 - p_p) / p_p * np.log((1 - p_p) / (1 - p_q))


def geometric_entropy(p):
    return (-(1 - p) * np.log1p(-p) - p * np.log(p)) / p


# ======================================================================
# gumbel (mu, beta; maximum): Johnson, Kotz, Balakrishnan vol. 2 (1995), ch. 22
# (Fisher (1/beta^2) [[1, gamma_E - 1], [gamma_E - 1, pi^2/6 + (1 - gamma_E)^2]]);
# KL from E[z] = gamma_E and E[exp(-t z)] = Gamma(1 + t) for a standard Gumbel z.

def gumbel_fisher(mu, beta):
    c = 1 / beta**2
    return _sym2(c, (EULER - 1) * c, (np.pi**2 / 6 + (1 - EULER)**2) * c)


def gumbel_score(x, mu, beta):
    z = (x - mu) / beta
    e = np.exp(-z)
    return _vec([(1 - e) / beta, (z - 1 - z * e) / beta])


def gumbel_log_density(x, mu, beta):
    z = (x - mu) / beta
    return -np.log(beta) - z - np.exp(-z)


def gumbel_kl(mu_p, beta_p, mu_q, beta_q):
    t = beta_p / beta_q
    return (np.log(beta_q / beta_p) + (mu_p - mu_q) / beta_q + EULER * (t - 1)
            + np.exp((mu_q - mu_p) / beta_q) * sc.gamma(1 + t) - 1)


def gumbel_entropy(mu, beta):
    return np.log(beta) + EULER + 1


# ======================================================================
# half_normal (sigma): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 13;
# Wikipedia "Half-normal distribution".

def half_normal_fisher(sigma):
    return np.expand_dims(np.expand_dims(2 / sigma**2, -1), -1)


def half_normal_score(x, sigma):
    return np.expand_dims(x**2 / sigma**3 - 1 / sigma, -1)


def half_normal_log_density(x, sigma):
    return 0.5 * np.log(2 / np.pi) - np.log(sigma) - x**2 / (2 * sigma**2)


def half_normal_kl(sigma_p, sigma_q):
    r = (sigma_p / sigma_q)**2
    return 0.5 * (r - np.log(r) - 1)


def half_normal_entropy(sigma):
    return 0.5 * np.log(np.pi * np.e * sigma**2 / 2)


# ======================================================================
# inverse_gamma (alpha shape, beta scale): Wikipedia "Inverse-gamma distribution";
# 1/X ~ Gamma(alpha, rate beta) and KL is invariant under x -> 1/x, so the KL is
# the gamma one; Fisher likewise.

def inverse_gamma_fisher(alpha, beta):
    return _sym2(_trigamma(alpha), -1 / beta, alpha / beta**2)


def inverse_gamma_score(x, alpha, beta):
    return _vec([np.log(beta) - sc.digamma(alpha) - np.log(x), alpha / beta - 1 / x])


def inverse_gamma_log_density(x, alpha, beta):
    return alpha * np.log(beta) - sc.gammaln(alpha) - (alpha + 1) * np.log(x) - beta / x


def inverse_gamma_kl(alpha_p, beta_p, alpha_q, beta_q):
    return ((alpha_p - alpha_q) * sc.digamma(alpha_p) - sc.gammaln(alpha_p) + sc.gammaln(alpha_q)
            + alpha_q * np.log(beta_p / beta_q) + alpha_p * (beta_q - beta_p) / beta_p)


def inverse_gamma_entropy(alpha, beta):
    return alpha + np.log(beta) + sc.gammaln(alpha) - (1 + alpha) * sc.digamma(alpha)


# ======================================================================
# inverse_gaussian (mu, lam): Chhikara & Folks, The Inverse Gaussian Distribution
# (1989), ch. 2 (Fisher diag(lam/mu^3, 1/(2 lam^2)); E[X] = mu, E[1/X] = 1/mu + 1/lam,
# which give the KL); E[log X] = log mu - exp(2 lam/mu) E1(2 lam/mu) from the GIG
# (Jorgensen, Statistical Properties of the GIG Distribution (1982)) gives the entropy.

def inverse_gaussian_fisher(mu, lam):
    return _sym2(lam / mu**3, 0.0, 1 / (2 * lam**2))


def inverse_gaussian_score(x, mu, lam):
    r = x - mu
    return _vec([lam * r / mu**3, 1 / (2 * lam) - r**2 / (2 * mu**2 * x)])


def inverse_gaussian_log_density(x, mu, lam):
    return 0.5 * (np.log(lam / (2 * np.pi)) - 3 * np.log(x)) - lam * (x - mu)**2 / (2 * mu**2 * x)


def inverse_gaussian_kl(mu_p, lam_p, mu_q, lam_q):
    r = lam_q / lam_p
    return 0.5 * (r - np.log(r) - 1) + lam_q * (mu_p - mu_q)**2 / (2 * mu_p * mu_q**2)


def inverse_gaussian_entropy(mu, lam):
    t = 2 * lam / mu
    return 0.5 * (1 + np.log(2 * np.pi * mu**3 / lam)) - 1.5 * np.exp(t) * sc.exp1(t)


# ======================================================================
# laplace (mu, b): Kotz, Kozubowski, Podgorski, The Laplace Distribution and
# Generalizations (2001), ch. 2; KL e.g. Gil, Alajaji, Hoseinzadeh (2013).

def laplace_fisher(mu, b):
    c = 1 / b**2
    return _sym2(c, 0.0, c)


def laplace_score(x, mu, b):
    r = x - mu
    return _vec([np.sign(r) / b, np.abs(r) / b**2 - 1 / b])


def laplace_log_density(x, mu, b):
    return -np.log(2 * b) - np.abs(x - mu) / b


def laplace_kl(mu_p, b_p, mu_q, b_q):
    m = np.abs(mu_p - mu_q)
    return np.log(b_q / b_p) + m / b_q + b_p / b_q * np.exp(-m / b_p) - 1


def laplace_entropy(mu, b):
    return 1 + np.log(2 * b)


# ======================================================================
# logistic (mu, s): Johnson, Kotz, Balakrishnan vol. 2 (1995), ch. 23 (Fisher
# diag(1/(3 s^2), (pi^2 + 3)/(9 s^2))); Wikipedia "Logistic distribution".

def logistic_fisher(mu, s):
    c = 1 / s**2
    return _sym2(c / 3, 0.0, (np.pi**2 + 3) / 9 * c)


def logistic_score(x, mu, s):
    z = (x - mu) / s
    t = np.tanh(z / 2)
    return _vec([t / s, (z * t - 1) / s])


def logistic_log_density(x, mu, s):
    z = (x - mu) / s
    return -z - np.log(s) - 2 * np.log1p(np.exp(-z))


def logistic_entropy(mu, s):
    return np.log(s) + 2


# ======================================================================
# lognormal (mu, sigma of log x): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 14;
# KL equals the normal one (KL is invariant under x -> log x).

def lognormal_fisher(mu, sigma):
    c = 1 / sigma**2
    return _sym2(c, 0.0, 2 * c)


def lognormal_score(x, mu, sigma):
    r = np.log(x) - mu
    return _vec([r / sigma**2, r**2 / sigma**3 - 1 / sigma])


def lognormal_log_density(x, mu, sigma):
    lx = np.log(x)
    return -(lx - mu)**2 / (2 * sigma**2) - lx - np.log(sigma) - 0.5 * LOG2PI


def lognormal_kl(mu_p, sigma_p, mu_q, sigma_q):
    return normal_kl(mu_p, sigma_p, mu_q, sigma_q)


def lognormal_entropy(mu, sigma):
    return mu + 0.5 + np.log(sigma) + 0.5 * LOG2PI


# ======================================================================
# multinomial (p1, p2; n = 5, K = 3), x = counts (last axis x1, x2, x3): Johnson,
# Kotz, Balakrishnan, Discrete Multivariate Distributions (1997), ch. 35; entropy:
# H = -log n! - n sum p_i log p_i + sum_i E[log X_i!], X_i ~ Binomial(n, p_i)
# (Wikipedia "Multinomial distribution"), a finite sum.

def multinomial_fisher(p1, p2, n=MULTINOMIAL_N):
    c = n / (1 - p1 - p2)
    return _sym2(n / p1 + c, c, n / p2 + c)


def multinomial_score(x, p1, p2):
    x1, x2, x3 = x[..., 0], x[..., 1], x[..., 2]
    c = x3 / (1 - p1 - p2)
    return _vec([x1 / p1 - c, x2 / p2 - c])


def multinomial_log_density(x, p1, p2, n=MULTINOMIAL_N):
    x1, x2, x3 = x[..., 0], x[..., 1], x[..., 2]
    return (sc.gammaln(n + 1) - sc.gammaln(x1 + 1) - sc.gammaln(x2 + 1) - sc.gammaln(x3 + 1)
            + x1 * np.log(p1) + x2 * np.log(p2) + x3 * np.log1p(-(p1 + p2)))


def multinomial_kl(p1_p, p2_p, p1_q, p2_q, n=MULTINOMIAL_N):
    return n * categorical_kl(p1_p, p2_p, p1_q, p2_q)


def multinomial_entropy(p1, p2, n=MULTINOMIAL_N):
    p3 = 1 - p1 - p2
    h = n * categorical_entropy(p1, p2) - sc.gammaln(n + 1)
    for p in (p1, p2, p3):
        lp, lq = np.log(p), np.log1p(-p)
        for k in range(2, n + 1):   # log 0! = log 1! = 0
            h = h + np.exp(sc.gammaln(n + 1) - sc.gammaln(k + 1) - sc.gammaln(n - k + 1)
                           + k * lp + (n - k) * lq) * sc.gammaln(k + 1)
    return h


# ======================================================================
# mvnormal (mu1, mu2, s11, s12, s22; d = 2, covariance S = [[s11, s12], [s12, s22]]),
# written in matrix form with numpy.linalg, as one does for general d (only the
# unpacking of the coordinates is written for d = 2): Anderson (2003), ch. 3.
# With P = S^-1, r = x - mu, u = P r and the coordinates s_ij (i <= j) in vech
# order, f_ij = 1/2 (i = j) or 1 (i < j):
#   Fisher  g(mu, mu) = P,  g(s_ij, s_kl) = f_ij f_kl (P_ik P_jl + P_il P_jk),
#   score   d/dmu = u,      d/ds_ij = f_ij (u_i u_j - P_ij),
# i.e. the duplication-matrix forms D^T (P kron P) D / 2 and D^T vec(u u^T - P) / 2
# written entrywise (Magnus & Neudecker, Matrix Differential Calculus (1999));
# KL and entropy as on Wikipedia "Multivariate normal distribution".

_D = 2
_PAIRS = [(i, j) for i in range(_D) for j in range(i, _D)]      # vech order: s11, s12, s22
_I = np.array([i for i, _ in _PAIRS])
_J = np.array([j for _, j in _PAIRS])
_F = np.where(_I == _J, 0.5, 1.0)


def _mvn_unpack(mu1, mu2, s11, s12, s22):
    shape = np.broadcast_shapes(np.shape(mu1), np.shape(s11))
    mu = np.empty(shape + (2,))
    mu[..., 0], mu[..., 1] = mu1, mu2
    S = np.empty(shape + (2, 2))
    S[..., 0, 0], S[..., 0, 1], S[..., 1, 0], S[..., 1, 1] = s11, s12, s12, s22
    return mu, S


def mvnormal_fisher(mu1, mu2, s11, s12, s22):
    _, S = _mvn_unpack(mu1, mu2, s11, s12, s22)
    P = np.linalg.inv(S)
    i, j, k, l = _I[:, None], _J[:, None], _I[None, :], _J[None, :]
    m = len(_PAIRS)
    out = np.zeros(P.shape[:-2] + (_D + m, _D + m))
    out[..., :_D, :_D] = P
    out[..., _D:, _D:] = (_F[:, None] * _F[None, :]
                          * (P[..., i, k] * P[..., j, l] + P[..., i, l] * P[..., j, k]))
    return out


def mvnormal_score(x, mu1, mu2, s11, s12, s22):
    mu, S = _mvn_unpack(mu1, mu2, s11, s12, s22)
    P = np.linalg.inv(S)
    u = (P @ (x - mu)[..., None])[..., 0]
    return np.concatenate([u, _F * (u[..., _I] * u[..., _J] - P[..., _I, _J])], axis=-1)


def mvnormal_log_density(x, mu1, mu2, s11, s12, s22):
    mu, S = _mvn_unpack(mu1, mu2, s11, s12, s22)
    r = x - mu
    _, logdet = np.linalg.slogdet(S)
    quad = (r * np.linalg.solve(S, r[..., None])[..., 0]).sum(-1)
    return -0.5 * (_D * LOG2PI + logdet + quad)


def mvnormal_kl(mu1_p, mu2_p, s11_p, s12_p, s22_p, mu1_q, mu2_q, s11_q, s12_q, s22_q):
    mp, Sp = _mvn_unpack(mu1_p, mu2_p, s11_p, s12_p, s22_p)
    mq, Sq = _mvn_unpack(mu1_q, mu2_q, s11_q, s12_q, s22_q)
    Pq = np.linalg.inv(Sq)
    dm = mq - mp
    _, ldp = np.linalg.slogdet(Sp)
    _, ldq = np.linalg.slogdet(Sq)
    quad = (dm * (Pq @ dm[..., None])[..., 0]).sum(-1)
    return 0.5 * ((Pq * Sp).sum((-2, -1)) + quad - _D + ldq - ldp)     # tr(Pq Sp), both symmetric


def mvnormal_entropy(mu1, mu2, s11, s12, s22):
    _, S = _mvn_unpack(mu1, mu2, s11, s12, s22)
    _, logdet = np.linalg.slogdet(S)
    return 0.5 * (_D * (1 + LOG2PI) + logdet)


# ======================================================================
# mvnormal2 (mu1, mu2, s11, s12, s22): the same bivariate normal, written out for
# d = 2 with the explicit inverse P = [[s22, -s12], [-s12, s11]] / D,
# D = s11 s22 - s12^2 (same sources as mvnormal); Fisher block of the covariance
# entries g_(ab),(cd) = tr(P dS_ab P dS_cd)/2 expanded by hand.

def mvnormal2_fisher(mu1, mu2, s11, s12, s22):
    D = s11 * s22 - s12**2
    P11, P12, P22 = s22 / D, -s12 / D, s11 / D
    z = 0.0
    return _mat([[P11, P12, z, z, z],
                 [P12, P22, z, z, z],
                 [z, z, 0.5 * P11**2, P11 * P12, 0.5 * P12**2],
                 [z, z, P11 * P12, P11 * P22 + P12**2, P12 * P22],
                 [z, z, 0.5 * P12**2, P12 * P22, 0.5 * P22**2]])


def mvnormal2_score(x, mu1, mu2, s11, s12, s22):
    D = s11 * s22 - s12**2
    P11, P12, P22 = s22 / D, -s12 / D, s11 / D
    r1, r2 = x[..., 0] - mu1, x[..., 1] - mu2
    u1, u2 = P11 * r1 + P12 * r2, P12 * r1 + P22 * r2
    return _vec([u1, u2, 0.5 * (u1**2 - P11), u1 * u2 - P12, 0.5 * (u2**2 - P22)])


def mvnormal2_log_density(x, mu1, mu2, s11, s12, s22):
    D = s11 * s22 - s12**2
    r1, r2 = x[..., 0] - mu1, x[..., 1] - mu2
    return -LOG2PI - 0.5 * np.log(D) - (s22 * r1**2 - 2 * s12 * r1 * r2 + s11 * r2**2) / (2 * D)


def mvnormal2_kl(mu1_p, mu2_p, s11_p, s12_p, s22_p, mu1_q, mu2_q, s11_q, s12_q, s22_q):
    Dp = s11_p * s22_p - s12_p**2
    Dq = s11_q * s22_q - s12_q**2
    d1, d2 = mu1_q - mu1_p, mu2_q - mu2_p
    tr = (s22_q * s11_p - 2 * s12_q * s12_p + s11_q * s22_p) / Dq
    quad = (s22_q * d1**2 - 2 * s12_q * d1 * d2 + s11_q * d2**2) / Dq
    return 0.5 * (tr + quad - 2 + np.log(Dq / Dp))


def mvnormal2_entropy(mu1, mu2, s11, s12, s22):
    return 1 + LOG2PI + 0.5 * np.log(s11 * s22 - s12**2)


# ======================================================================
# negative_binomial (p; r = 3, failures before the r-th success): Johnson, Kemp,
# Kotz (2005), ch. 5; KL = r times the geometric KL (sum of r geometric counts).

def negative_binomial_fisher(p, r=NEGBIN_R):
    return np.expand_dims(np.expand_dims(r / (p**2 * (1 - p)), -1), -1)


def negative_binomial_score(x, p, r=NEGBIN_R):
    return np.expand_dims(r / p - x / (1 - p), -1)


def negative_binomial_log_density(x, p, r=NEGBIN_R):
    return (sc.gammaln(x + r) - sc.gammaln(r) - sc.gammaln(x + 1)
            + r * np.log(p) + x * np.log1p(-p))


def negative_binomial_kl(p_p, p_q, r=NEGBIN_R):
    return r * (np.log(p_p / p_q) + (1 - p_p) / p_p * np.log((1 - p_p) / (1 - p_q)))


# ======================================================================
# normal (mu, sigma): Amari (2016), sec. 2.1; KL and entropy e.g. Cover & Thomas
# (2006), ch. 8 and Wikipedia "Normal distribution".

def normal_fisher(mu, sigma):
    c = 1 / sigma**2
    return _sym2(c, 0.0, 2 * c)


def normal_score(x, mu, sigma):
    r = x - mu
    return _vec([r / sigma**2, r**2 / sigma**3 - 1 / sigma])


def normal_log_density(x, mu, sigma):
    return -(x - mu)**2 / (2 * sigma**2) - np.log(sigma) - 0.5 * LOG2PI


def normal_kl(mu_p, sigma_p, mu_q, sigma_q):
    return np.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q)**2) / (2 * sigma_q**2) - 0.5


def normal_entropy(mu, sigma):
    return 0.5 + np.log(sigma) + 0.5 * LOG2PI


# ======================================================================
# normal_curved (theta): N(theta, theta^2), a curved exponential family (Amari 2016);
# Fisher = J^T diag(1/s^2, 2/s^2) J with J = (1, 1), i.e. 3/theta^2; KL and entropy
# are the normal ones at mu = sigma = theta.

def normal_curved_fisher(theta):
    return np.expand_dims(np.expand_dims(3 / theta**2, -1), -1)


def normal_curved_score(x, theta):
    r = x - theta
    return np.expand_dims(r / theta**2 + r**2 / theta**3 - 1 / theta, -1)


def normal_curved_log_density(x, theta):
    return -(x - theta)**2 / (2 * theta**2) - np.log(theta) - 0.5 * LOG2PI


def normal_curved_kl(theta_p, theta_q):
    return normal_kl(theta_p, theta_p, theta_q, theta_q)


def normal_curved_entropy(theta):
    return 0.5 + np.log(theta) + 0.5 * LOG2PI


# ======================================================================
# normal_var (mu, v = variance): as normal, in (mu, v).

def normal_var_fisher(mu, v):
    return _sym2(1 / v, 0.0, 1 / (2 * v**2))


def normal_var_score(x, mu, v):
    r = x - mu
    return _vec([r / v, (r**2 / v - 1) / (2 * v)])


def normal_var_log_density(x, mu, v):
    return -(x - mu)**2 / (2 * v) - 0.5 * np.log(2 * np.pi * v)


def normal_var_kl(mu_p, v_p, mu_q, v_q):
    return 0.5 * (np.log(v_q / v_p) + (v_p + (mu_p - mu_q)**2) / v_q - 1)


def normal_var_entropy(mu, v):
    return 0.5 * (1 + np.log(2 * np.pi * v))


# ======================================================================
# pareto (alpha; xm = 1): Arnold, Pareto Distributions (2015), ch. 3;
# Wikipedia "Pareto distribution".

def pareto_fisher(alpha):
    return np.expand_dims(np.expand_dims(1 / alpha**2, -1), -1)


def pareto_score(x, alpha, xm=PARETO_XM):
    return np.expand_dims(1 / alpha + np.log(xm) - np.log(x), -1)


def pareto_log_density(x, alpha, xm=PARETO_XM):
    return np.log(alpha) + alpha * np.log(xm) - (alpha + 1) * np.log(x)


def pareto_kl(alpha_p, alpha_q):
    r = alpha_q / alpha_p
    return r - np.log(r) - 1


def pareto_entropy(alpha, xm=PARETO_XM):
    return np.log(xm / alpha) + 1 + 1 / alpha


# ======================================================================
# poisson (lam): Johnson, Kemp, Kotz (2005), ch. 4.

def poisson_fisher(lam):
    return np.expand_dims(np.expand_dims(1 / lam, -1), -1)


def poisson_score(x, lam):
    return np.expand_dims(x / lam - 1, -1)


def poisson_log_density(x, lam):
    return x * np.log(lam) - lam - sc.gammaln(x + 1)


def poisson_kl(lam_p, lam_q):
    return lam_p * np.log(lam_p / lam_q) + lam_q - lam_p


# ======================================================================
# rayleigh (sigma): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 18;
# Wikipedia "Rayleigh distribution".

def rayleigh_fisher(sigma):
    return np.expand_dims(np.expand_dims(4 / sigma**2, -1), -1)


def rayleigh_score(x, sigma):
    return np.expand_dims(x**2 / sigma**3 - 2 / sigma, -1)


def rayleigh_log_density(x, sigma):
    return np.log(x) - 2 * np.log(sigma) - x**2 / (2 * sigma**2)


def rayleigh_kl(sigma_p, sigma_q):
    r = (sigma_p / sigma_q)**2
    return r - np.log(r) - 1


def rayleigh_entropy(sigma):
    return 1 + np.log(sigma / np.sqrt(2)) + EULER / 2


# ======================================================================
# student_t (mu, sigma; nu = 4): Lange, Little, Taylor, "Robust statistical modeling
# using the t distribution", JASA (1989) (Fisher diag((nu+1)/((nu+3) s^2),
# 2 nu/((nu+3) s^2))); entropy Wikipedia "Student's t-distribution" plus log sigma.

def student_t_fisher(mu, sigma, nu=STUDENT_NU):
    c = 1 / ((nu + 3) * sigma**2)
    return _sym2((nu + 1) * c, 0.0, 2 * nu * c)


def student_t_score(x, mu, sigma, nu=STUDENT_NU):
    r = x - mu
    w = (nu + 1) / (nu * sigma**2 + r**2)
    return _vec([w * r, (w * r**2 - 1) / sigma])


def student_t_log_density(x, mu, sigma, nu=STUDENT_NU):
    z = (x - mu) / sigma
    return (sc.gammaln((nu + 1) / 2) - sc.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
            - np.log(sigma) - (nu + 1) / 2 * np.log1p(z**2 / nu))


def student_t_entropy(mu, sigma, nu=STUDENT_NU):
    return ((nu + 1) / 2 * (sc.digamma((nu + 1) / 2) - sc.digamma(nu / 2))
            + 0.5 * np.log(nu) + sc.betaln(nu / 2, 0.5) + np.log(sigma))


# ======================================================================
# von_mises (mu, kappa): Mardia & Jupp, Directional Statistics (2000), the von Mises
# distribution (A(k) = I1(k)/I0(k) = E[cos(x - mu)], A'(k) = 1 - A/k - A^2,
# Fisher diag(k A, A')); KL from E_p[cos(x - mu_q)] = A(k_p) cos(mu_p - mu_q).
# Bessel functions through the scaled i0e, i1e (log I0(k) = log i0e(k) + k).

def von_mises_fisher(mu, kappa):
    A = sc.i1e(kappa) / sc.i0e(kappa)
    return _sym2(kappa * A, 0.0, 1 - A / kappa - A**2)


def von_mises_score(x, mu, kappa):
    return _vec([kappa * np.sin(x - mu), np.cos(x - mu) - sc.i1e(kappa) / sc.i0e(kappa)])


def von_mises_log_density(x, mu, kappa):
    return kappa * (np.cos(x - mu) - 1) - np.log(2 * np.pi * sc.i0e(kappa))


def von_mises_kl(mu_p, kappa_p, mu_q, kappa_q):
    A = sc.i1e(kappa_p) / sc.i0e(kappa_p)
    return (A * (kappa_p - kappa_q * np.cos(mu_p - mu_q))
            + np.log(sc.i0e(kappa_q) / sc.i0e(kappa_p)) + kappa_q - kappa_p)


def von_mises_entropy(mu, kappa):
    return np.log(2 * np.pi * sc.i0e(kappa)) + kappa * (1 - sc.i1e(kappa) / sc.i0e(kappa))


# ======================================================================
# weibull (k shape, lam scale): Johnson, Kotz, Balakrishnan vol. 1 (1994), ch. 21
# (Fisher [[((1-g)^2 + pi^2/6)/k^2, -(1-g)/lam], [-(1-g)/lam, k^2/lam^2]], g = Euler);
# KL: Bauckhage, "Computing the Kullback-Leibler divergence between two Weibull
# distributions" (2013); entropy Wikipedia "Weibull distribution".

def weibull_fisher(k, lam):
    return _sym2(((1 - EULER)**2 + np.pi**2 / 6) / k**2, (EULER - 1) / lam, (k / lam)**2)


def weibull_score(x, k, lam):
    L = np.log(x / lam)
    u = np.exp(k * L)                                      # (x/lam)^k
    return _vec([1 / k + L - u * L, k / lam * (u - 1)])


def weibull_log_density(x, k, lam):
    L = np.log(x / lam)
    return np.log(k / lam) + (k - 1) * L - np.exp(k * L)


def weibull_kl(k_p, lam_p, k_q, lam_q):
    return (np.log(k_p / k_q) - k_p * np.log(lam_p) + k_q * np.log(lam_q)
            + (k_p - k_q) * (np.log(lam_p) - EULER / k_p)
            + (lam_p / lam_q)**k_q * sc.gamma(k_q / k_p + 1) - 1)


def weibull_entropy(k, lam):
    return EULER * (1 - 1 / k) + np.log(lam / k) + 1


# ======================================================================
# the table

QUANTITIES = ("fisher", "score", "log_density", "kl", "entropy")

FAMILIES = ("bernoulli", "beta", "binomial", "categorical", "cauchy", "dirichlet",
            "exponential", "gamma", "geometric", "gumbel", "half_normal", "inverse_gamma",
            "inverse_gaussian", "laplace", "logistic", "lognormal", "multinomial", "mvnormal",
            "mvnormal2", "negative_binomial", "normal", "normal_curved", "normal_var",
            "pareto", "poisson", "rayleigh", "student_t", "von_mises", "weibull")

SKIPPED = {
    ("logistic", "kl"): "no closed form in the literature (the integral of "
                        "log(1 + e^-z) against a rescaled logistic is not elementary)",
    ("student_t", "kl"): "no closed form in the literature for two t distributions "
                         "with different location/scale",
    ("poisson", "entropy"): "no closed form: lam (1 - log lam) + e^-lam sum_k "
                            "lam^k log(k!)/k! is an infinite series",
    ("negative_binomial", "entropy"): "no closed form: an infinite series over x "
                                      "(log binomial(x + r - 1, x) has no closed expectation)",
}

HANDWRITTEN = {}
for _fam in FAMILIES:
    for _q in QUANTITIES:
        _fn = globals().get(f"{_fam}_{_q}")
        if _fn is not None:
            HANDWRITTEN[(_fam, _q)] = _fn
        elif (_fam, _q) not in SKIPPED:
            raise RuntimeError(f"no hand-written {_fam} {_q} and no reason to skip it")


# ======================================================================
# generic points of the domain and of the support (numpy Generator rng, n points)

def _pos(rng, n):
    return rng.uniform(0.4, 3.0, n)


def _real(rng, n):
    return rng.uniform(-2.0, 2.0, n)


def _unit(rng, n):
    return rng.uniform(0.05, 0.95, n)


def _simplex_p(rng, n):
    # categorical / multinomial probabilities (p1, p2), all three well inside (0, 1)
    p = rng.dirichlet([2.0, 2.0, 2.0], n)
    p = 0.03 + 0.91 * p
    return [p[:, 0], p[:, 1]]


def _covariance(rng, n):
    s11, s22 = _pos(rng, n), _pos(rng, n)
    rho = rng.uniform(-0.8, 0.8, n)
    return [s11, rho * np.sqrt(s11 * s22), s22]


_PARAMS = {
    "bernoulli": lambda r, n: [_unit(r, n)],
    "beta": lambda r, n: [_pos(r, n), _pos(r, n)],
    "binomial": lambda r, n: [_unit(r, n)],
    "categorical": _simplex_p,
    "cauchy": lambda r, n: [_real(r, n), _pos(r, n)],
    "dirichlet": lambda r, n: [_pos(r, n), _pos(r, n), _pos(r, n)],
    "exponential": lambda r, n: [_pos(r, n)],
    "gamma": lambda r, n: [_pos(r, n), _pos(r, n)],
    "geometric": lambda r, n: [_unit(r, n)],
    "gumbel": lambda r, n: [_real(r, n), _pos(r, n)],
    "half_normal": lambda r, n: [_pos(r, n)],
    "inverse_gamma": lambda r, n: [_pos(r, n), _pos(r, n)],
    "inverse_gaussian": lambda r, n: [_pos(r, n), _pos(r, n)],
    "laplace": lambda r, n: [_real(r, n), _pos(r, n)],
    "logistic": lambda r, n: [_real(r, n), _pos(r, n)],
    "lognormal": lambda r, n: [_real(r, n), _pos(r, n)],
    "multinomial": _simplex_p,
    "mvnormal": lambda r, n: [_real(r, n), _real(r, n)] + _covariance(r, n),
    "mvnormal2": lambda r, n: [_real(r, n), _real(r, n)] + _covariance(r, n),
    "negative_binomial": lambda r, n: [_unit(r, n)],
    "normal": lambda r, n: [_real(r, n), _pos(r, n)],
    "normal_curved": lambda r, n: [_pos(r, n)],
    "normal_var": lambda r, n: [_real(r, n), _pos(r, n)],
    "pareto": lambda r, n: [_pos(r, n)],
    "poisson": lambda r, n: [_pos(r, n)],
    "rayleigh": lambda r, n: [_pos(r, n)],
    "student_t": lambda r, n: [_real(r, n), _pos(r, n)],
    "von_mises": lambda r, n: [r.uniform(-3.0, 3.0, n), _pos(r, n)],
    "weibull": lambda r, n: [_pos(r, n), _pos(r, n)],
}


def _ints(lo, hi):
    return lambda r, n: r.integers(lo, hi + 1, n).astype(float)


_X = {
    "bernoulli": _ints(0, 1),
    "binomial": _ints(0, BINOMIAL_N),
    "categorical": _ints(1, 3),
    "geometric": _ints(0, 12),
    "negative_binomial": _ints(0, 12),
    "poisson": _ints(0, 12),
    "beta": lambda r, n: r.uniform(0.02, 0.98, n),
    "dirichlet": lambda r, n: r.dirichlet([2.0, 2.0, 2.0], n),
    "multinomial": lambda r, n: r.multinomial(MULTINOMIAL_N, [1 / 3] * 3, n).astype(float),
    "mvnormal": lambda r, n: r.uniform(-4.0, 4.0, (n, 2)),
    "mvnormal2": lambda r, n: r.uniform(-4.0, 4.0, (n, 2)),
    "pareto": lambda r, n: PARETO_XM + r.uniform(0.01, 5.0, n),
    "von_mises": lambda r, n: r.uniform(-np.pi, np.pi, n),
}
_POSITIVE_SUPPORT = {"exponential", "gamma", "half_normal", "inverse_gamma", "inverse_gaussian",
                     "lognormal", "rayleigh", "weibull"}


def random_params(family, rng, n):
    """n generic points of the coordinate domain: a list of (n,) arrays, coordinate order."""
    return _PARAMS[family](rng, n)


def random_x(family, rng, n):
    """n generic points of the support: shape (n,), or (n, number of variables)."""
    if family in _X:
        return _X[family](rng, n)
    if family in _POSITIVE_SUPPORT:
        return rng.uniform(0.05, 5.0, n)
    return rng.uniform(-4.0, 4.0, n)
