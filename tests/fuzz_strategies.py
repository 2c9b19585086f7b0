"""Hypothesis strategies that fuzz the compiler's input: a `.ein` file's bytes.

Three families, from least to most structured:

(a) random text and random bytes (UTF-8 or not);
(b) mutations of valid `.ein` files: characters and tokens deleted, inserted,
    duplicated, swapped, replaced or repeated, anywhere or inside spec strings;
(c) grammatical but (mostly) semantically wrong declarations: random names,
    arities, `where` clauses and spec strings built from the spec alphabet.

Every strategy yields `bytes`, the exact content of the source file.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st

from einigc.targets import runtime_source

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------
# Valid seeds for the mutation family: the example file, and small files that
# together cover the whole language.

SEED_SNIPPETS: dict[str, str] = {
    "composites_groups": '''\
"""Composites, groups and units."""

# A matrix product whose outer axes are composites.
mm(a, b) = einsum("Ij,jK->IK", a, b)
project(x, w) = einsum("bij,(ij)k->bk", x, w)
unflatten(x) = einsum("(ij)->ij", x) where j = 4
flatten(x) = einsum("bij->b(ij)", x)
nested(x) = einsum("b((ij)k)->bijk", x) where i = 2, j = 3
keepdims(x) = einsum("ij->i_", x)
squeeze(x) = einsum("_i->i", x)
unit(x) = einsum("i->i()", x)
batched(x, y) = einsum("B(ij),jk->Bik", x, y) where i = 2
''',
    "diagonals": """\
# Diagonals, gathered and induced.
diag(x) = einsum("i->ii", x)
spread(x) = einsum("ij->jijij", x)
gather(x, y) = einsum("bijkijlj,bklji->bijk", x, y)
trace(x) = einsum("ii->", x)
""",
    "ellipsis_implicit_where": """\
'''Ellipses, implicit mode and where clauses.'''
bdot(x, y) = einsum("...i,...i->...", x, y)
imp(a, b) = einsum("ij,jk", a, b)
total(x) = einsum("...->", x)
scale(s, x) = einsum(",ij->ij", s, x)
chain(a, b, c, d) = einsum("ab,bc,cd,de->ae", a, b, c, d)
    where a ~ 1000, b ~ 2, c ~ 1000, d ~ 2, e ~ 1000
spaced(x, y) = einsum(" b i j , b j k -> b i k ", x, y)
""",
    "booleans_calls": """\
# Booleans and calls between declarations.
path_count(a, b) = eincount("ij,jk->ik", a, b)
reachable(a, b) = einany("ij,jk->ik", a, b)
twice(a, b, c) = reach3(reach3(a, b, c), b, c)
reach3(a, b, c) = einany("ij,jk,kl->il", a, b, c)
gram_trace(x) = einsum("ii->", einsum("ij,kj->ik", x, x,),)
""",
    "eingrad": """\
# eingrad: every form of the language.
vjp(z, y, x) = eingrad("i,i%j->j", z, y, x)
jacobian(y, x) = eingrad("i%j->ij", y, x)
hessian(y, x) = eingrad("j%k->jk", eingrad(",%j->j", y, x), x)
batched_grad(y, x) = eingrad("b%bj->bj", y, x) where b independent
jvp(y, x, v) = eingrad("i%j,j->i", y, x, v)
batched_jvp(y, x, v) = eingrad("bi%bj,bj->bi", y, x, v) where b independent
divergence(y, x) = eingrad("i%i->", y, x)
""",
}


def seed_files() -> dict[str, str]:
    """Every valid seed: the snippets above and the examples' `.ein` files."""
    seeds = {}
    for path in sorted((REPO / "examples").glob("*.ein")):
        seeds[f"examples/{path.name}"] = path.read_text(encoding="utf-8")
    seeds.update(SEED_SNIPPETS)
    return seeds


SEEDS = seed_files()

# ---------------------------------------------------------------------------
# Tokens: how the mutations see a file.

