"""The size assumed for an axis nobody sizes is plan.DEFAULT_SIZE: the plan, the docstring and the
trace-time order choice's comment print it; the runtime helper `_static_sizes` is copied source, so its
fallback is held to it here. Runs without TensorFlow."""

from __future__ import annotations

from einigc.targets import printing as printer
from einigc.compiler import compile_text
from einigc.plan import DEFAULT_SIZE

# No sizes: the order of the three-operand product is chosen while tracing.
UNSIZED = 'bmm3(x, y, z) = einsum("bij,bjk,bkl->bil", x, y, z)\n'


def test_the_generated_module_prints_the_default_size_where_it_needs_it():
    source = compile_text(UNSIZED).source
    assert f"({DEFAULT_SIZE} where a size is unknown)" in source
    assert f"assumed.get(letter, {DEFAULT_SIZE})" in source  # the helper's fallback, as the plan assumed
    assert f"no `where` size: the default {DEFAULT_SIZE}" in source


def test_the_trace_time_comment_follows_the_constant(monkeypatch):
    monkeypatch.setattr(printer, "DEFAULT_SIZE", 7)
    source = compile_text(UNSIZED).source
    assert "(7 where a size is unknown)" in source
    assert f"({DEFAULT_SIZE} where a size is unknown)" not in source
