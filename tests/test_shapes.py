"""Shapes: zero-size dimensions, unknown ranks, groups solved member by member, whole groups.

Reshape targets are computed entry by entry (a -1 beside a 0 is
undetermined), so every legal zero-size input gives numpy's result shape;
ranks the spec fixes are used where the data's is unknown while tracing;
a group member is known from its group when it is the group's only unknown
member. The oracle for values is tests/numpy_ref.py; for shapes, the output
word expanded with the letter sizes (an independent reading of the spec).
"""

from __future__ import annotations

import math
import os
import re
import string

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from einigc.compiler import compile_text  # noqa: E402
from einigc.errors import CompileErrors  # noqa: E402
from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_module  # noqa: E402
from tests.test_numeric import REFERENCE, SHAPES, SPECS, make_inputs  # noqa: E402

tf = pytest.importorskip("tensorflow")

# spec, where clause, letter sizes (a tuple for a composite or `...`), and the
# members a group gives (member: the other members of that group).
CASES = [
    ("bij,ijk->bk", "", dict(b=2, i=3, j=2, k=4), {}),  # a fused matrix product
    ("bij,(ij)k->bk", "", dict(b=2, i=3, j=2, k=4), {}),
    ("ijk->i(jk)", "", dict(i=2, j=3, k=2), {}),
    ("bij->b(ji)", "", dict(b=2, i=3, j=2), {}),
    ("(ij),i->ij", "", dict(i=3, j=2), {"j": "i"}),
    ("(bi)j,jk->b(ik)", "where b = 2", dict(b=2, i=3, j=2, k=4), {"i": "b"}),
    ("b(ij),jk->b(ik)", "", dict(b=2, i=3, j=2, k=4), {"i": "j"}),
    ("bc(hp)(wq)->b(hw)(pqc)", "where p = 2, q = 3", dict(b=2, c=3, h=2, p=2, w=3, q=3), {"h": "p", "w": "q"}),
    ("(ab)c(de)f->fecbda", "where b = 2, e = 3", dict(a=2, b=2, c=3, d=2, e=3, f=2), {"a": "b", "d": "e"}),
    ("bq(hd),(hd)e->bqe", "", dict(b=2, q=3, h=2, d=2, e=3), {}),  # a group kept whole
    ("(hd),(hd)->(hd)", "", dict(h=2, d=3), {}),
    ("Ij,jK->IK", "", {"I": (2, 3), "j": 2, "K": (3,)}, {}),
    ("bIj,jk->bIk", "", {"b": 2, "I": (2, 3), "j": 2, "k": 3}, {}),
    ("BI,I,IJ->BJ", "", {"B": (2,), "I": (3, 2), "J": (2,)}, {}),
    ("AA->A", "", {"A": (2, 3)}, {}),
    ("ii->i", "", dict(i=3), {}),
    ("ijklji->ikjl", "", dict(i=2, j=3, k=2, l=2), {}),
    ("i->ii", "", dict(i=3), {}),
    ("ij->jijij", "", dict(i=2, j=3), {}),
    ("...ij,...jk->...ik", "", {"...": (2, 3), "i": 2, "j": 3, "k": 2}, {}),
    ("...i,...i->...", "", {"...": (2, 3), "i": 2}, {}),
    ("...i->...ii", "", {"...": (2,), "i": 3}, {}),  # an induced diagonal beside `...`
    ("(...i),...->(...)i", "", {"...": (2, 3), "i": 2}, {"i": "..."}),
    ("ab,bc,cd->ad", "", dict(a=2, b=3, c=2, d=3), {}),
    ("ij,jk,kl,lm->im", "", dict(i=2, j=3, k=2, l=3, m=2), {}),
    ("i_j->ij", "", dict(i=2, j=3), {}),
    ("ij->i_", "", dict(i=2, j=3), {}),
    ("ij,jk->_i_k_", "", dict(i=2, j=3, k=2), {}),
]


def word_shape(word: str, sizes: dict) -> tuple[int, ...]:
    """The shape a spec word has for these letter sizes (a group multiplies its members)."""
    out: list[int] = []
    group: list[int] | None = None
    k = 0
    while k < len(word):
        if word.startswith("...", k):
            run, k = sizes["..."], k + 3
        else:
            char, k = word[k], k + 1
            if char == "(":
                group = []
                continue
            if char == ")":
                out.append(math.prod(group))
                group = None
                continue
            run = (1,) if char == "_" else sizes[char] if char.isupper() else (sizes[char],)
        (out if group is None else group).extend(run)
    return tuple(out)


def zero_variants(sizes: dict, where: str, derived: dict):
    """The sizes with one letter 0 (a composite's or `...`'s first axis), then all of them.

    A member given by its group is undetermined when another member is 0:
    those variants are tested on their own below.
    """
    fixed = set(re.findall(r"(\w) =", where))
    zeroable = [k for k in sizes if k not in fixed and (not isinstance(sizes[k], tuple) or sizes[k])]

    def zero(value):
        return (0,) + value[1:] if isinstance(value, tuple) else 0

    variants = [{**sizes, key: zero(sizes[key])} for key in zeroable]
    variants.append({k: zero(v) if k in zeroable else v for k, v in sizes.items()})
    for variant in variants:
        if not any(0 in word_shape(others, variant) for others in derived.values()):
            yield variant


