"""Parser stage: `.ein` text to the ein_ast tree, with a line and column on every node."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from einigc import ein_ast as A
from einigc.ein_parser import parse, parse_spec
from einigc.errors import CompileErrors, Pos


REPO_ROOT = Path(__file__).resolve().parent.parent

# Positions take no part in equality, so expected nodes can be placed anywhere.
NOWHERE = Pos(0, 0)


def axis(letter: str) -> A.Axis:
    return A.Axis(letter, NOWHERE)


def composite(letter: str) -> A.Composite:
    return A.Composite(letter, NOWHERE)


def operand(*terms) -> A.Operand:
    return A.Operand(tuple(terms), NOWHERE)


def group(*terms) -> A.Group:
    return A.Group(tuple(terms), NOWHERE)


def ref(name: str) -> A.Ref:
    return A.Ref(name, NOWHERE)


def param(name: str) -> A.Param:
    return A.Param(name, NOWHERE)


def only_decl(text: str) -> A.Declaration:
    (decl,) = parse(text).declarations
    return decl


def spec_of(decl: A.Declaration) -> A.Spec:
    assert isinstance(decl.body, A.Call)
    return decl.body.spec


def column_of(line: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based column of the `occurrence`-th `needle` in `line`."""
    start = -1
    for _ in range(occurrence):
        start = line.index(needle, start + 1)
    return start + 1


# --- declarations -------------------------------------------------------------


def test_declaration_name_params_and_body():
    decl = only_decl('bmm(x, y) = einsum("bij,bjk->bik", x, y)\n')
    assert decl.name == "bmm"
    assert decl.params == (param("x"), param("y"))
    assert decl.where == ()
    assert decl.doc == ""
    body = decl.body
    assert isinstance(body, A.Call)
    assert body.func == "einsum"
    assert body.args == (ref("x"), ref("y"))
    assert body.spec.text == "bij,bjk->bik"


def test_positions_of_declaration_params_call_and_refs():
    line = 'bmm(xa, yb) = einsum("bij,bjk->bik", xa, yb)'
    decl = only_decl(line + "\n")
    assert decl.pos == Pos(1, 1)
    assert [p.pos for p in decl.params] == [Pos(1, column_of(line, "xa")), Pos(1, column_of(line, "yb"))]
    assert decl.body.pos == Pos(1, column_of(line, "einsum"))
    assert [a.pos for a in decl.body.args] == [
        Pos(1, column_of(line, "xa", 2)),
        Pos(1, column_of(line, "yb", 2)),
    ]
    # The spec's position is its first character, inside the quotes.
    assert decl.body.spec.pos == Pos(1, column_of(line, "bij"))


def test_body_may_be_a_bare_parameter():
    decl = only_decl("identity(x) = x\n")
    assert decl.body == ref("x")
    assert decl.body.pos == Pos(1, 15)


def test_nested_calls_and_calls_of_declarations():
    line = 'f(x, y) = einsum("ij->", g(einsum("ij,jk->ik", x, y), y))'
    decl = only_decl(line)
    outer = decl.body
    (inner_call,) = outer.args
    assert inner_call.func == "g"
    assert inner_call.spec is None
    assert inner_call.pos == Pos(1, column_of(line, "g("))
    innermost, y_ref = inner_call.args
    assert innermost.func == "einsum"
    assert innermost.pos == Pos(1, column_of(line, "einsum", 2))
    assert innermost.spec.pos == Pos(1, column_of(line, "ij,jk"))
    assert y_ref == ref("y")
    assert y_ref.pos == Pos(1, column_of(line, "y))"))


def test_each_builtin_is_parsed_as_a_call_with_a_spec():
    text = "\n".join(
        f'{name}_f(a, b) = {name}("ij,jk->ik", a, b)' for name in ("einsum", "eincount", "einany")
    )
    decls = parse(text).declarations
    assert [d.body.func for d in decls] == ["einsum", "eincount", "einany"]
    assert all(d.body.spec.text == "ij,jk->ik" for d in decls)