_TOKEN = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\''  # docstrings
    r'|"[^"\n]*"|\'[^\'\n]*\''  # spec strings
    r"|#[^\n]*"  # comments
    r"|[A-Za-z_][A-Za-z_0-9]*|[0-9]+"  # names and numbers
    r"|->|\.\.\.|[ \t]+|\n|."  # everything else, one character at a time
)


def tokenize(text: str) -> list[str]:
    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text
    return tokens


# The spec alphabet: what a spec string may hold.
SPEC_TERMS = ["i", "j", "k", "b", "z", "I", "J", "K", "...", "_", "(", ")", ",", "%", "->", " ", "()", ",%"]

# Characters and tokens worth inserting: the language's punctuation, its
# keywords, the spec alphabet, things that are almost right, and a little junk.
INSERT_CHARS = list("()=,~\"'#\n\t %_.-><{}[];:\\0123456789ijkIJK") + [
    "\r",
    "\x0c",
    "\x00",
    "\u00e9",
    "\u2028",
    "\ufeff",
    "\U0001f600",
]
_POOL_TOKENS = sorted({tok for text in SEEDS.values() for tok in tokenize(text) if tok.strip()})
INSERT_TOKENS = _POOL_TOKENS + [
    "where",
    "independent",
    "einsum",
    "eincount",
    "einany",
    "eingrad",
    "einsum(",
    '""',
    '"->"',
    '"..."',
    "def",
    "lambda",
    "None",
    "tf",
    "_diagonal",
    "__init__",
    "x_shape",
    "0",
    "00",
    "99999999999999999999",
    '"""',
    "'''",
    "= 4",
    "~ 1000",
    "%",
    "->",
    "...",
    "()",
]


# ---------------------------------------------------------------------------
# (a) random text and bytes

EIN_CHARS = st.sampled_from(INSERT_CHARS + list("abcdefghxyzwhere") + ["einsum", "where ", "->", "..."])


def random_text() -> st.SearchStrategy[bytes]:
    """Any Unicode text, or text made mostly of the language's own characters, as UTF-8."""
    anything = st.text(max_size=300)
    einish = st.lists(EIN_CHARS, max_size=120).map("".join)
    return st.one_of(anything, einish).map(lambda s: s.encode("utf-8", "surrogatepass"))


def random_bytes() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and valid seeds with invalid UTF-8 spliced in or re-encoded."""
    seed_bytes = st.sampled_from(sorted(SEEDS)).map(lambda k: SEEDS[k].encode("utf-8"))
    bad = st.sampled_from([b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"])

    @st.composite
    def spliced(draw):
        data = draw(seed_bytes)
        pos = draw(st.integers(0, len(data)))
        return data[:pos] + draw(bad) + data[pos:]

    @st.composite
    def reencoded(draw):
        text = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
        encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig"]))
        return text.replace("x", draw(st.sampled_from(["x", "\u00e9", "\u00fc"]))).encode(encoding, "replace")

    return st.one_of(st.binary(max_size=300), spliced(), reencoded())


# ---------------------------------------------------------------------------
# (b) mutations of valid files


def _body_names(tokens: list[str]) -> list[int]:
    """Indices of the lowercase names that stand as values right of a declaration's `=`."""
    found, in_body, depth = [], False, 0
    for k, tok in enumerate(tokens):
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif tok == "=" and depth == 0:
            in_body = True
        elif tok == "where":
            in_body = False
        elif k and tokens[k - 1] == "\n" and tok.strip() and depth == 0:
            in_body = False  # a declaration starts at the beginning of a line
        elif in_body and depth > 0 and re.fullmatch(r"[a-z_][a-z_0-9]*", tok) and tokens[k + 1 : k + 2] != ["("]:
            found.append(k)
    return found


