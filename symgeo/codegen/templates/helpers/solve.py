def _solve(matrix, rhs):
    """Solve matrix v = rhs over broadcast leading axes; NaN where the matrix is not finite."""
    rhs = numpy.asarray(rhs, dtype=float)
    d = matrix.shape[-1]
    batch = numpy.broadcast_shapes(matrix.shape[:-2], rhs.shape[:-1])
    a = numpy.array(numpy.broadcast_to(matrix, batch + (d, d)))
    b = numpy.array(numpy.broadcast_to(rhs, batch + (d,)))
    bad = ~numpy.isfinite(a).all(axis=(-2, -1))
    a[bad] = numpy.eye(d)
    out = numpy.linalg.solve(a, b[..., None])[..., 0]
    out[bad] = numpy.nan
    return out
