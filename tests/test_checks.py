"""Checks stage: the parsed tree to the checked model, or every error of the file, sorted."""

from __future__ import annotations

import pytest

from einigc import ein_ast as A
from einigc import model as M
from einigc.checks import check
from einigc.checks.layout import plain_layout
from einigc.ein_parser import parse
from einigc.errors import CompileErrors, Pos

NOWHERE = Pos(0, 0)


def program(text: str) -> M.Program:
    return check(parse(text))


def errors(text: str) -> list:
    with pytest.raises(CompileErrors) as info:
        program(text)
    return info.value.diagnostics


def one_error(text: str):
    found = errors(text)
    assert len(found) == 1, [d.message for d in found]
    return found[0]


def operand(letters: str) -> A.Operand:
    terms = []
    rest = letters
    while rest:
        if rest.startswith("..."):
            terms.append(A.Ellipsis_(NOWHERE))
            rest = rest[3:]
        else:
            terms.append(A.Axis(rest[0], NOWHERE))
            rest = rest[1:]
    return A.Operand(tuple(terms), NOWHERE)


def param(name: str) -> M.ParamValue:
    return M.ParamValue(name, NOWHERE)


# --- the model ------------------------------------------------------------------


def test_model_of_one_einsum():
    (function,) = program('# Matrix product.\nmm(a, b) = einsum("ij,jk->ik", a, b) where j ~ 7\n').functions
    assert function.name == "mm"
    assert function.params == ("a", "b")
    assert function.doc == "Matrix product."
    assert function.pos == Pos(2, 1)
    assert function.source_line == 'mm(a, b) = einsum("ij,jk->ik", a, b) where j ~ 7'
    assert function.sizes == (M.SizeHint("j", 7, False, NOWHERE),)
    assert function.sizes[0].pos == Pos(2, 44)
    assert function.independent == ()
    assert function.body == M.BuiltinCall(
        "einsum",
        (operand("ij"), operand("jk")),
        operand("ik"),
        False,
        (),
        "ij,jk->ik",
        (param("a"), param("b")),
        NOWHERE,
        NOWHERE,
        plain_layout((("i", "j"), ("j", "k")), ("i", "k")),
    )
    assert function.body.pos == Pos(2, 12)
    assert function.body.spec_pos == Pos(2, 20)


def test_model_keeps_declaration_order_and_module_docstring():
    result = program('"""Ops."""\nb(x) = a(x)\na(x) = x\n')
    assert result.docstring == "Ops."
    assert [f.name for f in result.functions] == ["b", "a"]


def test_model_of_calls_between_declarations_and_nesting():
    result = program('f(x, y) = g(einsum("ij->ji", x), y)\ng(p, q) = einsum("ij,ij->", p, q)\n')
    body = result.functions[0].body
    assert isinstance(body, M.DeclarationCall)
    assert body.callee == "g"
    inner, y = body.args
    assert y == param("y")
    assert isinstance(inner, M.BuiltinCall)
    assert inner.output == operand("ji")


def test_bare_parameter_body():
    (function,) = program("f(x) = x").functions
    assert function.body == param("x")


@pytest.mark.parametrize(
    "spec, implicit_output",
    [
        ("ij,jk", "ik"),
        ("ba", "ab"),  # sorted, as numpy does
        ("ii", ""),  # a repeated letter is summed
        ("...i,...i", "..."),  # `...` leads
        ("...ij,...jk", "...ik"),
        ("i,i", ""),
    ],
)
def test_implicit_output_follows_numpy(spec, implicit_output):
    args = ", ".join("x" for _ in spec.split(","))
    (function,) = program(f'f(x) = einsum("{spec}", {args})').functions
    assert function.body.implicit is True
    assert function.body.output == operand(implicit_output)


def test_explicit_output_is_not_implicit():
    (function,) = program('f(x) = einsum("ij->", x)').functions
    assert function.body.implicit is False
    assert function.body.output == operand("")


@pytest.mark.parametrize("builtin", ["einsum", "eincount", "einany"])
def test_model_names_the_builtin(builtin):
    (function,) = program(f'f(a, b) = {builtin}("ij,jk->ik", a, b)').functions
    assert function.body.func == builtin


def test_where_sizes_exact_and_typical():
    (function,) = program('f(x) = einsum("ij->i", x) where i = 4, j ~ 1000').functions
    assert function.sizes == (M.SizeHint("i", 4, True, NOWHERE), M.SizeHint("j", 1000, False, NOWHERE))


def test_where_sizes_may_name_axes_of_nested_specs():
    (function,) = program('f(x) = einsum("ii->", einsum("ij,kj->ik", x, x)) where k = 3').functions
    assert function.sizes == (M.SizeHint("k", 3, True, NOWHERE),)


