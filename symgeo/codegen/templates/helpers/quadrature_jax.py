{% include "helpers/quadrature_functional.py" %}