def test_single_quoted_spec_strings():
    decl = only_decl("f(x) = einsum('ij->ji', x)")
    assert spec_of(decl) == parse_spec("ij->ji", Pos(1, 1))


def test_trailing_commas_in_params_and_args():
    decl = only_decl('f(x, y,) = einsum("i,i->", x, y,)')
    assert decl.params == (param("x"), param("y"))
    assert decl.body.args == (ref("x"), ref("y"))


def test_multi_line_declaration_keeps_positions_of_every_line():
    text = (
        "chain(\n"  # 1
        "    a,\n"  # 2
        "    b,\n"  # 3
        ") = einsum(\n"  # 4
        '    "ab,bc->ac",\n'  # 5
        "    a,\n"  # 6
        "    b,\n"  # 7
        ")\n"  # 8
        "    where a ~ 10,\n"  # 9
        "          c = 3\n"  # 10
    )
    decl = only_decl(text)
    assert decl.pos == Pos(1, 1)
    assert [p.pos for p in decl.params] == [Pos(2, 5), Pos(3, 5)]
    assert decl.body.pos == Pos(4, 5)
    spec = decl.body.spec
    assert spec.pos == Pos(5, 6)
    assert [t.pos for t in spec.inputs[0].terms] == [Pos(5, 6), Pos(5, 7)]
    assert spec.arrow_pos == Pos(5, 11)
    assert [a.pos for a in decl.body.args] == [Pos(6, 5), Pos(7, 5)]
    assert [w.pos for w in decl.where] == [Pos(9, 11), Pos(10, 11)]
    assert decl.where == (A.SizeTypical("a", 10, NOWHERE), A.SizeExact("c", 3, NOWHERE))


def test_declarations_follow_each_other_without_separators():
    # Newlines carry no meaning: a declaration ends where the next name starts.
    module = parse("f(x) = x g(y) = y\nh(z) =\n z")
    assert [d.name for d in module.declarations] == ["f", "g", "h"]
    assert [d.pos for d in module.declarations] == [Pos(1, 1), Pos(1, 10), Pos(2, 1)]


def test_where_items_and_their_positions():
    line = 'f(x) = einsum("ij->i", x) where i = 4, j ~ 1000, k independent'
    decl = only_decl(line)
    assert decl.where == (A.SizeExact("i", 4, NOWHERE), A.SizeTypical("j", 1000, NOWHERE), A.Independent("k", NOWHERE))
    assert [w.pos for w in decl.where] == [
        Pos(1, column_of(line, "i = 4")),
        Pos(1, column_of(line, "j ~")),
        Pos(1, column_of(line, "k independent")),
    ]


def test_empty_file_and_comment_only_file_are_empty_modules():
    assert parse("") == A.Module("", ())
    assert parse("# only a comment\n\n") == A.Module("", ())


# --- docs and comments --------------------------------------------------------


def test_comment_lines_directly_above_become_the_doc():
    text = (
        "# unrelated, separated by a blank line\n"
        "\n"
        "# First line.\n"
        "#Second line, no space after '#'.\n"
        "#   indented text keeps all but one space\n"
        "f(x) = x\n"
    )
    assert only_decl(text).doc == (
        "First line.\nSecond line, no space after '#'.\n  indented text keeps all but one space"
    )


def test_comment_after_code_is_not_a_doc():
    module = parse("f(x) = x  # about f, not g\ng(x) = x\n")
    assert [d.doc for d in module.declarations] == ["", ""]


def test_comment_after_code_ends_the_doc_block():
    text = "f(x) = x  # trailing\n# doc of g\ng(x) = x\n"
    assert parse(text).declarations[1].doc == "doc of g"


def test_blank_line_separates_a_comment_from_the_declaration():
    assert only_decl("# not a doc\n\nf(x) = x\n").doc == ""


def test_comment_inside_a_declaration_is_not_a_doc_of_anything():
    text = 'f(x) = einsum(\n    # the spec\n    "i->", x)\n'
    assert only_decl(text).doc == ""


