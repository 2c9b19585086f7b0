"""The chunked formatter skips black for chunks black would leave alone: check that."""

from pathlib import Path

import pytest

from einigc.compiler import compile_text
from einigc.fmt import format_source
from tests.conftest import compile_source

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(ROOT.glob("examples/*.ein")) + sorted(ROOT.glob("tests/golden/*.ein"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_chunked_formatting_equals_black_on_the_whole_module(path):
    source = compile_source(path.read_text(encoding="utf-8"), path.name)
    assert source == format_source(source)


@pytest.mark.slow  # several seconds
def test_many_declarations_with_long_lines_equal_black():
    lines = []
    for k in range(40):
        params = ", ".join(f"operand_number_{j}" for j in range(5))
        lines.append(
            f'declaration_{k}({params}) = einsum("ab,bc,cd,de,ef->af", {params})'
            f" where a ~ {k + 2}, b ~ 3"
        )
    source = compile_text("\n".join(lines) + "\n").source
    assert source == format_source(source)


# Every length in make test; every fourth in make test-fast (each takes a compile and black).
@pytest.mark.parametrize(
    "name_length", [pytest.param(n, marks=() if n % 4 == 1 else pytest.mark.slow) for n in range(1, 40)]
)
def test_docstrings_near_the_line_length_equal_black(name_length):
    text = 'nested(x) = einsum("(b)((ij)k)->bijk", x) where i = 2, j = 3\n'
    source = compile_text(text, "x" * name_length + ".ein").source
    assert source == format_source(source)


def test_doc_comments_with_odd_spacing_equal_black():
    text = '#  Booleans "x"\n#   indented\n#\ttab\nf(x) = einsum("i->", x)\n'
    source = compile_text(text).source
    assert source == format_source(source)