# --- names ----------------------------------------------------------------------


def test_unknown_parameter_name():
    error = one_error('f(x) = einsum("ij->j", y)')
    assert error.message == "unknown name 'y'"
    assert error.pos == Pos(1, 24)
    assert error.kind == "name"
    assert "x" in error.hint


def test_unknown_function_name():
    error = one_error("f(x) = nosuch(x)")
    assert error.message == "unknown function 'nosuch'"
    assert error.pos == Pos(1, 8)


def test_declaration_used_as_a_value():
    error = one_error('g(x) = x\nf(x) = einsum("i,i->", x, g)')
    assert error.message == "'g' is a declaration, not a value"
    assert error.pos == Pos(2, 27)


def test_builtin_used_as_a_value():
    error = one_error("f(x) = einany")
    assert error.message == "'einany' must be called with a spec"


def test_duplicate_declaration():
    error = one_error("f(x) = x\ng(x) = x\nf(y) = y\n")
    assert error.message == "declaration 'f' is already defined at line 1"
    assert error.pos == Pos(3, 1)


def test_duplicate_parameter():
    error = one_error('f(x, y, x) = einsum("i,i,i->", x, y, x)')
    assert error.message == "parameter 'x' appears twice in 'f'"
    assert error.pos == Pos(1, 9)


def test_parameter_with_the_name_of_a_declaration():
    error = one_error("g(x) = x\nf(g) = g\n")
    assert error.message == "parameter 'g' has the name of a declaration"
    assert error.pos == Pos(2, 3)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("lambda", "is a Python keyword"),
        ("None", "is a Python keyword"),
        ("match", "is a Python keyword"),  # a soft keyword
        ("einsum", "is an einigc builtin"),
        ("eingrad", "is an einigc builtin"),
        ("tf", "is a name the generated module itself uses"),
        ("sum", "is a Python builtin"),
        ("print", "is a Python builtin"),
        ("__init__", "starts with '__'"),
    ],
)
def test_reserved_names_cannot_name_a_declaration_or_a_parameter(name, reason):
    (as_declaration,) = [d for d in errors(f"{name}(x) = x") if "cannot name a declaration" in d.message]
    assert as_declaration.message.startswith(f"'{name}' {reason}")
    assert as_declaration.pos == Pos(1, 1)
    as_param = one_error(f"f({name}) = {name}" if name not in ("einsum", "eingrad") else f"f({name}, y) = y")
    assert as_param.message.startswith(f"'{name}' {reason}")
    assert as_param.message.endswith("; it cannot name a parameter")
    assert as_param.pos == Pos(1, 3)


def test_declaration_with_a_builtins_name_reports_only_the_name():
    # The body calls the builtin einsum, not the declaration: no recursion.
    error = one_error('einsum(x) = einsum("i->", x)')
    assert error.message == "'einsum' is an einigc builtin; it cannot name a declaration"


def test_declaration_cannot_shadow_a_helper_of_the_generated_module():
    # eincount emits a `_require_bool` helper; a declaration of that name
    # silently replaced it, and eincount then failed at run time.
    text = '_require_bool(x) = x\ncount(a, b) = eincount("ij,jk->ik", a, b)\n'
    from einigc.compiler import compile_text

    try:
        source = compile_text(text).source
    except CompileErrors as raised:
        assert any("_require_bool" in d.message for d in raised.diagnostics)
    else:
        assert source.count("def _require_bool(") == 1


def test_declaration_cannot_replace_a_helper_that_is_not_a_template_name():
    # `_diagonal_index` is a helper of `_diagonal` in the runtime: a declaration of it
    # compiled to a module with two `def _diagonal_index`, breaking diagonals.
    error = one_error('_diagonal_index(x) = einsum("ii->i", x)\n')
    assert error.message == (
        "'_diagonal_index' is a name the generated module itself uses; it cannot name a declaration"
    )
    assert error.pos == Pos(1, 1)


def test_every_top_level_name_of_a_generated_module_is_reserved():
    import ast
    from pathlib import Path

    from einigc.checks import MODULE_NAMES

    repo = Path(__file__).resolve().parent.parent
    paths = sorted(repo.glob("examples/*_generated.py")) + sorted(repo.glob("tests/golden/*_generated.py"))
    assert len(paths) >= 5
    bound: set[str] = set()
    exported: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.Assign):
                bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
                if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                    exported.update(ast.literal_eval(node.value))
    assert {"_diagonal_index", "_induced_index", "_spec_terms", "tf"} <= bound
    assert bound - exported <= MODULE_NAMES
    assert not exported & MODULE_NAMES