@st.composite
def _mutate_once(draw, text: str, kind: str | None = None) -> str:
    kind = kind or draw(
        st.sampled_from(
            [
                "delete_char",
                "insert_char",
                "duplicate_chars",
                "swap_chars",
                "delete_token",
                "insert_token",
                "duplicate_token",
                "swap_tokens",
                "replace_token",
                "mutate_spec",
                "repeat_slice",
            ]
        )
    )
    n = len(text)
    if kind == "delete_char" and n:
        i = draw(st.integers(0, n - 1))
        return text[:i] + text[i + 1 :]
    if kind == "insert_char":
        i = draw(st.integers(0, n))
        return text[:i] + draw(st.sampled_from(INSERT_CHARS)) + text[i:]
    if kind == "duplicate_chars" and n:
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, min(n, i + 12)))
        return text[:j] + text[i:j] + text[j:]
    if kind == "swap_chars" and n >= 2:
        i = draw(st.integers(0, n - 2))
        j = draw(st.integers(i + 1, min(n - 1, i + 20)))
        chars = list(text)
        chars[i], chars[j] = chars[j], chars[i]
        return "".join(chars)
    if kind == "repeat_slice" and n:
        # Rarely: a slice repeated many times, for deep nesting and long lists.
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(i + 1, min(n, i + 8)))
        times = draw(st.sampled_from([2, 3, 10, 50, 200, 600]))
        return text[:j] + text[i:j] * times + text[j:]

    tokens = tokenize(text)
    m = len(tokens)
    if kind == "deepen":
        # Nesting that stays valid: an axis wrapped in groups, or an argument
        # wrapped in identity einsums, many levels deep.
        depth = draw(st.sampled_from([1, 2, 10, 100, 300, 600, 1000]))
        specs = [k for k, tok in enumerate(tokens) if re.fullmatch(r"([\"'])[^\"']*[a-z][^\"']*\1", tok)]
        args = [k for k in _body_names(tokens) if tokens[k + 1 : k + 2] in ([","], [")"])]
        if specs and (not args or draw(st.booleans())):
            k = draw(st.sampled_from(specs))
            letters = [i for i, ch in enumerate(tokens[k]) if ch.islower()]
            i = draw(st.sampled_from(letters))
            tok = tokens[k]
            tokens[k] = tok[:i] + "(" * depth + tok[i] + ")" * depth + tok[i + 1 :]
        elif args:
            k = draw(st.sampled_from(args))
            tokens[k] = 'einsum("...->...", ' * depth + tokens[k] + ")" * depth
        return "".join(tokens)
    if kind == "delete_token" and m:
        i = draw(st.integers(0, m - 1))
        del tokens[i]
    elif kind == "insert_token":
        i = draw(st.integers(0, m))
        tokens.insert(i, draw(st.sampled_from(INSERT_TOKENS)))
    elif kind == "duplicate_token" and m:
        i = draw(st.integers(0, m - 1))
        tokens.insert(i, tokens[i])
    elif kind == "swap_tokens" and m >= 2:
        i = draw(st.integers(0, m - 2))
        j = draw(st.integers(i + 1, m - 1))
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif kind == "replace_token" and m:
        i = draw(st.integers(0, m - 1))
        tokens[i] = draw(st.sampled_from(INSERT_TOKENS))
    elif kind == "mutate_spec":
        specs = [
            k
            for k, tok in enumerate(tokens)
            if len(tok) >= 2 and tok[0] in "\"'" and tok[-1] == tok[0] and not tok.startswith(tok[0] * 3)
        ]
        if specs:
            k = draw(st.sampled_from(specs))
            body = list(tokens[k][1:-1])
            op = draw(st.sampled_from(["delete", "insert", "swap", "replace"]))
            if op == "delete" and body:
                del body[draw(st.integers(0, len(body) - 1))]
            elif op == "insert":
                body.insert(draw(st.integers(0, len(body))), draw(st.sampled_from(SPEC_TERMS)))
            elif op == "swap" and len(body) >= 2:
                i = draw(st.integers(0, len(body) - 2))
                j = draw(st.integers(i + 1, len(body) - 1))
                body[i], body[j] = body[j], body[i]
            elif op == "replace" and body:
                body[draw(st.integers(0, len(body) - 1))] = draw(st.sampled_from(SPEC_TERMS))
            tokens[k] = tokens[k][0] + "".join(body) + tokens[k][-1]
    return "".join(tokens)