def _module(spec: str, where: str):
    inputs = spec.split("->")[0].split(",")
    params = ", ".join(string.ascii_lowercase[: len(inputs)])
    return compile_module(f'f({params}) = einsum("{spec}", {params}) {where}\n')


def _where_sizes(where: str) -> dict:
    return {letter: int(size) for letter, size in re.findall(r"(\w) = (\d+)", where)}


def _run(fn, arrays, mode):
    tensors = [tf.constant(a) for a in arrays]
    if mode == "eager":
        return fn(*tensors)
    if mode == "function":
        signature = [tf.TensorSpec([None] * a.ndim, tf.float64) for a in arrays]
    else:
        signature = [tf.TensorSpec(None, tf.float64) for _ in arrays]
    return tf.function(fn, input_signature=signature)(*tensors)


def _fixed_rank(spec: str) -> bool:
    return "..." not in spec and not any(c.isupper() for c in spec)


@pytest.mark.parametrize("mode", ["eager", "function", "unknown rank"])
@pytest.mark.parametrize("spec,where,sizes,derived", CASES, ids=[c[0] for c in CASES])
def test_zero_size_dimensions_give_numpys_shapes(spec, where, sizes, derived, mode):
    fn = _module(spec, where).f
    words, out_word = spec.split("->")
    gen = np.random.default_rng(0)
    ref_sizes = {**_where_sizes(where), **({"h": sizes["h"]} if "(hd)" in spec else {})}
    for variant in [sizes, *zero_variants(sizes, where, derived)]:
        arrays = [gen.standard_normal(word_shape(w, variant)) for w in words.split(",")]
        expected_shape = word_shape(out_word, variant)
        try:
            result = _run(fn, arrays, mode)
        except ValueError as err:
            # Without a rank, a composite or `...` that must be split off cannot be.
            assert mode == "unknown rank" and not _fixed_rank(spec), err
            assert re.search(r"\bf: .*rank is unknown while tracing", str(err)), err
            return
        assert tuple(result.shape) == expected_shape, (variant, result.shape, expected_shape)
        if variant is sizes:
            expected = R.einsum(spec, *arrays, sizes=ref_sizes)
            np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)
        else:
            # Some axis is empty: the result is empty or an empty sum.
            np.testing.assert_array_equal(result.numpy(), np.zeros(expected_shape))


def test_the_reported_zero_size_cases():
    """The cases of the issue: (2, 4) zeros, (2, 0), (2, 0), no diagonal error."""
    m = compile_module(
        'p(x, w) = einsum("bij,ijk->bk", x, w)\nf(x) = einsum("ijk->i(jk)", x)\nd(x) = einsum("AA->A", x)\n'
    )
    out = m.p(tf.zeros([2, 0, 3]), tf.zeros([0, 3, 4]))
    assert out.shape == (2, 4) and not np.any(out.numpy())
    assert m.f(tf.zeros([2, 0, 3])).shape == (2, 0)
    assert m.d(tf.zeros([2, 0, 2, 0])).shape == (2, 0)