def test_module_docstring_is_cleaned_like_a_python_docstring():
    text = '"""\n    Module title.\n\n      indented detail\n"""\n# doc\nf(x) = x\n'
    module = parse(text)
    assert module.docstring == "Module title.\n\n  indented detail"
    assert module.declarations[0].doc == "doc"


def test_module_docstring_with_single_quotes_and_leading_comment():
    module = parse("# licence header\n'''One line.'''\nf(x) = x\n")
    assert module.docstring == "One line."


def test_docstring_only_file():
    assert parse('"""Nothing yet."""\n') == A.Module("Nothing yet.", ())


def test_source_line_is_the_declarations_first_line_stripped():
    decl = only_decl('  # doc\n  f(x) = einsum("i->", x)  \n')
    assert decl.source_line == 'f(x) = einsum("i->", x)'
    assert decl.pos == Pos(2, 3)


# --- spec strings -------------------------------------------------------------


def terms_at(spec: A.Spec, which: int) -> tuple:
    chosen = spec.output if which == -1 else spec.inputs[which]
    return chosen.terms


def test_spec_axes_with_positions():
    spec = parse_spec("bij,bjk->bik", Pos(3, 10))
    assert spec.inputs == (
        operand(axis("b"), axis("i"), axis("j")),
        operand(axis("b"), axis("j"), axis("k")),
    )
    assert spec.output == operand(axis("b"), axis("i"), axis("k"))
    assert [t.pos for t in terms_at(spec, 0)] == [Pos(3, 10), Pos(3, 11), Pos(3, 12)]
    assert [t.pos for t in terms_at(spec, 1)] == [Pos(3, 14), Pos(3, 15), Pos(3, 16)]
    assert [t.pos for t in terms_at(spec, -1)] == [Pos(3, 19), Pos(3, 20), Pos(3, 21)]
    assert [o.pos for o in spec.inputs] == [Pos(3, 10), Pos(3, 14)]
    assert spec.output.pos == Pos(3, 19)
    assert spec.arrow_pos == Pos(3, 17)
    assert spec.pos == Pos(3, 10)
    assert spec.grad_pairs == ()
    assert spec.text == "bij,bjk->bik"


def test_spec_positions_map_into_the_file():
    line = 'f(x) = einsum(  "a B ... _ () (c(dE)) -> a",  x)'
    spec = spec_of(only_decl("\n\n" + line))
    (operand_,) = spec.inputs
    a, b, ellipsis, unit, empty_group, group_ = operand_.terms
    assert a == axis("a") and a.pos == Pos(3, column_of(line, "a B"))
    assert b == composite("B") and b.pos == Pos(3, column_of(line, "B"))
    assert ellipsis == A.Ellipsis_(NOWHERE) and ellipsis.pos == Pos(3, column_of(line, "..."))
    assert unit == A.Unit(NOWHERE) and unit.pos == Pos(3, column_of(line, "_"))
    # `()` is an empty group: the same as `_`, positioned at its '('.
    assert empty_group == A.Unit(NOWHERE) and empty_group.pos == Pos(3, column_of(line, "()"))
    assert group_ == group(axis("c"), group(axis("d"), composite("E")))
    assert group_.pos == Pos(3, column_of(line, "(c"))
    c, inner = group_.terms
    assert c.pos == Pos(3, column_of(line, "c("))
    assert inner.pos == Pos(3, column_of(line, "(dE"))
    assert [t.pos for t in inner.terms] == [Pos(3, column_of(line, "dE")), Pos(3, column_of(line, "E)"))]
    assert spec.arrow_pos == Pos(3, column_of(line, "->"))
    assert spec.output.terms == (axis("a"),)
    assert spec.output.terms[0].pos == Pos(3, column_of(line, "a\""))


def test_spec_whitespace_is_ignored():
    spaced = parse_spec(" b i j , b j k -> b i k ", Pos(1, 1))
    compact = parse_spec("bij,bjk->bik", Pos(1, 1))
    assert (spaced.inputs, spaced.output) == (compact.inputs, compact.output)
    # Only the text (shown in docstrings) remembers the spacing.
    assert spaced.text != compact.text


