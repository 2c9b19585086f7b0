"""Reading a runtime module as source (no TensorFlow): definitions with their comments, what each needs, the names bound."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from einigc.errors import InternalError
from einigc.targets.runtime_source import read, runtime
from tests.conftest import REPO

MODULE = '''\
"""A runtime."""

import functools
import math as m

import tensorflow as tf

LIMIT = 64


# Section comments, a blank line away, belong to nobody.

# The one right above belongs to `_outer`.
def _outer(x):
    return _inner(x) + m.prod([LIMIT])


@functools.cache
def _inner(x):
    return tf.identity(x)


class _Unused:
    pass
'''


def test_definitions_carry_their_comments_and_decorators_and_what_they_need(tmp_path):
    path = tmp_path / "runtime.py"
    path.write_text(MODULE, encoding="utf-8")
    module = read(path)
    assert [d.name for d in module.definitions] == ["LIMIT", "_outer", "_inner", "_Unused"]
    outer, inner = module.definitions[1:3]
    assert outer.source.startswith("# The one right above belongs to `_outer`.\ndef _outer(x):\n")
    assert inner.source.startswith("@functools.cache\ndef _inner(x):")
    assert outer.needs == {"_inner", "m", "LIMIT"} and inner.needs == {"functools", "tf"}
    # In module order, whatever order they are asked for in; imports are not definitions.
    assert [d.name for d in module.needed(["_outer"])] == ["LIMIT", "_outer", "_inner"]
    assert module.modules_used(module.needed(["_outer"])) == ["functools", "math", "tensorflow"]
    assert module.bound_names() == {"LIMIT", "_outer", "_inner", "_Unused", "functools", "m", "tf"}


def test_the_tensorflow_runtime_gives_each_helper_with_all_it_calls():
    helpers = runtime("tensorflow")
    names = [d.name for d in helpers.needed(["_diagonal"])]
    assert names[0] == "_diagonal" and {"_diagonal_index", "_dims", "_index_once"} <= set(names)
    assert "_check_axes" not in names
    assert helpers.modules_used(helpers.needed(["_trace_when_eager"])) == ["functools", "tensorflow"]
    # Each copy compiles on its own, after the generated module's header.
    header = "import functools\nimport math\n\nimport tensorflow as tf\n"
    for definition in helpers.definitions:
        compile(header + definition.source, definition.name, "exec")


def test_the_compiler_reads_the_runtime_without_importing_tensorflow():
    code = textwrap.dedent(
        """
        import sys
        from einigc.compiler import compile_text
        source = compile_text('d(x) = einsum("ijji->ij", x)\\n').source
        assert "def _diagonal(" in source and "def _dims(" in source
        assert "tensorflow" not in sys.modules, "the compiler imported tensorflow"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_what_a_runtime_imports_from_einigc_is_copied_in_place_of_the_import(tmp_path):
    path = tmp_path / "runtime.py"
    path.write_text(
        '"""A runtime."""\n\nimport numpy as np\n\nfrom einigc.targets.axis_rules import _check_shapes\n\n\n'
        "def _check(shape):\n    _check_shapes('f', 'ij', ['a'], [np.shape(shape)])\n",
        encoding="utf-8",
    )
    module = read(path)
    names = [d.name for d in module.needed(["_check"])]
    assert names[0] == "_check_shapes" and names[-1] == "_check" and "_AxisCheck" in names
    assert module.imports == (("np", "numpy"), ("math", "math"))  # the axis rules' import, none of einigc
    assert module.modules_used(module.needed(["_check"])) == ["math", "numpy"]
    path.write_text("from einigc.targets.axis_rules import _no_such_rule\n", encoding="utf-8")
    with pytest.raises(InternalError, match="_no_such_rule"):
        read(path)