def test_a_member_whose_group_partners_multiply_to_zero_is_a_clear_error():
    """`(ij),i->ij` with i = 0: j is undetermined (numpy would not know it either)."""
    fn = compile_module('split(x, y) = einsum("(ij),i->ij", x, y)\n').split
    traced = tf.function(fn, input_signature=[tf.TensorSpec([None], tf.float64)] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        traced(tf.zeros([0], tf.float64), tf.zeros([0], tf.float64))
    message = str(info.value)  # quoted with backquotes: TensorFlow escapes quotes
    assert "split: the size of `j` in group (ij) of `x` is undetermined" in message, message
    assert traced(tf.zeros([6], tf.float64), tf.ones([3], tf.float64)).shape == (3, 2)


# --- unknown rank ----------------------------------------------------------------


COMPOSITE_FUNCTIONS = {"tensordot", "batch_matvec"}  # their composites need the rank


@pytest.fixture(scope="module")
def specs():
    return compile_module(SPECS.read_text(encoding="utf-8"), "specs.ein")


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_every_example_runs_with_an_unknown_rank(specs, name):
    """tf.function(input_signature=[TensorSpec(shape=None)]), as tf.numpy_function hands tf.data."""
    for k, shapes in enumerate(SHAPES[name]):
        dtype = tf.bool if name in ("path_count", "reachable") else tf.float64
        tensors, values = make_inputs(shapes, dtype, seed=k)
        fn = tf.function(getattr(specs, name), input_signature=[tf.TensorSpec(None, dtype)] * len(tensors))
        if name in COMPOSITE_FUNCTIONS:
            with pytest.raises(ValueError) as info:
                fn(*tensors)
            message = str(info.value)
            assert f"{name}: operand" in message and "rank is unknown while tracing" in message, message
            continue
        result = fn(*tensors)
        expected = REFERENCE[name](*values)
        assert tuple(result.shape) == expected.shape
        np.testing.assert_allclose(np.asarray(result.numpy(), np.float64), expected, rtol=1e-12, atol=1e-12)


def test_an_unknown_rank_is_checked_when_the_function_runs():
    """The rank the spec fixes is asserted, not assumed: a wrong one is an error, not a wrong result."""
    fn = compile_module('squeeze(x) = einsum("i_j->ij", x)\n').squeeze
    traced = tf.function(fn, input_signature=[tf.TensorSpec(None, tf.float64)])
    assert traced(tf.ones([2, 1, 3], tf.float64)).shape == (2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError):
        traced(tf.ones([2, 1, 3, 1], tf.float64))


# --- groups: several in one operand, one unknown member each ------------------------


VISION = {
    # ViT patchify, the most common rearrange in vision code.
    "patchify": ("bc(hp)(wq)->b(hw)(pqc)", "where p = 4, q = 4", (2, 3, 8, 12)),
    # MaxViT window partition, channels last.
    "windows": ("b(hx)(wy)c->(bhw)(xy)c", "where x = 2, y = 3", (2, 4, 6, 3)),
    # MobileViT unfold.
    "unfold": ("bc(hp)(wq)->b(pq)(hw)c", "where p = 2, q = 2", (2, 3, 4, 6)),
    "transpose": ("(ab)c(de)f->fecbda", "where b = 5, e = 2", (10, 3, 4, 2)),
}


@pytest.mark.parametrize("name", sorted(VISION))
def test_several_groups_with_one_unknown_member_each(name):
    spec, where, shape = VISION[name]
    module = compile_module(f'{name}(x) = einsum("{spec}", x) {where}\n')
    x = np.random.default_rng(1).standard_normal(shape)
    expected = R.einsum(spec, x, sizes=_where_sizes(where))
    for mode in ("eager", "function", "unknown rank"):
        np.testing.assert_array_equal(_run(getattr(module, name), [x], mode).numpy(), expected)


def test_a_member_from_its_group_is_a_named_size():
    source = compile_text('p(x) = einsum("bc(hp)(wq)->b(hw)(pqc)", x) where p = 16, q = 16\n', "p.ein").source
    assert "h = x_shape[2] // 16" in source and "w = x_shape[3] // 16" in source


def test_unknown_members_are_reported_at_their_group():
    with pytest.raises(CompileErrors) as info:
        compile_text('p(x) = einsum("bc(hp)(wq)->b(hw)(pqc)", x) where p = 16\n', "p.ein")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.message.startswith("group (wq) cannot be split: the sizes of 'w' and 'q' are unknown")
    assert diagnostic.pos.col == len('p(x) = einsum("bc(hp)') + 1


# --- a group contracted or carried whole needs no member sizes -------------------------


@pytest.mark.parametrize("where", ["", "where h = 4"])
def test_a_group_contracted_whole_is_one_matrix_product(where):
    text = f'attend(ctx, w) = einsum("bq(hd),(hd)e->bqe", ctx, w) {where}\n'
    source = compile_text(text, "a.ein").source
    body = source[source.index("def attend") :].split('"""')[2]
    # Eagerly one Einsum op saves the reshapes (test_eager_choice); else one MatMul.
    eager, graph = body.split("if tf.executing_eagerly():")[1].split("else:")
    assert eager.count("tf.raw_ops.Einsum(") == 1 and "reshape" not in eager
    assert graph.count("tf.raw_ops.MatMul(") == 1 and "Einsum" not in graph
    module = compile_module(text)
    gen = np.random.default_rng(2)
    ctx, w = gen.standard_normal((2, 3, 8)), gen.standard_normal((8, 5))
    expected = np.einsum("bqz,ze->bqe", ctx, w)
    for mode in ("eager", "function", "unknown rank"):
        np.testing.assert_allclose(_run(module.attend, [ctx, w], mode).numpy(), expected, rtol=1e-12)


# --- `...` in the output only, and stand-in letters ---------------------------------------


def test_output_ellipsis_without_input_ellipsis_is_no_axes():
    module = compile_module('s(x) = einsum("->...", x)\nt(x) = einsum("ij->...ji", x)\n')
    assert module.s(tf.constant(3.0)).numpy() == np.einsum("->...", np.float64(3.0))
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(module.t(x).numpy(), np.einsum("ij->...ji", x))


def test_all_26_composites_and_an_ellipsis_in_a_group():
    """`...` inside a group needs a letter the spec lacks: with every capital taken, a lowercase one."""
    capitals = string.ascii_uppercase
    params = [f"x{k}" for k in range(28)]
    spec = ",".join(capitals) + ",...,(...i)->i(...)"
    module = compile_module(f'f({", ".join(params)}) = einsum("{spec}", {", ".join(params)})\n')
    gen = np.random.default_rng(3)
    scalars = [gen.standard_normal(()) for _ in capitals]  # composites of rank 0
    y, x = gen.standard_normal((2,)), gen.standard_normal((6,))
    expected = math.prod(scalars) * np.einsum("e,ei->ie", y, x.reshape(2, 3))
    np.testing.assert_allclose(module.f(*scalars, y, x).numpy(), expected, rtol=1e-12)
