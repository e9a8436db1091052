"""The loader refuses every malformed family file with one line (a SymgeoError), never a traceback.

Each refusal names the file (and line), the field, what was wrong and what to
write instead.  Files that are not family files at all (binary, not UTF-8,
huge, a device, a pipe, a directory) are refused before they are parsed.  A
hypothesis fuzz test mutates a valid declaration: loading either succeeds or
raises a SymgeoError.
"""

import math
import os
import re
import time
from pathlib import Path

import pytest
import sympy as sp

import symgeo
from symgeo.declare.loader import MAX_FILE_BYTES, declaration_from_text
from symgeo.errors import SymgeoError

NORMAL = (Path(__file__).resolve().parents[2] / "families" / "normal.toml").read_text()
#  1 name = "normal"
#  2 title = ...
#  3 description = ...
#  4 variables = ["x"]
#  5 support = { kind = "real" }
#  6 log_density = ...
#  7 references = [...]
#  9 [[coordinates]]      10 name = "mu"     11 domain = "real"      12 meaning = "mean"
# 14 [[coordinates]]      15 name = "sigma"  16 domain = "positive"  17 meaning = ...


def _edit(old, new, text=NORMAL):
    assert old in text, old
    return text.replace(old, new, 1)


def _without_coordinates(extra):
    return NORMAL[:NORMAL.index("[[coordinates]]")] + extra


FIXED = '\n[[fixed]]\nname = "n"\ndefault = 3\ndomain = "positive_integer"\n'

