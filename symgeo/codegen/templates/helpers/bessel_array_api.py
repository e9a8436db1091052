{% include "helpers/bessel_functional.py" %}