def test_a_private_name_that_no_helper_uses_can_name_a_declaration():
    (function,) = program('_private(x) = einsum("ii->i", x)\n').functions
    assert function.name == "_private"


# --- depth of calls between declarations ---------------------------------------------


def call_chain(length: int) -> str:
    lines = ['f0(x) = einsum("ij->ji", x)'] + [f"f{k}(x) = f{k - 1}(x)" for k in range(1, length)]
    return "\n".join(lines) + "\n"


def test_call_chain_beyond_the_limit_is_an_error_at_its_first_call():
    # 1,000 declarations calling each other compiled, and the last one raised
    # RecursionError when called: one Python call per level.
    error = one_error(call_chain(101))
    assert error.pos == Pos(101, 11)
    assert error.message == (
        "calls of declarations nest 101 deep here (f100 -> f99 -> f98 -> ... -> f1 -> f0); "
        "at most 100 are allowed"
    )
    assert "tf.function" in error.hint


def test_only_the_roots_of_too_deep_chains_are_reported():
    # f101 and f100 are too deep too, but g and k call them: one error each for g and k.
    text = call_chain(102) + "g(x) = f101(x)\nk(x) = f100(x)\nh(x) = f0(x)\n"
    assert [(d.pos.line, d.message.split(" (")[0]) for d in errors(text)] == [
        (103, "calls of declarations nest 103 deep here"),
        (104, "calls of declarations nest 102 deep here"),
    ]


def test_call_chain_at_the_limit_runs_under_tf_function_from_deep_user_code(tf):
    import sys

    import numpy as np

    from einigc.checks import MAX_CALL_DEPTH
    from einigc.compiler import compile_text

    namespace: dict = {}
    exec(compile(compile_text(call_chain(MAX_CALL_DEPTH)).source, "chain.py", "exec"), namespace)
    last = namespace[f"f{MAX_CALL_DEPTH - 1}"]
    x = np.arange(6.0).reshape(2, 3)

    def nested(levels: int):
        # User code that is already deep when it calls the chain.
        return tf.function(last)(x) if levels == 0 else nested(levels - 1)

    assert sys.getrecursionlimit() == 1000  # the default, as users have it
    depth_here = len(__import__("inspect").stack(0))
    np.testing.assert_array_equal(nested(600 - depth_here).numpy(), x.T)


def test_call_depth_counts_the_longest_path_through_shared_callees():
    # A diamond of 60 levels has 2**60 paths: the depth is computed once per declaration.
    lines = ["d0(x) = x"] + [f"d{k}(x) = d{k - 1}(d{k - 1}(x))" for k in range(1, 60)]
    assert len(program("\n".join(lines) + "\n").functions) == 60


# --- arity ----------------------------------------------------------------------


def test_fewer_arguments_than_spec_operands():
    error = one_error('f(x) = einsum("ij,jk->ik", x)')
    assert error.message == "spec 'ij,jk->ik' has 2 operand(s) but 1 argument(s) follow it"
    assert error.pos == Pos(1, 8)  # the call
    assert error.kind == "axes"


def test_more_arguments_than_spec_operands_points_at_the_first_extra():
    error = one_error('f(x, y, z) = einsum("ij->i", x, y, z)')
    assert error.message == "spec 'ij->i' has 1 operand(s) but 3 argument(s) follow it"
    assert error.pos == Pos(1, 33)  # `y`


def test_declaration_call_with_wrong_number_of_arguments():
    error = one_error("g(a, b) = a\nf(x) = g(x)\n")
    assert error.message == "'g' takes 2 argument(s) but is given 1"
    assert error.pos == Pos(2, 8)


def test_builtin_without_a_spec():
    error = one_error("f(x) = eincount(x)")
    assert error.message == "'eincount' needs a spec string as its first argument"
    assert error.kind == "syntax"


def test_spec_string_after_the_first_argument_or_in_a_declaration_call():
    found = errors('g(x) = x\nf(x) = einsum("i->", x, "j")\nh(x) = g("i", x)\n')
    assert [(d.pos, d.message) for d in found] == [
        (Pos(2, 25), "a spec string is not allowed as an argument of 'einsum' after its first argument"),
        (Pos(3, 10), "a spec string is not allowed as an argument of a declaration"),
    ]


# --- specs ----------------------------------------------------------------------


def test_output_axis_not_in_any_input():
    error = one_error('f(x, y) = einsum("ij,jk->iz", x, y)')
    assert error.message == "output axis 'z' appears in no input"
    assert error.pos == Pos(1, 27)
    assert error.kind == "axes"


