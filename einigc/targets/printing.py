"""What every target's printer shares: shape values, statements and each function's text.

A target's printer subclasses `Printer` with one `_print_X` method per IR op
(as in sympy's printers), the type hints of its parameters, and the
statements only it lays out its own way (an eager choice, a tape).
"""

from __future__ import annotations

import inspect
import unicodedata

from einigc import ir
from einigc.errors import InternalError
from einigc.plan import DEFAULT_SIZE
from einigc.resources import template_environment
from einigc.targets.docstring import docstring_text


class Printer:
    """IR to Python source: `expr` for ops and values, `statements` for lines."""

    tensor_hint = ""  # the type hint of a tensor parameter ("tf.Tensor")

    def __init__(self):
        self.helpers: set[str] = set()  # module-level helpers the printed code calls
        self.imports: set[str] = set()  # modules and names the printed code uses ("math", "Callable")
        self.graph_only = False  # printing a branch that runs only while tracing (no eager costs)

    def expr(self, op: ir.Op) -> str:
        method = getattr(self, f"_print_{type(op).__name__}", None)
        if method is None:
            raise InternalError("emit", f"no printer for {type(op).__name__}")
        return method(op)

    def hint(self, kind: str) -> str:
        """The type hint of a parameter of `kind` ("tensor", "callable")."""
        if kind == "callable":
            self.imports.add("Callable")
            return f"Callable[[{self.tensor_hint}], {self.tensor_hint}]"
        if kind == "tensor":
            return self.tensor_hint
        raise InternalError("emit", f"no type hint for a {kind!r} parameter")

    # --- shape values, parenthesised by precedence ------------------------

    def _operand(self, value: ir.Value, parent: int, strict: bool = False) -> str:
        """`value` as an operand of an operator of precedence `parent`;
        `strict` for a right operand of `-` or `//`, which do not associate."""
        text = self.expr(value)
        own = _PRECEDENCE.get(type(value), _ATOM)
        return f"({text})" if own < parent or strict and own == parent else text

    def _print_Const(self, value: ir.Const) -> str:
        return str(value.value)

    def _print_Name(self, value: ir.Name) -> str:
        return value.name

    def _print_Shape(self, value: ir.Shape) -> str:
        return value.name

    def _print_Dim(self, value: ir.Dim) -> str:
        return f"{value.shape}[{self.expr(value.index)}]"

    def _print_Slice(self, value: ir.Slice) -> str:
        start = "" if value.start is None else self.expr(value.start)
        stop = "" if value.stop is None else self.expr(value.stop)
        return f"{value.shape}[{start}:{stop}]"

    def _print_Len(self, value: ir.Len) -> str:
        return f"len({value.shape})"

    def _print_Add(self, value: ir.Add) -> str:
        return " + ".join(self._operand(term, _SUM) for term in value.terms)

    def _print_Sub(self, value: ir.Sub) -> str:
        return f"{self._operand(value.left, _SUM)} - {self._operand(value.right, _SUM, strict=True)}"

    def _print_Mul(self, value: ir.Mul) -> str:
        return " * ".join(self._operand(factor, _PRODUCT) for factor in value.factors)

    def _print_FloorDiv(self, value: ir.FloorDiv) -> str:
        return f"{self._operand(value.left, _PRODUCT)} // {self._operand(value.right, _PRODUCT, strict=True)}"

    def _print_Prod(self, value: ir.Prod) -> str:
        self.imports.add("math")
        return f"math.prod({self.expr(value.run)})"

    def shape_list(self, shape: tuple[ir.Value, ...]) -> str:
        """A reshape's target as a Python list: sizes in brackets, runs (lists
        of sizes read from shapes) spliced in with `+`, at trace time."""
        pieces: list[str] = []
        scalars: list[str] = []
        for piece in shape:
            if not isinstance(piece, ir.RUNS):
                scalars.append(self.expr(piece))
                continue
            if scalars:
                pieces.append(f"[{', '.join(scalars)}]")
                scalars = []
            pieces.append(self.expr(piece))
        if scalars or not pieces:
            pieces.append(f"[{', '.join(scalars)}]")
        return " + ".join(pieces)

    # --- ops every target prints alike -----------------------------------

    def _print_CallFunction(self, op: ir.CallFunction) -> str:
        return f"{op.function}({', '.join(op.args)})"

    def _print_Diagonal(self, op: ir.Diagonal) -> str:
        self.helpers.add("diagonal")
        return f'_diagonal({op.operand}, "{op.axes}", "{op.result_axes}")'

    def _print_InducedDiagonal(self, op: ir.InducedDiagonal) -> str:
        self.helpers.add("induced_diagonal")
        return f'_induced_diagonal({op.operand}, "{op.axes}", "{op.result_axes}")'

    def _print_SemiringInducedDiagonal(self, op: ir.SemiringInducedDiagonal) -> str:
        self.helpers.add("semiring_induced_diagonal")
        return f'_semiring_induced_diagonal("{op.kind}", {op.operand}, "{op.axes}", "{op.result_axes}")'

    # --- statements ----------------------------------------------------------

    def statements(self, statements, indent: str = "") -> list[str]:
        lines: list[str] = []
        for statement in statements:
            method = getattr(self, f"_lines_{type(statement).__name__}", None)
            if method is None:
                raise InternalError("emit", f"no printer for {type(statement).__name__}")
            lines.extend(method(statement, indent))
        return lines

    def _lines_Assign(self, statement: ir.Assign, indent: str) -> list[str]:
        lines = [f"{indent}# {line}" for line in statement.comment.splitlines()]
        return lines + [f"{indent}{statement.target} = {self.expr(statement.op)}"]

    def _lines_Return(self, statement: ir.Return, indent: str) -> list[str]:
        lines = [f"{indent}# {line}" for line in statement.comment.splitlines()]
        return lines + [f"{indent}return {self.expr(statement.value)}"]

    def _lines_RequireBool(self, statement: ir.RequireBool, indent: str) -> list[str]:
        self.helpers.add("require_bool")
        return [f'{indent}_require_bool({statement.operand}, "{statement.function}", "{statement.operand}")']

    def _lines_RequireFloating(self, statement: ir.RequireFloating, indent: str) -> list[str]:
        self.helpers.add("require_floating")
        return [
            f'{indent}_require_floating({statement.operand}, "{statement.function}", "{statement.operand}", '
            f'"{statement.builtin}")'
        ]

    def _lines_CheckAxes(self, statement: ir.CheckAxes, indent: str) -> list[str]:
        self.helpers.add("check_axes")
        labels = statement.labels or statement.operands
        operands = ", ".join(f'("{label}", {name})' for label, name in zip(labels, statement.operands))
        sizes = ", ".join(f'"{letter}": {size}' for letter, size in statement.sizes)
        extra = f", sizes={{{sizes}}}" if sizes else ""
        targets = ", ".join(statement.targets)
        targets = f"({targets},)" if len(statement.targets) == 1 else targets
        return [f'{indent}{targets} = _check_axes("{statement.function}", "{statement.spec}", [{operands}]{extra})']

    # When the static sizes pick the order: "while tracing" (TensorFlow, JAX)
    # or "when called" (PyTorch, NumPy).
    order_picked = "while tracing"

    def _lines_ChooseOrder(self, statement: ir.ChooseOrder, indent: str) -> list[str]:
        self.helpers.add("static_sizes")
        assumed = ", ".join(f'"{letter}": {size}' for letter, size in statement.assumed)
        extra = f", assumed={{{assumed}}}" if assumed else ""
        lines = [
            f"{indent}# The best order depends on sizes the compiler cannot see: pick it",
            f"{indent}# from the static shapes {self.order_picked} ({DEFAULT_SIZE} where a size is unknown).",
        ]
        if statement.copy_cost:
            lines.append(f"{indent}# Cost: multiply-adds, and {statement.copy_cost} per element a transpose copies.")
        lines.append(
            f'{indent}{", ".join(statement.size_names)} = _static_sizes("{statement.spec}", '
            f'{", ".join(statement.operands)}{extra})'
        )
        flops, order = statement.flops_name, statement.order_name
        lines.append(f"{indent}{flops} = [")
        for cost, label in zip(statement.costs, statement.labels):
            lines.append(f"{indent}    {self.expr(cost)},  # {label}")
        lines.append(f"{indent}]")
        lines.append(f"{indent}{order} = {flops}.index(min({flops}))")
        for k, body in enumerate(statement.bodies):
            if k == 0:
                lines.append(f"{indent}if {order} == 0:")
            elif k == len(statement.bodies) - 1:
                lines.append(f"{indent}else:")
            else:
                lines.append(f"{indent}elif {order} == {k}:")
            lines.extend(self.statements(body, indent + "    "))
        return lines

    def _lines_EagerChoice(self, statement: ir.EagerChoice, indent: str) -> list[str]:
        # Where an eager call costs no more per op than a traced one, the
        # graph branch (reshapes and a matrix product) serves both.
        lines = [f"{indent}# {line}" for line in statement.comment.splitlines()]
        return lines + self.statements(statement.graph, indent)

    # --- functions -------------------------------------------------------------

    def decorators(self, function: ir.Function) -> list[str]:
        return []

    def render_function(self, function: ir.Function) -> str:
        lines = self.statements(function.body)
        # Laid out as black lays out docstrings: the first line and trailing
        # spaces stripped, common indentation removed (inspect.cleandoc).
        lines_of_doc = [line.rstrip() for line in inspect.cleandoc(docstring_text(function.doc)).split("\n")]
        docstring = "\n".join(
            ("    " + line if line and k else line)
            for k, line in enumerate(escape_docstring("\n".join(lines_of_doc)).split("\n"))
        )
        return template_environment().get_template("function.py.j2").render(
            decorators=self.decorators(function),
            name=function.name,
            params=", ".join(
                f"{param}: {self.hint(kind)}" if kind else param
                for param, kind in zip(function.params, function.param_types or [""] * len(function.params))
            ),
            returns=f" -> {self.tensor_hint}" if function.param_types else "",
            docstring=docstring,
            one_line_docstring="\n" not in docstring,  # black never splits those
            lines=lines,
        )


_SUM, _PRODUCT, _ATOM = 1, 2, 3
_PRECEDENCE = {ir.Add: _SUM, ir.Sub: _SUM, ir.Mul: _PRODUCT, ir.FloorDiv: _PRODUCT}


def axis_list(axes: tuple[int, ...]) -> str:
    """Axes as a reduction takes them: one as it is, several as a list."""
    return str(axes[0]) if len(axes) == 1 else "[" + ", ".join(map(str, axes)) + "]"


def escape_docstring(text: str) -> str:
    """`text` as the body of a `\"\"\"...\"\"\"` literal that reads back as `text`
    (with a space after a closing quote, which black adds anyway)."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text += " "  # else it runs into the closing quotes; black pads it so too
    # Control characters (NUL, ESC, ...) cannot stand in source; tabs and
    # line breaks are kept as they are.
    return "".join(_escape_control(char) for char in text)


def _escape_control(char: str) -> str:
    if char in "\n\t" or unicodedata.category(char) != "Cc":
        return char
    return f"\\x{ord(char):02x}"