# One mutated file in this many ends with a deep nesting (0: never).
DEEPEN_ONE_IN = 6


@st.composite
def mutated_source(draw) -> bytes:
    name = draw(st.sampled_from(sorted(SEEDS)))
    text = SEEDS[name]
    # Sometimes only one declaration (and the comments above it), so that a
    # mutation is not always drowned by the rest of the file.
    if draw(st.booleans()):
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[i : i + draw(st.integers(1, 3))])
    deepen = DEEPEN_ONE_IN > 0 and draw(st.integers(0, DEEPEN_ONE_IN - 1)) == 0
    for _ in range(draw(st.integers(0, 1) if deepen else st.integers(1, 4))):
        text = draw(_mutate_once(text))
    if deepen:
        # Last, so that the other mutations do not land in the deep part.
        text = draw(_mutate_once(text, "deepen"))
    return text.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------
# (c) grammatical, semantically wrong declarations

PLAIN_NAMES = ["f", "g", "h", "mm", "x", "y", "z", "w", "a", "b", "s", "t"]
WEIRD_NAMES = [
    # Python keywords and soft keywords, builtins, the module's own names.
    "def",
    "class",
    "lambda",
    "None",
    "True",
    "match",
    "print",
    "len",
    "sum",
    "tf",
    "__all__",
    "__init__",
    "__name__",
    "_diagonal",
    "_induced_diagonal",
    "_require_bool",
    "_trace_when_eager",
    # the language's own words
    "einsum",
    "eincount",
    "einany",
    "eingrad",
    "where",
    "independent",
    # names close to the compiler's intermediates
    "x_shape",
    "x_1",
    "t",
    "t_1",
    "result",
    "shape",
    "_",
    "I",
    "a_very_long_name_that_goes_on_and_on_and_on",
]
# Mostly ordinary names, so that most files get past the name checks.


def _helper_names() -> list[str]:
    """The module-level names of the generated code's helpers (and their helpers)."""
    names = runtime_source.runtime("tensorflow").bound_names()
    return sorted(name for name in names if name.startswith("_") and not name.startswith("__"))


WEIRD_NAMES = sorted(set(WEIRD_NAMES) | set(_helper_names()))
NAMES = st.sampled_from(PLAIN_NAMES * 6 + WEIRD_NAMES)
PARAMS = st.one_of(
    st.lists(st.sampled_from(["x", "y", "z", "w", "u", "v"]), unique=True, max_size=4),
    st.lists(NAMES, max_size=4),
)
SIZES = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 64, 1000, 10**6, 2**31, 2**63, 10**30]),
    st.integers(0, 10**9),
)


@st.composite
def spec_operand(draw, depth: int = 0) -> str:
    terms = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["axis", "axis", "axis", "composite", "ellipsis", "unit", "group"]))
        if kind == "axis":
            terms.append(draw(st.sampled_from("ijkbz")))
        elif kind == "composite":
            terms.append(draw(st.sampled_from("IJK")))
        elif kind == "ellipsis":
            terms.append("...")
        elif kind == "unit":
            terms.append("_")
        elif depth < 2:
            terms.append("(" + draw(spec_operand(depth + 1)) + ")")
        # else: a group too deep is left out
    return "".join(terms)