def test_output_ellipsis_without_input_ellipsis_is_accepted():
    # As in numpy (np.einsum("->...", x) is x): it stands for no axes.
    (function,) = program('f(x) = einsum("ij->...i", x)').functions
    assert function.name == "f"


def test_several_ellipses_in_one_input_operand():
    error = one_error('f(x) = einsum("...i...->i", x)')
    assert error.message == "an input operand may hold '...' only once"
    assert error.pos == Pos(1, 20)  # the second one


def test_several_ellipses_in_the_output():
    error = one_error('f(x) = einsum("...i->......", x)')
    assert error.message == "an output operand may hold '...' only once"
    assert error.pos == Pos(1, 25)


def test_one_ellipsis_per_operand_is_fine():
    assert len(program('f(x, y) = einsum("...i,...i->...", x, y)').functions) == 1


@pytest.mark.parametrize("builtin", ["einsum", "eincount", "einany"])
@pytest.mark.parametrize("spec", ["i%j->ij", "i,%j->ij"])
def test_percent_outside_eingrad(builtin, spec):
    error = one_error(f'f(x, y) = {builtin}("{spec}", x, y)')
    assert error.message == f"'%' is only meaningful in eingrad, not in {builtin}"
    assert error.pos == Pos(1, len(f'f(x, y) = {builtin}("') + spec.index("%") + 1)


def test_eingrad_without_percent():
    error = one_error('f(y, x) = eingrad("i,j->ij", y, x)')
    assert error.message.startswith("an eingrad spec needs a '%'")
    assert error.pos == Pos(1, 20)


# --- recursion ------------------------------------------------------------------


def test_direct_recursion():
    error = one_error('f(x) = einsum("ij->i", f(x))')
    assert error.message == "recursion is not allowed: f -> f"
    assert error.pos == Pos(1, 24)
    assert error.kind == "name"


def test_mutual_recursion_is_reported_once_with_its_cycle():
    error = one_error("f(x) = g(x)\ng(x) = h(x)\nh(x) = f(x)\n")
    assert error.message == "recursion is not allowed: f -> g -> h -> f"
    assert error.pos == Pos(3, 8)


def test_calls_without_a_cycle_are_not_recursion():
    result = program("a(x) = b(c(x))\nb(x) = c(x)\nc(x) = x\nd(x) = b(a(x))\n")
    assert [f.name for f in result.functions] == ["a", "b", "c", "d"]


# --- where ----------------------------------------------------------------------


def test_where_names_no_axis():
    error = one_error('f(x) = einsum("ij->i", x) where k = 3')
    assert error.message == "'k' names no axis of the specs in 'f'"
    assert error.hint == "the axes are: i, j"
    assert error.pos == Pos(1, 33)


def test_where_on_a_declaration_without_specs():
    error = one_error("f(x) = x where i ~ 3")
    assert error.message == "'i' names no axis of the specs in 'f'"
    assert error.hint == "the axes are: none"


def test_where_size_conflicts_with_an_earlier_one():
    error = one_error('f(x) = einsum("ij->i", x) where i = 3, j ~ 2, i ~ 5')
    assert error.message == "'i' already has a size at line 1, column 33"
    assert error.pos == Pos(1, 47)


def test_where_size_must_be_positive():
    error = one_error('f(x) = einsum("ij->i", x) where i = 0')
    assert error.message == "the size of 'i' must be at least 1"


@pytest.mark.parametrize(
    "letter, why",
    [("J", "a composite has no single size"), ("ij", "a spec axis is one letter")],
)
def test_where_item_that_is_not_an_axis_letter(letter, why):
    error = one_error(f'f(x) = einsum("ij->i", x) where {letter} = 3')
    assert error.message == f"'{letter}' is not an axis letter: {why}"


def test_independent_without_eingrad():
    error = one_error('f(x) = einsum("bj->b", x) where b independent')
    assert error.message == "'b independent' only applies to eingrad"
    assert error.pos == Pos(1, 33)


# --- every error, sorted --------------------------------------------------------


def test_all_errors_of_a_file_are_reported_sorted_by_position():
    text = (
        'f(x) = einsum("ij->iz", y)\n'  # 1: unknown name y, output z not in inputs
        "g(x, x) = x\n"  # 2: duplicate parameter
        "h(x) = nosuch(x)\n"  # 3: unknown function
        "f(x) = x where q = 2\n"  # 4: duplicate declaration, q names no axis
        "r(x) = r(x)\n"  # 5: recursion
    )
    found = errors(text)
    assert [(d.pos.line, d.pos.col) for d in found] == [
        (1, 21),
        (1, 25),
        (2, 6),
        (3, 8),
        (4, 1),
        (4, 16),
        (5, 8),
    ]
    assert found == sorted(found, key=lambda d: (d.pos, d.message))
    assert [d.kind for d in found] == ["axes", "name", "name", "name", "name", "axes", "name"]