#: (id, file text, the pieces the one-line message contains, in this order)
CASES = [
    ("coordinates-int", _without_coordinates("coordinates = 5\n"),
     ["fam.toml:9: family 'normal': coordinates", "[[coordinates]]", "got an integer"]),
    ("coordinates-empty", _without_coordinates("coordinates = []\n"),
     ["coordinates", "[[coordinates]]", "got an array"]),
    ("coordinates-strings", _without_coordinates('coordinates = ["mu"]\n'),
     ["coordinate #1", "must be a table", "got a string"]),
    ("coordinate-name-int", _edit('name = "mu"', "name = 5"),
     ["fam.toml:10: family 'normal': coordinate #1", "must be a string", "got an integer"]),
    ("coordinate-name-list", _edit('name = "mu"', 'name = ["mu"]'),
     ["fam.toml:10:", "coordinate #1", "got an array"]),
    ("coordinate-name-table", _edit('name = "mu"', "name = { a = 1 }"),
     ["fam.toml:10:", "coordinate #1", "got a table"]),
    ("coordinate-name-missing", _edit('name = "mu"\n', ""),
     ["fam.toml:9:", "coordinate #1", "needs a name"]),
    ("coordinate-name-keyword", _edit('name = "mu"', 'name = "lambda"'),
     ["coordinate", "'lambda' is a Python keyword", "choose another name"]),
    ("coordinate-unknown-key", _edit('meaning = "mean"', 'meening = "mean"'),
     ["fam.toml:12:", "coordinate mu", "unknown key", "meening", "takes"]),
    ("coordinate-meaning-list", _edit('meaning = "mean"', "meaning = [1]"),
     ["fam.toml:12:", "coordinate mu", "meaning must be a string"]),
    ("variable-int", _edit('variables = ["x"]', "variables = [5]"),
     ["fam.toml:4: family 'normal': variables", "must be a string", "got an integer"]),
    ("variable-list", _edit('variables = ["x"]', 'variables = [["x"]]'),
     ["fam.toml:4:", "variables", "got an array"]),
    ("variables-int", _edit('variables = ["x"]', "variables = 5"),
     ["fam.toml:4:", "variables", '["x"]', "got an integer"]),
    ("variables-empty", _edit('variables = ["x"]', "variables = []"),
     ["fam.toml:4:", "variables"]),
    ("fixed-name-int", NORMAL + FIXED.replace('name = "n"', "name = 5"),
     ["fixed parameter #1", "must be a string", "got an integer"]),
    ("fixed-name-table", NORMAL + FIXED.replace('name = "n"', "name = { a = 1 }"),
     ["fixed parameter #1", "got a table"]),
    ("fixed-name-missing", NORMAL + FIXED.replace('name = "n"\n', ""),
     ["fam.toml:19:", "fixed parameter #1", "needs a name"]),
    ("fixed-int", _edit("references", "fixed = 5\nreferences"),
     ["fam.toml:7:", "fixed", "[[fixed]]", "got an integer"]),
    ("fixed-default-nan", NORMAL + FIXED.replace("default = 3", "default = nan"),
     ["fixed parameter n", "positive integer", "nan"]),
    ("fixed-default-bool", NORMAL + FIXED.replace("default = 3", "default = true"),
     ["fixed parameter n", "got a boolean"]),
    ("fixed-default-fraction", NORMAL + FIXED.replace("default = 3", "default = 2.5"),
     ["fixed parameter n", "positive integer", "2.5"]),
    ("fixed-domain-bogus", NORMAL + FIXED.replace('"positive_integer"', '"integer"'),
     ["fixed parameter n", '"positive" or "positive_integer"', "'integer'"]),
    ("domain-bogus", _edit('domain = "positive"', 'domain = "bogus"'),
     ["fam.toml:16: family 'normal': coordinate sigma", "unknown domain 'bogus'",
      '"real", "positive", "unit", "circle"', '["0", "1"]']),
    ("domain-int", _edit('domain = "positive"', "domain = 5"),
     ["fam.toml:16:", "coordinate sigma", "got an integer", "write one of"]),
    ("domain-reversed", _edit('domain = "positive"', 'domain = ["1", "0"]'),
     ["fam.toml:16:", "coordinate sigma", "domain (1, 0) is empty", "lower bound"]),
    ("domain-point", _edit('domain = "positive"', 'domain = ["1", "1"]'),
     ["coordinate sigma", "is empty"]),
    ("domain-oo-oo", _edit('domain = "positive"', 'domain = ["oo", "oo"]'),
     ["coordinate sigma", "is empty"]),
    ("domain-complex", _edit('domain = "positive"', 'domain = ["sqrt(-1)", "1"]'),
     ["fam.toml:16:", "coordinate sigma", "'sqrt(-1)'", "not a real number"]),
    ("domain-zoo", _edit('domain = "positive"', 'domain = ["log(0)", "1"]'),
     ["coordinate sigma", "not a real number"]),
    ("domain-three", _edit('domain = "positive"', 'domain = ["0", "1", "2"]'),
     ["fam.toml:16:", "coordinate sigma", "two bounds", "got 3"]),
    ("domain-symbolic", _edit('domain = "positive"', 'domain = ["mu", "oo"]'),
     ["coordinate sigma", "must be a number", "depend on mu", "constraint"]),
    ("domain-table", _edit('domain = "positive"', 'domain = { diagonal = "positive" }'),
     ["coordinate sigma", "diagonal = ..., otherwise = ..."]),
    ("references-int", re.sub("references = .*", "references = 5", NORMAL),
     ["fam.toml:7: family 'normal': references", "array of strings", "got an integer"]),
    ("references-mixed", re.sub("references = .*", 'references = ["a", 2]', NORMAL),
     ["references", "got an integer"]),
    ("title-int", _edit('title = "Normal distribution"', "title = 5"),
     ["fam.toml:2: family 'normal': title", "must be a string"]),
    ("constraint-on-variable", _edit("references", 'constraints = ["x < 1"]\nreferences'),
     ["fam.toml:7:", "constraints", "'x < 1' involves the random variable", "support"]),
    ("constraint-not-inequality", _edit("references", 'constraints = ["mu + 1"]\nreferences'),
     ["constraints", "not an inequality", "a < b"]),
    ("constraint-false", _edit("references", 'constraints = ["1 < 0"]\nreferences'),
     ["constraints", "can never hold"]),
    ("constraint-complex", _edit("references", 'constraints = ["mu < sqrt(-1)"]\nreferences'),
     ["constraints", "must be real"]),
    ("constraints-int", _edit("references", "constraints = 5\nreferences"),
     ["constraints", "array of inequalities", "got an integer"]),
    ("constraint-table", _edit("references", 'constraints = [{ for = 5, rule = "mu < 1" }]\n'
                                             "references"),
     ["constraints", "for = ", "got a table"]),
    ("define-int", _edit("references", "define = 5\nreferences"),
     ["define", "must be a table", "got an integer"]),
    ("define-list", NORMAL + "\n[define]\nz = [1]\n", ["z", "formula must be a string"]),
    ("data-int", _edit("references", "data = 5\nreferences"),
     ["data", "must be a table", "got an integer"]),
    ("data-table", NORMAL + "\n[data]\nt = { a = 1 }\n", ["t", "formula must be a string"]),
    ("support-string", _edit('support = { kind = "real" }', 'support = "real"'),
     ["fam.toml:5:", "support", '{ kind = "real" }', "got a string"]),
    ("support-kind-int", _edit('{ kind = "real" }', "{ kind = 5 }"),
     ["support", "unknown support kind 5"]),
    ("support-extra-key", _edit('{ kind = "real" }', '{ kind = "real", lower = "0" }'),
     ["support", "takes nothing else", "'lower'", 'kind = "interval"']),
    ("support-reversed", _edit('{ kind = "real" }', '{ kind = "interval", lower = 1, upper = 0 }'),
     ["support", "is empty"]),
    ("support-complex", _edit('{ kind = "real" }',
                              '{ kind = "interval", lower = "sqrt(-1)", upper = 1 }'),
     ["support", "not a real number"]),
    ("support-integers-fraction", _edit('{ kind = "real" }', '{ kind = "integers", lower = 0.5 }'),
     ["support", "must be an integer"]),
    ("support-finite-int", _edit('{ kind = "real" }', '{ kind = "finite", values = 5 }'),
     ["support", "values = ", "got an integer"]),
    ("support-finite-twice", _edit('{ kind = "real" }', '{ kind = "finite", values = [0, 0] }'),
     ["support", "listed twice"]),
    ("support-simplex-one", _edit('{ kind = "real" }', '{ kind = "simplex" }'),
     ["support", "at least two variables"]),
    ("missing-log-density", re.sub("log_density = .*\n", "", NORMAL),
     ["fam.toml: family 'normal': missing required key 'log_density'", "write log_density ="]),
    ("unknown-key", _edit("references", "referenses = []\nreferences"),
     ["fam.toml:7:", "unknown key", "referenses", "known:"]),
    ("name-int", _edit('name = "normal"', "name = 5"),
     ["fam.toml:1: family '?': name", "letters, digits and underscores", "got an integer"]),
    ("bad-toml", NORMAL + "\nthis is not toml\n", ["fam.toml: not valid TOML", "line 19"]),
    ("deep-toml", "a = " + "[" * 100_000, ["fam.toml: not valid TOML", "nested too deeply"]),
    ("formula-on-two-lines", re.sub("log_density = .*", 'log_density = """bar(x,\n  mu)"""',
                                    NORMAL),
     ["fam.toml:6: family 'normal': log_density", "'bar' is not in the whitelist"]),
]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_file_is_one_clear_line(tmp_path, text, fragments):
    path = tmp_path / "fam.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SymgeoError) as info:
        symgeo.load_family(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message
    at = 0
    for fragment in fragments:  # in this order
        at = message.find(fragment, at)
        assert at >= 0, f"{fragment!r} not in {message}"


def test_lower_infinite_domain_is_not_malformed():
    """["-oo", "0"] is the negative half-line: read by the loader as (-oo, 0)."""
    text = _edit('domain = "positive"', 'domain = ["-oo", "0"]')
    kw = declaration_from_text(text, "fam.toml")
    assert kw["coordinates"][1][1] == (-sp.oo, 0)


def test_lower_infinite_domain_loads(tmp_path):
    """A family with mu < 0 (random_point drew nan for a domain (-oo, upper) before 1e1dcad)."""
    text = _edit('domain = "real"', 'domain = ["-oo", "0"]')
    path = tmp_path / "fam.toml"
    path.write_text(text, encoding="utf-8")
    fam = symgeo.load_family(path)
    assert fam.generic_point()[fam.symbol("mu")] < 0


def test_fixed_values_from_python_are_checked():
    for value, fragment in [(float("nan"), "nan"), (float("inf"), "inf"), (True, "boolean"),
                            ([1], "array"), (2.5, "positive integer"), (-3, "positive integer"),
                            (sp.Symbol("x") + 1, "positive integer")]:
        with pytest.raises(SymgeoError, match=f"fixed parameter n.*{fragment}"):
            symgeo.get_family("binomial", n=value)
    assert symgeo.get_family("binomial", n=2.0).fixed[sp.Symbol("n", integer=True,
                                                                 positive=True)] == 2


def test_names_are_read_as_python_reads_them():
    """A name is NFKC-normalised, as the formula parser reads identifiers: µ (micro) is μ."""
    text = _edit('name = "mu"', 'name = "\u00b5"').replace("x - mu", "x - \u00b5")
    kw = declaration_from_text(text, "fam.toml")
    assert kw["coordinates"][0][0].name == "\u03bc"


# ----------------------------------------------------------------------
# files that are not family files


def _refused(path, *fragments):
    with pytest.raises(SymgeoError) as info:
        symgeo.load_family(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_binary_file(tmp_path):
    p = tmp_path / "ls.toml"
    p.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00name = 1")
    _refused(p, "binary file")
    if os.path.exists("/bin/ls"):
        _refused(Path("/bin/ls"), "not a family file")


def test_not_utf8(tmp_path):
    p = tmp_path / "latin1.toml"
    p.write_bytes(NORMAL.replace("Normal distribution", "Loi normale (Gau\xdf)").encode("latin-1"))
    _refused(p, ":2: not UTF-8 text", "byte 0xdf", "save it as UTF-8")


def test_byte_order_mark_is_accepted(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + NORMAL.encode())
    assert symgeo.load_family(p).name == "normal"


def test_huge_file_is_refused_unread(tmp_path):
    p = tmp_path / "huge.toml"
    with p.open("wb") as fh:
        fh.write(NORMAL.encode())
        fh.write(b"#" * MAX_FILE_BYTES)
    _refused(p, "larger than 4 MB")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_is_refused():
    t = time.process_time()
    _refused(Path("/dev/zero"), "a device, not a family file")
    assert time.process_time() - t < 1


def test_directory_and_missing_file(tmp_path):
    _refused(tmp_path, "a directory")
    _refused(tmp_path / "nope.toml", "cannot read family file", "No such file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    _refused(fifo, "a pipe")


def test_text_declarations_are_bounded():
    with pytest.raises(SymgeoError, match="longer than 4 MB"):
        declaration_from_text(NORMAL + "#" * MAX_FILE_BYTES, "<big>")
    with pytest.raises(SymgeoError, match="TOML text, got an integer"):
        declaration_from_text(5, "<int>")


# ----------------------------------------------------------------------
# fuzz: mutations of a valid declaration

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

FUZZ = hypothesis.settings(max_examples=150, deadline=None, database=None, derandomize=True,
                           suppress_health_check=list(hypothesis.HealthCheck))


def _toml_string(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_string(k)


def _toml_value(v):
    """One TOML value on one line (inline tables and arrays)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else "nan" if math.isnan(v) else \
            "inf" if v > 0 else "-inf"
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _toml(data):
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in data.items())


FORMULAS = ["x", "mu", "sigma", "0", "1", "-1", "oo", "-oo", "pi", "2.5", "log(sigma)",
            "-(x - mu)**2/(2*sigma**2) - log(sigma) - log(2*pi)/2", "sqrt(-1)", "log(0)",
            "1/0", "x < 1", "mu < sigma", "sigma > 0", "mu + sigma", "gamma(0)", "n", "z",
            "t[1]", "len(t)", "sum(mu, i, 1, 3)", "1e999", "10**10**10", "x[1:3]", "mu.real",
            "a[1:n]", "s[i, j]", "i = 1:2", "k = 1:n", "lambda", "µ", "Ω", ""]
NAMES = ["x", "mu", "sigma", "n", "t", "z", "pi", "gamma", "lambda", "x[1:2]", "a[1:n]",
         "s[i, j]", "_x", "a b", "µ", "Ω", "log", "x__y", ""]
scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                   st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(FORMULAS), st.sampled_from(NAMES), st.text(max_size=12))
toml_value = st.recursive(scalar.filter(lambda v: v is not None),
                          lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                  st.dictionaries(st.sampled_from(
                                                      ["name", "domain", "kind", "lower", "upper",
                                                       "values", "total", "for", "rule", "default",
                                                       "meaning", "diagonal", "otherwise", "z"]),
                                                      inner, max_size=4)),
                          max_leaves=8)
formula = st.one_of(st.sampled_from(FORMULAS), st.text(alphabet="xmusigan0123()+-*/.<>=[]:, ",
                                                       max_size=24))


FIELDS = {
    "name": st.sampled_from(["normal", "n0rmal", "1x", ""]),
    "variables": st.one_of(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3)),
    "support": st.fixed_dictionaries(
        {"kind": st.sampled_from(["real", "interval", "circle", "integers", "finite", "simplex",
                                  "compositions", "x"])},
        optional={"lower": formula, "upper": formula, "total": formula,
                  "values": st.lists(formula, max_size=3)}),
    "log_density": formula,
    "references": st.lists(st.text(max_size=8), max_size=2),
    "constraints": st.lists(st.one_of(formula, st.fixed_dictionaries(
        {"for": formula, "rule": formula})), max_size=2),
    "define": st.dictionaries(st.sampled_from(NAMES), formula, max_size=2),
    "data": st.dictionaries(st.sampled_from(NAMES), st.one_of(
        formula, st.lists(st.integers(-3, 3), max_size=3)), max_size=2),
    "fixed": st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(NAMES)},
        optional={"default": st.one_of(st.integers(-2, 4), formula, st.floats()),
                  "domain": st.sampled_from(["positive", "positive_integer", "real"])}),
        max_size=2),
    "title": st.text(max_size=8),
    "coordinates": st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(NAMES)},
        optional={"domain": st.one_of(st.sampled_from(["real", "positive", "unit", "circle",
                                                       "bogus"]),
                                      st.lists(formula, max_size=3)),
                  "for": st.one_of(formula, st.lists(formula, max_size=2)),
                  "meaning": st.text(max_size=6)}), max_size=3),
}
COORDINATE_FIELDS = {"name": st.sampled_from(NAMES),
                     "domain": st.one_of(st.sampled_from(["real", "positive", "unit", "circle",
                                                          "bogus"]),
                                         st.lists(formula, max_size=3)),
                     "for": st.one_of(formula, st.lists(formula, max_size=2)),
                     "meaning": st.text(max_size=6)}


@st.composite
def _mutated_normal(draw):
    """normal.toml with one to four fields removed, retyped or rewritten, or a field added."""
    import tomllib
    data = tomllib.loads(NORMAL)
    data["coordinates"] = [dict(c) for c in data["coordinates"]]
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, len(data["coordinates"]) + 1)) \
            if isinstance(data.get("coordinates"), list) else -1
        if 0 <= k < len(data["coordinates"]) and isinstance(data["coordinates"][k], dict):
            key = draw(st.sampled_from(sorted(COORDINATE_FIELDS)))
            table, pool = data["coordinates"][k], COORDINATE_FIELDS[key]
        else:
            key = draw(st.sampled_from(sorted(FIELDS) + ["extra", "notes"]))
            table, pool = data, FIELDS.get(key, toml_value)
        how = draw(st.sampled_from(["remove", "rewrite", "retype"]))
        if how == "remove":
            table.pop(key, None)
        else:
            table[key] = draw(pool if how == "rewrite" else toml_value)
    return data


def _load(text):
    """Load a declaration from text (no file is written); True when it was accepted."""
    t = time.process_time()
    try:
        symgeo.Family(**declaration_from_text(text, "<fuzz>"), validate=False)
        accepted = True
    except SymgeoError as exc:
        assert "\n" not in str(exc), str(exc)
        accepted = False
    assert time.process_time() - t < 5, text
    return accepted


@pytest.fixture
def hypothesis_home(tmp_path):
    """Hypothesis keeps its caches (source constants, unicode tables) in a temporary home."""
    configuration = pytest.importorskip("hypothesis.configuration")
    configuration.set_hypothesis_home_dir(tmp_path / "hypothesis")
    yield
    configuration.set_hypothesis_home_dir(None)


@FUZZ
@hypothesis.given(_mutated_normal())
def _fuzz_mutated_declarations(data):
    import tomllib
    text = _toml(data)
    assert repr(tomllib.loads(text)) == repr(data)  # the serialiser writes what was drawn
    _load(text)


@FUZZ
@hypothesis.given(st.lists(st.tuples(st.integers(0, len(NORMAL)), st.integers(0, 12),
                                     st.text(max_size=6)), min_size=1, max_size=4))
def _fuzz_edited_text(edits):
    text = NORMAL
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut:]
    _load(text)


def test_fuzz_mutated_declarations(hypothesis_home):
    """normal.toml with fields removed, retyped or rewritten: loads, or one SymgeoError line."""
    _fuzz_mutated_declarations()


def test_fuzz_edited_text(hypothesis_home):
    """normal.toml with characters cut and inserted: loads, or one SymgeoError line."""
    _fuzz_edited_text()