def test_spec_without_arrow_has_no_output():
    spec = parse_spec("ij,jk", Pos(1, 1))
    assert spec.output is None
    assert spec.arrow_pos is None
    assert len(spec.inputs) == 2


def test_spec_empty_operands():
    spec = parse_spec(",ij->", Pos(2, 5))
    assert spec.inputs == (operand(), operand(axis("i"), axis("j")))
    assert spec.output == operand()
    # An empty operand sits where it would start; an empty output just after '->'.
    assert spec.inputs[0].pos == Pos(2, 5)
    assert spec.inputs[1].pos == Pos(2, 6)
    assert spec.output.pos == Pos(2, 10)


def test_spec_empty_string_is_one_empty_operand():
    spec = parse_spec("", Pos(1, 1))
    assert spec.inputs == (operand(),)
    assert spec.output is None


def test_percent_pairs_and_their_positions():
    spec = parse_spec("i%j,k%l->ijkl", Pos(1, 20))
    assert spec.grad_pairs == ((0, 1), (2, 3))
    assert len(spec.inputs) == 4
    assert spec.grad_positions == (Pos(1, 21), Pos(1, 25))


@pytest.mark.parametrize("text", [",%j->j", ", %j->j", ",\t%j->j", "%j->j"])
def test_comma_percent_reads_as_percent_after_an_empty_operand(text):
    spec = parse_spec(text, Pos(1, 1))
    assert spec.inputs == (operand(), operand(axis("j")))
    assert spec.grad_pairs == ((0, 1),)
    # The position of a `%` is the '%' itself, also when written `,%`.
    assert spec.grad_positions == (Pos(1, text.index("%") + 1),)


def test_comma_percent_in_the_middle():
    spec = parse_spec("i,j,%k->ik", Pos(1, 1))
    assert len(spec.inputs) == 3
    assert spec.grad_pairs == ((1, 2),)


def test_repeated_letters_parse_as_repeated_axes():
    spec = parse_spec("ii->i", Pos(1, 1))
    assert spec.inputs[0].terms == (axis("i"), axis("i"))
    assert [t.pos for t in spec.inputs[0].terms] == [Pos(1, 1), Pos(1, 2)]


def test_spec_in_a_file_starts_after_the_quote_for_both_quote_kinds():
    for quote in "\"'":
        line = f"f(x) = einsum({quote}ij->j{quote}, x)"
        spec = spec_of(only_decl(line))
        assert spec.pos == Pos(1, 16)
        assert spec.inputs[0].terms[1].pos == Pos(1, 17)


# --- equality ignores positions -----------------------------------------------


def test_positions_do_not_take_part_in_equality():
    compact = parse('f(x,y)=einsum("ij,jk->ik",x,y) where j=3')
    spread = parse('\n\n   f( x ,\n y ) =\n einsum( "ij,jk->ik" ,\n x , y )\n   where  j  =  3\n')
    assert compact == spread
    assert compact.declarations[0].pos != spread.declarations[0].pos


def test_different_meaning_compares_unequal():
    assert parse('f(x) = einsum("ij->ji", x)') != parse('f(x) = einsum("ij->ij", x)')
    assert parse("# doc\nf(x) = x") != parse("f(x) = x")
    assert parse("f(x) = x where i = 3") != parse("f(x) = x where i ~ 3")


def test_positions_are_not_in_repr():
    assert "Pos" not in repr(parse('f(x) = einsum("i->", x) where i = 2'))


def test_ast_nodes_are_frozen():
    decl = only_decl("f(x) = x")
    with pytest.raises(Exception):
        decl.name = "g"


# --- syntax errors stop at the parser -----------------------------------------


def test_syntax_errors_of_all_specs_are_collected_and_sorted():
    text = 'g(x) = einsum("i$", x)\nf(x) = einsum("i.j", x)\n'
    with pytest.raises(CompileErrors) as info:
        parse(text)
    diagnostics = info.value.diagnostics
    assert [d.pos for d in diagnostics] == [Pos(1, 17), Pos(2, 17)]
    assert all(d.kind == "syntax" for d in diagnostics)


