"""Planning: which pairs are matrix products, what a step copies, which order wins."""

import collections
import os
import random
import re
import subprocess
import sys
import time

import numpy as np
import opt_einsum
import pytest

from einigc import ir
from einigc.compiler import compile_text
from einigc.plan import (
    DEFAULT_SIZE,
    _search_path,
    candidate_paths,
    copied_words,
    matmul_form,
    plan_contraction,
)
from einigc.passes.prune import prune
from tests import plan_networks
from tests.ein_harness import compile_module
from tests.test_lowering import code_lines, function_source


def w(text):
    return tuple(text)


@pytest.mark.parametrize(
    "left, right, out, rows, inner, cols, swap, ta, tb",
    [
        ("ij", "jk", "ik", "i", "j", "k", False, False, False),
        ("ji", "kj", "ik", "i", "j", "k", False, True, True),
        ("ij", "jk", "ki", "k", "j", "i", True, True, True),
        ("bij", "ijk", "bk", "b", "ij", "k", False, False, False),
        ("ijk", "lkj", "il", None, None, None, None, None, None),  # kj against jk: a copy
        ("bi", "bk", "bik", None, None, None, None, None, None),  # nothing summed: outer product
        ("bjk", "bk", "bj", None, None, None, None, None, None),  # no columns: a matrix-vector product
        ("bqd", "bkd", "bqk", "q", "d", "k", False, False, True),
    ],
)
def test_matmul_form(left, right, out, rows, inner, cols, swap, ta, tb):
    form = matmul_form(w(left), w(right), w(out))
    if rows is None:
        assert form is None
        return
    assert (form.rows, form.inner, form.cols) == (w(rows), w(inner), w(cols))
    assert (form.swap, form.transpose_a, form.transpose_b) == (swap, ta, tb)


def test_copied_words_names_what_einsum_transposes():
    assert copied_words(w("bik"), w("ijk"), w("bj")) == [w("ijk")]  # ijk is not (ik)j
    assert copied_words(w("bi"), w("ijk"), w("bjk")) == []  # a matrix product
    assert copied_words(w("bjk"), w("bk"), w("bj")) == []  # batched matrix-vector, no copy
    assert copied_words(w("bi"), w("ijb"), w("bj")) == [w("ijb")]  # batch b is not leading
    assert copied_words(w("bij"), w("bjk"), w("ibk")) == [w("ibk")]  # the result needs a transpose


def test_equal_flops_orders_prefer_the_one_without_copies():
    plan = plan_contraction([w("bi"), w("ijk"), w("bk")], w("bj"), {})
    pairs = [(s.left_symbols, s.right_symbols, s.output) for s in plan.steps]
    # Not the outer product bi,bk->bik, whose next step must transpose w.
    assert pairs == [(w("bi"), w("ijk"), w("bjk")), (w("bjk"), w("bk"), w("bj"))]
    assert plan.strategy == "all orders"


def test_declared_skewed_sizes_still_follow_the_flops():
    sizes = {s: (n, "where ~") for s, n in dict(a=1000, b=2, c=1000, d=2, e=1000).items()}
    plan = plan_contraction([w("ab"), w("bc"), w("cd"), w("de")], w("ae"), sizes)
    assert plan.planned_flops == 4_016_000  # opt_einsum's optimal for these sizes


def test_candidates_keep_every_order_worth_choosing():
    plans = candidate_paths([w("bij"), w("bjk"), w("bkl")], w("bil"), {})
    assert len(plans) == 2


def test_prune_drops_unread_shape_bookkeeping_only():
    body = (
        ir.Assign("x_shape", ir.ShapeOf("x"), "what the next steps do"),
        ir.Assign("unused", ir.Reshape("x", (ir.Dim("x_shape", ir.Const(0)), ir.Const(-1))), "x as a matrix"),
        ir.Assign("kept", ir.Einsum("ij->i", ("x",))),
        ir.Assign("y", ir.MatMul("x", "x")),
        ir.Return(ir.Name("y")),
    )
    function = prune(ir.Function("f", ("x",), ir.FunctionDoc(), body))
    assert [s.target for s in function.body[:-1]] == ["kept", "y"]
    # A shape read's comment tells what follows: it moves; a reshape's goes with it.
    assert function.body[0].comment == "what the next steps do"


