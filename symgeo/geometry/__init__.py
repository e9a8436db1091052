"""Geometry: α-connections and T_ijk, curvature, geodesics and distances, natural
gradient, projections."""