def test_syntax_error_position_in_a_spec_is_mapped_into_the_file():
    with pytest.raises(CompileErrors) as info:
        parse('\n  f(x) = einsum(\n     "ab->a->b", x)')
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.pos == Pos(3, 12)
    assert diagnostic.message == "a spec has at most one '->'"


@pytest.mark.parametrize("odd", ["\x0c", "\u2028", "\x85"], ids=["form-feed", "line-separator", "next-line"])
def test_source_line_counts_lines_like_the_parser(odd):
    # The grammar ends lines only at '\n'; str.splitlines also splits at form
    # feeds and Unicode line separators, which shifts every later line.
    decl = only_decl(f"# page break{odd}\nf(x) = x\n")
    assert decl.pos == Pos(2, 1)
    assert decl.source_line == "f(x) = x"


# --- line ends and the byte-order mark --------------------------------------------


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_every_kind_of_line_end_ends_a_line(end):
    # With lone '\r' ends a comment ran to the end of the file and took
    # every declaration after it along.
    text = end.join(["# ops", "f(x) = einsum(\"ij->ji\", x)", "# diagonal", "g(x) = x", ""])
    module = parse(text)
    assert [d.name for d in module.declarations] == ["f", "g"]
    assert [d.pos for d in module.declarations] == [Pos(2, 1), Pos(4, 1)]
    assert [d.doc for d in module.declarations] == ["ops", "diagonal"]
    assert spec_of(module.declarations[0]).pos == Pos(2, 16)


def test_a_leading_byte_order_mark_is_ignored():
    module = parse("\ufeff# ops\nf(x) = x\n")
    assert [(d.name, d.pos, d.doc) for d in module.declarations] == [("f", Pos(2, 1), "ops")]


# --- nesting limit ---------------------------------------------------------------------


def nested_groups(depth: int) -> str:
    return 'f(x) = einsum("' + "(" * depth + "i" + ")" * depth + '->i", x)\n'


def nested_calls(depth: int) -> str:
    return "g(x) = x\nf(x) = " + "g(" * depth + "x" + ")" * depth + "\n"


def test_nesting_up_to_the_limit_parses():
    from einigc.ein_parser import MAX_NESTING

    assert MAX_NESTING == 100
    assert len(parse(nested_groups(MAX_NESTING)).declarations) == 1
    assert len(parse(nested_calls(MAX_NESTING)).declarations) == 2


@pytest.mark.parametrize("depth", [101, 30_000, 100_000])
def test_nesting_beyond_the_limit_is_reported_quickly_at_the_first_bracket_too_deep(depth):
    # 100,000 nested parentheses exited 3 with lark's VisitError, and 30,000
    # took 89 s.
    import time

    for text, pos, message in [
        (nested_groups(depth), Pos(1, 116), "groups nest more than 100 deep here"),
        (nested_calls(depth), Pos(2, 209), "calls nest more than 100 deep here"),
    ]:
        start = time.perf_counter()
        with pytest.raises(CompileErrors) as info:
            parse(text)
        assert time.perf_counter() - start < 2
        (diagnostic,) = info.value.diagnostics
        assert (diagnostic.pos, diagnostic.message) == (pos, message)
        assert diagnostic.hint.startswith("einigc allows 100 levels; ")


# --- recovery: each declaration is parsed on its own ------------------------------


def test_syntax_errors_of_every_declaration_are_reported_together():
    # The first syntax error used to hide every later one.
    text = 'f(x) = einsum("ij->ji", x\ng(x y) = x\nh(x) = einsum("i$", x)\nk(x) = x\n'
    with pytest.raises(CompileErrors) as info:
        parse(text)
    found = [(d.pos, d.message) for d in info.value.diagnostics]
    assert found == [
        (Pos(1, 26), "unexpected end of declaration; expected ')' or ','"),
        (Pos(2, 5), "unexpected 'y'; expected ')' or ','"),
        (Pos(3, 17), "unexpected character '$' in a spec"),
    ]


