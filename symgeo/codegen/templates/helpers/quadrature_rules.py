_DE_LEVELS = 5
_DE_STEP = 1.0 / 64.0                              # the finest step: 1/4 halved 4 times
# t in [-5, 5]: the nodes reach |u| = 2e50, so that an algebraic tail |u|^-(1 + a)
# leaves out about (2e50)^-a of the mass (5e-22 for a = 0.42, a logistic affinity)
_DE_T = numpy.arange(-320, 321) * _DE_STEP
_SINH = numpy.pi / 2 * numpy.sinh(_DE_T)
# sinh-sinh: u = sinh(pi/2 sinh t) on the real line
_REAL_U = numpy.sinh(_SINH)
_REAL_W = _DE_STEP * numpy.pi / 2 * numpy.cosh(_DE_T) * numpy.cosh(_SINH)
# exp-sinh: offsets v = exp(pi/2 sinh t) on a half-line: from v = 4e-51, so that an
# endpoint singularity v^(a - 1) leaves out less than (4e-51)^a of the mass
_HALF_V = numpy.exp(_SINH)
_HALF_W = _DE_STEP * numpy.pi / 2 * numpy.cosh(_DE_T) * _HALF_V
# the same half-line for an integrand whose tail falls off exponentially (e^-v, e^-v^k):
# v = exp(t - e^-t + e^t / 20), Ooura and Mori's exponential map (its nodes keep a strip of
# width ~pi/2 about the tail, where exp-sinh's narrows to ~0.4: steps 1/8 and 1/16 agree
# on 98% of Gumbel / Weibull affinities, against 20%), with a double-exponential term that
# still takes the nodes to v = 1.5e51 (t = 7.7) and, at t = -5, down to v = 2e-67
_DE_T_EXP = numpy.arange(-320, 493) * _DE_STEP
_EXP_LOG_V = _DE_T_EXP - numpy.exp(-_DE_T_EXP) + numpy.exp(_DE_T_EXP) / 20
_HALF_EXP_V = numpy.exp(_EXP_LOG_V)
_HALF_EXP_W = _DE_STEP * (1 + numpy.exp(-_DE_T_EXP) + numpy.exp(_DE_T_EXP) / 20) * _HALF_EXP_V
# tanh-sinh on (-1, 1), as 1 + s = 2 / (1 + exp(-pi sinh t)): the nodes come
# within 1e-101 of the left end without rounding onto it (where the integrand may be
# undefined), so that a singularity v^(a - 1) there leaves out about (1e-101)^a
_FIN_1PS = 2 / (1 + numpy.exp(-numpy.pi * numpy.sinh(_DE_T)))
_FIN_W = _DE_STEP * numpy.pi / 2 * numpy.cosh(_DE_T) / \
    numpy.cosh(_SINH) ** 2


def _level_of(t):
    """Level k of each node: step 1/4 has the nodes of level 0, step 1/4 / 2^k adds level k."""
    i = numpy.rint(t / _DE_STEP).astype(int)
    level = numpy.full(i.shape, _DE_LEVELS - 1)
    for k in range(_DE_LEVELS - 2, -1, -1):
        level[i % (1 << (_DE_LEVELS - 1 - k)) == 0] = k
    return level


def _passes(nodes, weights, t):
    """The nodes of each pass with their weights: the first pass has the nodes of steps
    down to 1/16 and two weight columns (the sums at steps 1/16 and 1/8, each before
    its factor 2^(levels - 1 - k)); each later pass adds one halving."""
    level = _level_of(t)
    first = level <= _DE_FIRST
    columns = [numpy.where(level[first] <= k, weights[first], 0.0) for k in (2, 1)]
    return [(nodes[first], numpy.stack(columns, axis=-1))] + \
        [(nodes[level == k], weights[level == k]) for k in range(_DE_FIRST + 1, _DE_LEVELS)]


_DE_FIRST = 2
"""The first level a row may stop at (step 1/16): two coarser sums can agree by chance
(seen: 3e-10 apart with an error of 4e-9, a gamma KL of shape 0.46)."""
_BASES = {"real": _passes(_REAL_U, _REAL_W, _DE_T), "half": _passes(_HALF_V, _HALF_W, _DE_T),
          "half_exp": _passes(_HALF_EXP_V, _HALF_EXP_W, _DE_T_EXP),
          "finite": _passes(_FIN_1PS, _FIN_W, _DE_T),
          # a piece whose ends are kinks inside the support (centres, kinks of |x - mu|),
          # where the integrand is bounded: |t| <= 3.75 leaves out 2 exp(-pi sinh 3.75) =
          # 3e-29 of the piece's length at each end (relative to the mass: that over the
          # narrower bump's width); "finite_lo": the left end the support's end (0 on the
          # half-line, where v^(a-1) may be singular), kept whole
          "finite_in": _passes(*(v[80:-80] for v in (_FIN_1PS, _FIN_W, _DE_T))),
          "finite_lo": _passes(*(v[:-80] for v in (_FIN_1PS, _FIN_W, _DE_T)))}
_DE_ACCEPT = 1e-9
"""A row stops at the first step (from step 1/16) whose sum differs from the previous
step's by at most this relative to the result (plus _DE_ROUND).  Not 1e-7: before a
double-exponential rule reaches its fast regime the error need not square when the
step halves (seen: a Cauchy affinity whose steps 1/8 and 1/16 agreed to 2.6e-8 while
step 1/16 was 3.6e-9 off).  Measured on 6000 random generic pairs per route against
step 1/128: worst error 6.6e-13 at 1e-9, 4.5e-12 at 1e-8."""
_DE_ROUND = 1e-14
"""Allowance for rounding, relative to the sum of |terms| (a sum that cancels, as a KL
near p = q, cannot be resolved more finely)."""
_DE_LAST = 1e-7
"""At the finest step (1/64) a row is kept when its last two sums agree to this; else
NaN (never an unconverged number)."""
_CIRCLE_NODES = 256
_LOG_FLOOR = -700.0
"""A log-weight below this is raised to it, and its density, exp(-700) less
_FLOOR_DENSITY, is exactly 0: numpy's exp takes 4-40 times as long on an argument whose
result underflows (below -708) as on any other, and the subtraction costs a fifth of an
exp.  A density above the floor loses 1e-304 of its value."""
_FLOOR_DENSITY = float(numpy.exp(numpy.full(16, _LOG_FLOOR))[0])  # as the array exp rounds it
_CHUNK = 1 << 17          # nodes x rows evaluated at once (memory stays ~ 1 MB per array)
_SERIES_START = 32
_SERIES_MAX = 1 << 22     # terms of a series at most (NaN beyond, never a truncated sum)
_TAIL = 1e-17
