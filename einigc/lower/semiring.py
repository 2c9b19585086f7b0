"""The einsums of other semirings lowered: einmax, einmin, einlogsumexp as einsum's plan with other steps."""

from __future__ import annotations

from einigc import ir
from einigc.errors import InternalError
from einigc.lower.contraction import Contraction, _axis_index, _last_two_repeat
from einigc.plan import ELLIPSIS, PairStep, UnaryStep

KIND = {"einmax": "max", "einmin": "min", "einlogsumexp": "logsumexp"}
ZERO = {"max": "-inf", "min": "+inf", "logsumexp": "-inf"}

# A max or min pair has no kernel: it is computed in blocks of its contracted
# letters, each block's broadcast sum holding at most this many elements
# beside the result (64 MiB of float32). Measured on TF 2.21 CPU, a
# 2048x2048 by 2048x2048 max-plus product: see bench/results/semirings.md.
BLOCK_ELEMENTS = 2**24


def _word(symbols) -> str:
    return "".join(symbols)


class SemiringContraction(Contraction):
    """A contraction whose steps add operands and reduce by `kind`: einsum's
    plan (reshapes, diagonals, the same pairwise order), other steps."""

    def __init__(self, kind: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.graph_only = True  # no eager Einsum op: it would sum
        self.pairs: list[str] = []  # shared by branches (copies): the pairs emitted that reduce

    def reduces(self, contracted) -> str:
        return f"{self.kind} over {', '.join(contracted)}" if contracted else "broadcast sum"

    def pair(self, step: PairStep, left: str, right: str, eq: str, comment: str) -> str:
        contracted = sorted(set(step.left_symbols + step.right_symbols) - set(step.output) - {ELLIPSIS})
        if not comment:
            if not contracted:
                comment = "no letter contracted: the broadcast sum"
            elif self.kind == "logsumexp":
                comment = f"log-sum-exp over {', '.join(contracted)}: a shifted matrix product"
            else:
                comment = f"{self.kind}-plus product over {', '.join(contracted)}, in blocks"
        if contracted:
            self.pairs.append(eq)
        block = BLOCK_ELEMENTS
        hint = f"{self.block.stem(left)}_{self.block.stem(right)}"
        return self.block.emit(hint, ir.SemiringPair(self.kind, eq, left, right, block), comment)

    def unary(self, name: str, step: UnaryStep) -> str:
        src, dst = step.inputs, step.output
        if len(set(src)) != len(src):
            distinct = tuple(dict.fromkeys(src))
            if ELLIPSIS in src:
                op = ir.Einsum(f"{_word(src)}->{_word(distinct)}", (name,))  # a diagonal, nothing summed
            elif _last_two_repeat(src) and distinct == src[:-1]:
                op = ir.DiagPart(name)
            else:
                op = ir.Diagonal(name, _word(src), _word(distinct))
            name = self.block.emit(f"{name}_diag", op, "repeated letters: take the diagonal")
            src = distinct
        if not set(dst) <= set(src):
            raise InternalError("lower", f"a one-operand step {_word(src)}->{_word(dst)} makes letters")
        dropped = [s for s in src if s not in dst]
        if dropped:
            axes = tuple(_axis_index(src, s) for s in dropped)
            name = self.block.emit(f"{name}_{self.kind}", ir.SemiringReduce(self.kind, name, axes))
            src = tuple(s for s in src if s in dst)
        if src != dst:
            if ELLIPSIS in src:
                op = ir.Einsum(f"{_word(src)}->{_word(dst)}", (name,))  # a transpose, nothing summed
            else:
                op = ir.Transpose(name, tuple(src.index(s) for s in dst))
            name = self.block.emit(f"{name}_t", op)
        if step.sum_ellipsis:
            name = self.sum_leading(name, len(dst) - 1)
        return name

    def sum_leading(self, name: str, keep: int) -> str:
        return self.block.emit(
            f"{name}_{self.kind}",
            ir.SemiringReduceLeading(self.kind, name, keep),
            f"the output has no '...': reduce its axes by {self.kind}",
        )

    def reduce_keepdims(self, name: str, axes: tuple[int, ...]) -> str:
        op = ir.SemiringReduce(self.kind, name, axes, keepdims=True)
        return self.block.emit(f"{self.block.stem(name)}_{self.kind}", op)

    def induced_diagonal(self, name: str, axes: str, result_axes: str) -> tuple[ir.Op, str]:
        return (
            ir.SemiringInducedDiagonal(self.kind, name, axes, result_axes),
            f"repeated output letters: the values on that diagonal, the semiring's zero ({ZERO[self.kind]}) elsewhere",
        )


def lowering_note(kind: str) -> ir.LoweringChoice:
    """What the docstring says about a call's pairs: how they run, the temporaries they need."""
    if kind == "logsumexp":
        return ir.LoweringChoice(
            "log-sum-exp pairs as matrix products: each operand shifted by its maximum over the"
            " contracted letters, exp, einsum, log, the shifts added back; temporaries: the shifted"
            " operands and the product; entries whose largest term underflows (true -inf ones among"
            f" them) again in blocks of at most {BLOCK_ELEMENTS:,} elements (64 MiB of float32)"
        )
    return ir.LoweringChoice(
        f"{kind}-plus pairs in blocks of their contracted letters; temporaries: at most"
        f" {BLOCK_ELEMENTS:,} elements per block (64 MiB of float32) beside the result"
    )