FUSED = """\
project(x, w) = einsum("bij,(ij)k->bk", x, w)
rows(x, y) = einsum("ijk,jkl->il", x, y)
swapped(x, y) = einsum("ijk,kl->lij", x, y)
transposed(x, y) = einsum("jki,ljk->il", x, y)
bilinear(x, w, y) = einsum("bi,ijk,bk->bj", x, w, y)
"""

SHAPES = {
    "project": ([(3, 2, 4), (8, 5)], "bij,ijk->bk"),
    "rows": ([(3, 2, 4), (2, 4, 5)], "ijk,jkl->il"),
    "swapped": ([(3, 2, 4), (4, 5)], "ijk,kl->lij"),
    "transposed": ([(2, 4, 3), (5, 2, 4)], "jki,ljk->il"),
    "bilinear": ([(3, 2), (2, 4, 5), (3, 5)], "bi,ijk,bk->bj"),
}


def test_runs_of_axes_become_one_matmul_and_no_einsum():
    for name in ("project", "rows", "swapped", "transposed"):
        code = code_lines(function_source(FUSED, name))
        # Eagerly one Einsum op instead, where that saves reshapes (test_eager_choice).
        code = re.sub(r"if tf.executing_eagerly\(\):\n.*?\n *else:\n", "", code, flags=re.S)
        assert code.count("tf.raw_ops.MatMul(") == 1, name
        assert "Einsum(" not in code and "tf.transpose(" not in code, name
    # The group (ij) of w already is the matrix: only x is reshaped.
    assert code_lines(function_source(FUSED, "project")).count("tf.reshape(") == 1


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("mode", ["eager", "function", "unknown dims"])
def test_fused_products_equal_numpy(name, mode, tf):
    module = compile_module(FUSED)
    shapes, equation = SHAPES[name]
    rng = np.random.default_rng(7)
    operands = [rng.standard_normal(s) for s in shapes]
    if name == "project":
        # w is the flattening of x's ij.
        expected = np.einsum(equation, operands[0], operands[1].reshape(2, 4, 5))
    else:
        expected = np.einsum(equation, *operands)
    fn = getattr(module, name)
    if mode != "eager":
        signature = [
            tf.TensorSpec([None] * len(s) if mode == "unknown dims" else s, tf.float64) for s in shapes
        ]
        fn = tf.function(fn, input_signature=signature)
    np.testing.assert_allclose(fn(*operands), expected, rtol=1e-10)


def test_the_docstring_says_how_the_order_was_chosen():
    source = compile_text(FUSED).source
    assert "order (cheapest of all orders, copies counted): bi,ijk->bjk; bjk,bk->bj" in source


# Planning that scales: every network up to 100 operands is planned within
# a generous bound (the point is that it finishes), as well as the best of
# opt_einsum's searches that finish here, and the same way every time.

OPTIMAL_MAX_FOR_REFERENCE = 7  # opt_einsum "optimal" beyond takes minutes
SMALL_NETWORKS = plan_networks.small_networks()


def _opt_einsum_best(name, inputs, output, sizes) -> int:
    """The least FLOPs of opt_einsum's greedy, random-greedy and, where they finish soon, dp and optimal."""
    eq, shapes = plan_networks.equation(inputs, output, sizes, DEFAULT_SIZE)
    # Letters as integers: with letters as strings, greedy's and random-greedy's
    # results change with PYTHONHASHSEED (by 30x on the random 3-regular 100).
    words = eq.split("->")[0].split(",")
    index = {c: k for k, c in enumerate(dict.fromkeys("".join(words)))}
    sets = [frozenset(index[c] for c in word) for word in words]
    out = frozenset(index[c] for c in eq.split("->")[1])
    size_dict = {index[c]: n for word, shape in zip(words, shapes) for c, n in zip(word, shape)}
    searches = [
        opt_einsum.paths.greedy(sets, out, size_dict),
        opt_einsum.RandomGreedy(max_repeats=32)(sets, out, size_dict),
    ]
    # dp's subsets explode on a hub or one shared letter, and on larger random graphs.
    # (On the ring of 100 it takes 10 s and finds greedy's order: see bench/results/planning.md.)
    large_random = name.startswith("random") and len(inputs) > 30
    if not name.startswith(("star", "i,i", "ring 100")) and not large_random:
        searches.append("dp")
    if len(inputs) <= OPTIMAL_MAX_FOR_REFERENCE:
        searches.append("optimal")
    return min(
        int(opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=s)[1].opt_cost) for s in searches
    )


