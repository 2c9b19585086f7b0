"""What each declaration takes and returns, in axes: its docstring's Args and Returns, and its type hints.

Axes are written as a list, one entry per tensor axis: `b` an axis, `B...`
the axes of a composite, `...` numpy's, `1` an axis of size 1 (`_`, `()`),
`(i j)` one axis that flattens i and j; "a scalar" has no axes.
"""

from __future__ import annotations

from dataclasses import dataclass

from einigc import ein_ast as A
from einigc import model as M
from einigc.ein_parser import SEMIRINGS

# What each parameter is, for its type hint (the printer spells it per target).
TENSOR = "tensor"
CALLABLE = "callable"


@dataclass(frozen=True)
class Described:
    """A parameter or result as the docstring shows it."""

    axes: str  # "[b, i, j]"
    dtype: str = ""  # "bool", "int64" where the spec fixes it
    variable: str = ""  # for a callable: what it is called with ("x", or "a [j] tensor")
    variable_axes: str = ""

    def text(self) -> str:
        if self.variable:
            return f"a callable of {self.variable} returning {self.axes}"
        return f"{self.axes}, {self.dtype}" if self.dtype else self.axes


def axes_text(operand: A.Operand) -> str:
    if not operand.terms:
        return "a scalar"
    return "[" + ", ".join(_term(t) for t in operand.terms) + "]"


def _term(term) -> str:
    if isinstance(term, A.Axis):
        return term.letter
    if isinstance(term, A.Composite):
        return term.written or f"{term.letter}..."
    if isinstance(term, A.Ellipsis_):
        return "..."
    if isinstance(term, A.Unit):
        return "1"
    return "(" + " ".join(_term(t) for t in term.terms) + ")"


class Signatures:
    """Parameter and result descriptions of every function, callees first (there is no recursion)."""

    def __init__(self, program: M.Program, count_dtype: str = "int64"):
        self.functions = {f.name: f for f in program.functions}
        self.count_dtype = count_dtype  # eincount's counts, as the target gives them
        self.params: dict[str, dict[str, Described]] = {}
        self.results: dict[str, Described | None] = {}

    def of(self, name: str) -> tuple[dict[str, Described], Described | None]:
        if name not in self.params:
            function = self.functions[name]
            found: dict[str, Described] = {}
            self._walk(function.body, found)
            if isinstance(function.body, M.ParamValue):
                found.setdefault(function.body.name, Described("any tensor"))
            self.params[name] = found
            self.results[name] = self._result(function.body, found)
        return self.params[name], self.results[name]

    def docstring_lines(self, name: str) -> list[str]:
        params, result = self.of(name)
        lines = ["Args:"]
        for param in self.functions[name].params:
            shown = params[param].text() if param in params else "not used"
            lines.append(f"    {param}: {shown}")
        if result is not None:
            lines += ["", "Returns:", f"    {result.text()}"]
        return lines

    def hints(self, name: str) -> tuple[str, ...]:
        params, _ = self.of(name)
        return tuple(
            CALLABLE if param in params and params[param].variable else TENSOR
            for param in self.functions[name].params
        )

    def _walk(self, value: M.Value, found: dict[str, Described]) -> None:
        if isinstance(value, M.ParamValue):
            return
        if isinstance(value, M.DeclarationCall):
            params, _ = self.of(value.callee)
            callee = self.functions[value.callee]
            for param, arg in zip(callee.params, value.args):
                if isinstance(arg, M.ParamValue) and param in params:
                    found.setdefault(arg.name, self._renamed(params[param], callee.params, value.args))
            for arg in value.args:
                self._walk(arg, found)  # inner calls after: the outer letters are the result's
            return
        dtype = {"eincount": "bool", "einany": "bool"}.get(value.func, "floating" if value.func in SEMIRINGS else "")
        pairs = dict(value.grad_pairs)
        variables = set(pairs.values())
        for k, (operand, arg) in enumerate(zip(value.inputs, value.args)):
            if k in pairs and isinstance(arg, M.ParamValue):
                x = value.args[pairs[k]]
                found.setdefault(
                    arg.name, Described(axes_text(operand), variable=x.name, variable_axes=axes_text(value.inputs[pairs[k]]))
                )
            elif isinstance(arg, M.ParamValue):
                found.setdefault(arg.name, Described(axes_text(operand), "" if k in variables else dtype))
        for arg in value.args:
            self._walk(arg, found)

    def _renamed(self, operand: Described, params, args) -> Described:
        """A callee's callable as the caller sees it: called with the caller's argument."""
        if not operand.variable:
            return operand
        arg = args[params.index(operand.variable)] if operand.variable in params else None
        variable = arg.name if isinstance(arg, M.ParamValue) else f"a {operand.variable_axes} tensor"
        return Described(operand.axes, variable=variable, variable_axes=operand.variable_axes)

    def _result(self, value: M.Value, found: dict[str, Described]) -> Described | None:
        if isinstance(value, M.ParamValue):
            return Described(f"{value.name}, as given")
        if isinstance(value, M.DeclarationCall):
            return self.of(value.callee)[1]
        dtype = {"eincount": self.count_dtype, "einany": "bool"}.get(
            value.func, "floating" if value.func in SEMIRINGS else ""
        )
        return Described(axes_text(value.output), dtype)