def test_with_a_sink_the_declarations_that_parse_are_returned_and_the_others_named():
    from einigc.errors import DiagnosticSink

    sink = DiagnosticSink()
    text = '"""Doc."""\n# about f\nf(x) = x\ng(x = x\nh = einsum("i->", x)\nk(x) = einsum("(i", x)\n# m\nm(x) = x\n'
    module = parse(text, sink)
    assert module.docstring == "Doc."
    assert [(d.name, d.pos, d.doc) for d in module.declarations] == [("f", Pos(3, 1), "about f"), ("m", Pos(8, 1), "m")]
    assert module.unparsed == ("g", "h", "k")
    assert [d.pos.line for d in sink.errors] == [4, 5, 6]


@pytest.mark.parametrize(
    "text",
    [
        'f(x) =\neinsum("ij->ji", x)\n',  # a body at column 1
        'g(x) = x\nf(x) =\ng(x)\n',  # a call of a declaration at column 1
        'f(x) = einsum("ij->i", x) where\ni = 3,\nj ~ 4\n',  # `where` items at column 1
        'f(x) = einsum("ij->i", x)\nwhere i = 3\n',  # `where` at column 1
        '"""\ng(x) = x\n"""\nf(x) = x\n',  # a declaration in the docstring
    ],
)
def test_only_a_declaration_at_column_1_starts_a_part(text):
    module = parse(text)
    assert module.declarations[-1].name == "f"
    assert len(module.declarations) == 1 + ("g(x) = x\nf" in text)


def test_a_docstring_after_a_declaration_is_an_error():
    with pytest.raises(CompileErrors) as info:
        parse('f(x) = x\n"""Doc."""\n')
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.pos == Pos(2, 1)
    assert diagnostic.message == "only the first statement of the file can be a docstring"


def test_a_builtin_is_never_named_as_a_declaration_that_did_not_parse():
    from einigc.errors import DiagnosticSink

    module = parse('f(x) = einsum(x = 3)\ng(x) = x\n', DiagnosticSink())
    assert module.unparsed == ("f",)


# --- every node of every checked-in source points at its own text ---------------

SOURCES = sorted(REPO_ROOT.glob("examples/*.ein")) + sorted(REPO_ROOT.glob("tests/golden/*.ein"))


def _nodes(node):
    """The node and every syntax node below it (positions are not nodes)."""
    if isinstance(node, tuple):
        for item in node:
            yield from _nodes(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, Pos):
        yield node
        for f in dataclasses.fields(node):
            if f.compare:  # the syntax, not positions or notes kept beside it
                yield from _nodes(getattr(node, f.name))


def _text_at(lines: list[str], pos: Pos, length: int) -> str:
    return lines[pos.line - 1][pos.col - 1 : pos.col - 1 + length]


def _written(node) -> tuple[str, ...]:
    """What the source may show at the node's position."""
    if isinstance(node, (A.Declaration, A.Param, A.Ref)):
        return (node.name,)
    if isinstance(node, A.Call):
        return (node.func,)
    if isinstance(node, (A.Axis, A.Composite, A.SizeExact, A.SizeTypical, A.Independent)):
        return (node.letter,)
    if isinstance(node, A.Ellipsis_):
        return ("...",)
    if isinstance(node, A.Unit):
        return ("_", "(")
    if isinstance(node, A.Group):
        return ("(",)
    if isinstance(node, A.Spec):
        return (node.text[:1],) if node.text.strip() else ("",)
    if isinstance(node, A.Operand):
        return tuple(_written(node.terms[0])) if node.terms else ("",)
    return ()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_node_is_positioned_at_what_it_stands_for(path):
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    checked = 0
    for node in _nodes(parse(text).declarations):
        written = _written(node)
        if not written:
            continue
        assert any(_text_at(lines, node.pos, len(w)) == w for w in written), (node, node.pos, written)
        checked += 1
    assert checked >= 10