@pytest.mark.parametrize(
    "network",
    [pytest.param(network, marks=pytest.mark.slow) for network in plan_networks.networks()] + SMALL_NETWORKS,
    ids=lambda network: network[0],
)
def test_large_networks_are_planned_in_bounded_time_and_near_the_best(network):
    name, inputs, output, sizes = network
    start = time.perf_counter()
    plan = plan_contraction(inputs, output, sizes)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"{name}: planning took {elapsed:.1f} s"
    best = _opt_einsum_best(*network)
    assert plan.planned_flops <= 1.05 * best, (name, plan.strategy, plan.planned_flops, best)


@pytest.mark.tensorflow  # runs the generated module
def test_twenty_operands_sharing_a_letter_compile_and_equal_numpy():
    names = [f"x{k}" for k in range(20)]
    text = f'dot20({", ".join(names)}) = einsum("{",".join("i" * 20)}->", {", ".join(names)})\n'
    assert "opt_einsum greedy" in compile_text(text).source
    vectors = [np.random.default_rng(k).standard_normal(5) for k in range(20)]
    np.testing.assert_allclose(compile_module(text).dot20(*vectors), np.prod(vectors, axis=0).sum())


@pytest.mark.tensorflow  # runs the generated module
def test_a_random_network_of_16_compiles_and_equals_numpy():
    _, inputs, _, _ = plan_networks.random_regular(16, seed=5)
    letters = {s: chr(ord("a") + k) for k, s in enumerate(sorted({s for op in inputs for s in op}))}
    spec = ",".join("".join(letters[s] for s in op) for op in inputs) + "->"
    names = [f"x{k}" for k in range(16)]
    module = compile_module(f'net({", ".join(names)}) = einsum("{spec}", {", ".join(names)})\n')
    rng = np.random.default_rng(5)
    operands = [rng.standard_normal((3, 3, 3)) for _ in names]
    # numpy along opt_einsum's greedy order: the naive loop would take 3^24 steps.
    path = opt_einsum.contract_path(spec, *operands, optimize="greedy")[0]
    expected = np.einsum(spec, *operands, optimize=["einsum_path", *path])
    np.testing.assert_allclose(module.net(*operands), expected, rtol=1e-9)


def test_chains_take_the_dynamic_programming_search_and_hubs_the_bounded_ones():
    assert plan_contraction(*plan_networks.chain(30)[1:]).strategy == "dp"
    assert plan_contraction(*plan_networks.star(30)[1:]).strategy in ("greedy", "random-greedy")
    assert plan_contraction(*plan_networks.chain(5)[1:]).strategy == "optimal"


def test_connected_dp_matches_opt_einsum_dp_on_small_random_specs():
    rng = random.Random(3)
    for _ in range(60):
        letters = [opt_einsum.get_symbol(k) for k in range(rng.randint(3, 10))]
        words = ["".join(rng.sample(letters, rng.randint(1, 3))) for _ in range(rng.randint(6, 9))]
        output = "".join(c for c in letters if c in "".join(words) and rng.random() < 0.2)
        counts = collections.Counter("".join(words))
        words = ["".join(c for c in w if counts[c] > 1 or c in output) for w in words]
        eq = ",".join(words) + "->" + output
        size = {c: rng.choice([2, 3, 5, 8]) for c in letters}
        shapes = [tuple(size[c] for c in w) for w in words]
        path, _ = _search_path(eq, shapes)
        mine = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=list(path))[1].opt_cost
        assert mine <= opt_einsum.contract_path(eq, *shapes, shapes=True, optimize="dp")[1].opt_cost, eq


PLAN_TWICE = """
from einigc.plan import plan_contraction
from tests import plan_networks
for network in [plan_networks.random_regular(40), plan_networks.star(30), plan_networks.chain(30)]:
    plan = plan_contraction(*network[1:])
    print(plan.strategy, plan.path, plan.planned_flops)
"""


@pytest.mark.slow  # starts processes
def test_plans_are_the_same_across_hash_seeds():
    runs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.pathsep.join(sys.path))
        done = subprocess.run([sys.executable, "-c", PLAN_TWICE], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        runs.add(done.stdout)
    assert len(runs) == 1 and "random-greedy" in runs.pop()
    network = plan_networks.random_regular(50)
    assert plan_contraction(*network[1:]) == plan_contraction(*network[1:])