@st.composite
def spec_string(draw, grad: bool = False) -> tuple[str, int]:
    """A spec and its number of input operands: structured, or any run of the alphabet."""
    if draw(st.integers(0, 4)) == 0:
        body = "".join(draw(st.lists(st.sampled_from(SPEC_TERMS), max_size=14)))
        return body, body.count(",") + body.count("%") - body.count(",%") + 1
    inputs = draw(st.lists(spec_operand(), min_size=1, max_size=4))
    usual = [",", ",", ",", "%", ",%"] if grad else [",", ",", ",", ",", ",", ",", "%"]
    separators = [draw(st.sampled_from(usual)) for _ in inputs[1:]]
    body = inputs[0] + "".join(sep + op for sep, op in zip(separators, inputs[1:]))
    if draw(st.integers(0, 3)):
        body += "->" + draw(spec_operand())
    if draw(st.integers(0, 5)) == 0:
        body = " ".join(re.findall(r"\.\.\.|->|.", body))  # whitespace is ignored
    return body, len(inputs)


@st.composite
def expression(draw, params: list[str], arities: dict[str, int], depth: int = 0) -> str:
    kind = draw(st.sampled_from(["ref", "builtin", "builtin", "builtin", "call"] if depth < 2 else ["ref"]))
    if kind == "ref":
        return draw(st.sampled_from(params)) if params and draw(st.integers(0, 19)) else draw(NAMES)
    if kind == "builtin":
        func = draw(st.sampled_from(["einsum", "einsum", "einsum", "eincount", "einany", "eingrad"]))
        spec, arity = draw(spec_string(grad=func == "eingrad"))
        if draw(st.integers(0, 9)) == 0:
            arity = draw(st.integers(0, 5))
        args = [draw(expression(params, arities, depth + 1)) for _ in range(arity)]
        quote = draw(st.sampled_from(['"', '"', "'"]))
        return f"{func}({quote}{spec}{quote}{''.join(', ' + a for a in args)})"
    if arities and draw(st.integers(0, 5)):
        callee = draw(st.sampled_from(sorted(arities)))
        arity = arities[callee] if draw(st.integers(0, 5)) else draw(st.integers(0, 3))
    else:
        callee, arity = draw(NAMES), draw(st.integers(0, 3))
    args = [draw(expression(params, arities, depth + 1)) for _ in range(arity)]
    return f"{callee}({', '.join(args)})"


@st.composite
def where_clause(draw) -> str:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        letter = draw(st.sampled_from(list("ijkbzIJ"))) if draw(st.integers(0, 5)) else draw(NAMES)
        kind = draw(st.sampled_from(["=", "~", "~", "independent"]))
        items.append(f"{letter} independent" if kind == "independent" else f"{letter} {kind} {draw(SIZES)}")
    return " where " + ", ".join(items)


@st.composite
def wrong_declarations(draw) -> bytes:
    """A file of 1-4 declarations that follow the grammar, with random meaning."""
    n = draw(st.sampled_from([1, 1, 1, 2, 2, 3, 4]))
    if draw(st.integers(0, 5)):
        names = draw(st.lists(st.sampled_from(["f", "g", "h", "k", "mm"]), unique=True, min_size=n, max_size=n))
    else:
        names = [draw(NAMES) for _ in range(n)]
    if draw(st.integers(0, 5)):
        plain = st.lists(st.sampled_from(["x", "y", "z", "w", "u", "v"]), unique=True, min_size=1, max_size=4)
        params = [draw(plain) for _ in names]
    else:
        params = [draw(st.lists(NAMES, max_size=4)) for _ in names]
    arities = {name: len(ps) for name, ps in zip(names, params)}
    lines = []
    if draw(st.integers(0, 4)) == 0:
        lines.append('"""A fuzzed module."""')
    for name, ps in zip(names, params):
        if draw(st.integers(0, 4)) == 0:
            lines.append(f"# {draw(st.text(alphabet='abc xyz', max_size=20))}")
        decl = f"{name}({', '.join(ps)}) = {draw(expression(ps, arities))}"
        if draw(st.integers(0, 2)) == 0:
            decl += draw(where_clause())
        lines.append(decl)
    return ("\n".join(lines) + "\n").encode("utf-8")
