"""The semiring pairs' shared layout (einigc/targets/semiring_rules.py): plain data, and its copies in generated modules."""

import ast

import numpy as np
import pytest

from einigc.resources import runtime_path
from einigc.targets import semiring_rules as rules
from einigc.targets.runtime_source import runtime as runtime_module


def test_a_matrix_product_aligns_the_contracted_letter_last():
    layout = rules._SemiringLayout("ij,jk->ik")
    assert layout.alone == [(), ()]
    assert layout.words == [["i", "j"], ["j", "k"]]
    assert layout.contracted == 1
    # a: i j -> i 1 j; b: j k -> 1 k j (moved, then a unit axis for i)
    assert layout.aligned == [(None, [-2]), ("jk->kj", [-3])]
    assert layout.result_equation is None
    assert layout.shared_axes == [(1,), (0,)]
    assert layout.shift_aligned == [(None, [-1]), (None, [-2])]
    assert layout.product == "ij,jk->ik"


def test_letters_one_operand_has_alone_are_reduced_first():
    # m only in a, n only in b: neither the other operand nor the result has them.
    layout = rules._SemiringLayout("imj,jnk->ki")
    assert layout.alone == [(1,), (1,)]
    assert layout.words == [["i", "j"], ["j", "k"]]
    assert layout.aligned == [(None, [-3]), ("jk->kj", [-2])]  # the result's order: k, i
    assert layout.result_equation is None


def test_a_result_whose_ellipsis_is_not_first_is_laid_out_last():
    assert rules._SemiringLayout("...j,jk->k...").result_equation == "...k->k..."


def test_ellipsis_axes_count_from_the_back_and_stay_first():
    layout = rules._SemiringLayout("...j,jk->...k")
    assert layout.words == [["...", "j"], ["j", "k"]]
    assert layout.shared_axes == [(-1,), (0,)]
    assert layout.aligned == [(None, [-2]), ("jk->kj", [])]
    assert layout.product == "...j,jk->...k"
    assert rules._letter_axis(["i", "...", "j"], "i") == 0


def test_no_contracted_letter_is_a_broadcast_sum():
    layout = rules._SemiringLayout("i,j->ij")
    assert layout.contracted == 0
    assert layout.aligned == [(None, [-1]), (None, [-2])]


def test_block_shapes_merge_the_contracted_axes_and_pad_the_rank():
    assert rules._block_shapes((2, 3, 4), (3, 4), 2) == ((2, 12), (1, 12))
    assert rules._block_shapes((5, 0), (0,), 1) == ((5, 0), (1, 0))
    assert rules._block_length(100, (7, 3)) == 4
    assert rules._block_length(10, (7, 3)) == 1  # at least one
    assert rules._block_length(10, (0,)) == 10  # an empty result: block by itself


def test_the_alignment_broadcasts_the_operands_as_the_pair_needs():
    a, b = np.random.default_rng(0).normal(size=(2, 3)), np.random.default_rng(1).normal(size=(3, 4))
    (moved_a, units_a), (moved_b, units_b) = rules._SemiringLayout("ij,jk->ik").aligned
    a3 = np.expand_dims(a, units_a[0])
    b3 = np.expand_dims(np.einsum(moved_b, b), units_b[0])
    expected = np.max(a[:, :, None] + b[None], axis=1)
    np.testing.assert_array_equal(np.max(a3 + b3, axis=-1), expected)


@pytest.mark.parametrize("target", ["tensorflow", "numpy", "torch", "jax"])
def test_no_runtime_defines_the_layout_itself(target):
    tree = ast.parse(runtime_path(target).read_text(encoding="utf-8"))
    own = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    shared = {name for name in vars(rules) if name.startswith("_") and not name.startswith("__")}
    assert own & shared == set()
    assert "_SemiringLayout" in {d.name for d in runtime_module(target).needed(["_semiring_pair"])}


def test_the_numpy_copies_stand_alone_with_the_layout_in_place_of_its_import():
    helpers = runtime_module("numpy")
    needed = helpers.needed(["_semiring_pair", "_logsumexp_pair"])
    assert {"_SemiringLayout", "_alignment", "_block_shapes", "_block_length"} <= {d.name for d in needed}
    assert helpers.modules_used(needed) == ["math", "numpy"]
    source = "import math\n\nimport numpy as np\n\n" + "\n\n".join(d.source for d in needed)
    assert "einigc" not in source
    namespace = {}
    exec(compile(source, "generated", "exec"), namespace)
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    result = namespace["_semiring_pair"]("max", "ij,jk->ki", a, b, 5)
    np.testing.assert_array_equal(result, np.max(a[:, :, None] + b[None], axis=1).T)
    summed = namespace["_logsumexp_pair"]("ij,jk->ik", a, b, 5)
    np.testing.assert_allclose(summed, np.log(np.exp(a) @ np.exp(b)))