def test_errors_in_every_declaration_not_only_the_first():
    text = "\n".join(f'f{i}(x) = einsum("i->j", x)' for i in range(5))
    assert [d.pos.line for d in errors(text)] == [1, 2, 3, 4, 5]


def test_several_errors_in_one_spec():
    found = errors('f(x, y) = einsum("i...j...,k%l->zq", x, y)')
    messages = [d.message for d in found]
    assert "'%' is only meaningful in eingrad, not in einsum" in messages
    assert "an input operand may hold '...' only once" in messages
    assert "output axis 'z' appears in no input" in messages
    assert "output axis 'q' appears in no input" in messages
    assert [d.pos for d in found] == sorted(d.pos for d in found)


def test_eingrad_model_keeps_the_pair_and_independent_letters():
    (function,) = program('g(y, x) = eingrad("b%bj->bj", y, x) where b independent').functions
    assert function.body.func == "eingrad"
    assert function.body.grad_pairs == ((0, 1),)
    assert function.independent == ("b",)


def test_independent_said_twice():
    error = one_error('g(y, x) = eingrad("b%bj->bj", y, x) where b independent, b independent')
    assert error.message == "'b independent' is said twice"
    assert error.pos == Pos(1, 58)


# --- every diagnostic at once ------------------------------------------------------


def test_a_call_of_a_declaration_that_did_not_parse_is_not_reported_again():
    from einigc.errors import DiagnosticSink

    sink = DiagnosticSink()
    text = 'f(x) = einsum("ij->ji", x\ng(x) = f(x)\nh(x) = einsum("i(->i", x)\nk(x) = einsum("i,i->", h, x)\nm(x) = y\n'
    with pytest.raises(CompileErrors) as info:
        check(parse(text, sink), sink)
    found = [(d.pos.line, d.kind) for d in info.value.diagnostics]
    assert found == [(1, "syntax"), (3, "syntax"), (5, "name")]


@pytest.mark.parametrize(
    "text, hint",
    [
        ('f(x) = einsun("ij->ji", x)', "did you mean 'einsum'?"),
        ('f(x) = Einsum("ij->ji", x)', "did you mean 'einsum'?"),
        ("matmul(a, b) = a\nf(a) = matmull(a, a)", "did you mean 'matmul'?"),
        ('f(values) = einsum("i->i", value)', "did you mean 'values'?"),
    ],
)
def test_a_misspelt_name_gets_one_error_with_did_you_mean(text, hint):
    # einsun("ij->ji", x) also reported its spec string as not allowed in a
    # call of a declaration: two errors for one typo.
    error = one_error(text)
    assert error.message.startswith(("unknown function", "unknown name"))
    assert error.hint == hint


def test_a_name_close_to_nothing_lists_what_there_is():
    assert one_error('f(x) = nosuch("i->", x)').hint.startswith("builtins are einsum, ")
    assert one_error("f(x) = qqq").hint == "the parameters of 'f' are: x"
    assert one_error("square(x) = squares(x)").hint.startswith("builtins are einsum, ")  # no recursion


def test_an_unused_parameter_is_a_warning_at_the_parameter():
    from einigc.errors import DiagnosticSink

    sink = DiagnosticSink()
    text = 'f(a, b) = einsum("ij->ji", a)\ng(y, x, c) = eingrad("i%j->ij", y, x)\nh(x) = f(x, x)\n'
    check(parse(text), sink)
    assert [(d.severity, d.pos, d.message) for d in sink.diagnostics] == [
        ("warning", Pos(1, 6), "parameter 'b' of 'f' is not used"),
        ("warning", Pos(2, 9), "parameter 'c' of 'g' is not used"),
    ]
    assert sink.errors == [] and sink.notes == sink.diagnostics


@pytest.mark.parametrize(
    "spec, fixed",
    [("ij jk->ik", "ij,jk->ik"), ("i j, k -> ijk", "i,j,k->ijk")],
)
def test_spaces_between_operands_get_a_hint(spec, fixed):
    error = one_error(f'f(a, b, c) = einsum("{spec}", a, b{", c" if spec.count(" ") > 2 else ""})')
    assert error.hint == f"whitespace does not separate operands: write '{fixed}'"
    assert one_error('f(a, b) = einsum("ij->i", a, b)').hint == "give one argument per operand of the spec"
