"""Emitters: LaTeX documents and ``symgeo build`` (the ``generated/`` tree)."""
