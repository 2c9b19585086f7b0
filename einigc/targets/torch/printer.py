"""The PyTorch printer: IR ops as torch calls; planned pairs as `torch.mm`, `torch.matmul` or `torch.einsum`.

Eager costs per call, measured on torch 2.13 CPU (one thread, a shared
machine): a 4x4 product takes 2.0 µs by torch.mm, 2.2 µs by torch.matmul
and 9.6 µs by torch.einsum (which parses its equation every call); at
64x64 7.2, 7.2 and 16.8 µs. So matrix products are printed as products,
and torch.einsum only where the compiler found no product.
"""

from __future__ import annotations

from einigc import ir
from einigc.targets.printing import Printer, axis_list
from einigc.targets.torch.autodiff import TorchAutodiff


class TorchPrinter(TorchAutodiff, Printer):
    tensor_hint = "torch.Tensor"
    order_picked = "when called"

    def _print_Einsum(self, op: ir.Einsum) -> str:
        # torch.einsum asks opt_einsum for a path only for three operands or
        # more: the planned pair runs as written.
        return f'torch.einsum("{op.equation}", {", ".join(op.operands)})'

    def _print_MatMul(self, op: ir.MatMul) -> str:
        # `.mT` is a view (no copy, no conjugation); torch.mm reads its
        # strides: at 256x256 torch.mm(a, b.mT) takes 345 µs, torch.mm(a, b)
        # 390 µs and torch.einsum("ij,kj->ik") 461 µs (noise about 10 %).
        a = f"{op.a}.mT" if op.transpose_a else op.a
        b = f"{op.b}.mT" if op.transpose_b else op.b
        return f"torch.mm({a}, {b})"

    def _print_BatchMatMul(self, op: ir.BatchMatMul) -> str:
        # torch.matmul, not torch.bmm: the batch axes may be several, or
        # broadcast (`...`); bmm takes exactly one, of equal sizes. For 8
        # batches of 4x4 bmm takes 2.1 µs and matmul 4.2 µs; of 64x64, 49
        # and 52 µs. `.mT` and the unit axis of a vector are views (see
        # select.MatmulKernel for what they save over torch.einsum).
        x = f"{op.x}.mT" if op.transpose_x else op.x
        y = f"{op.y}.mT" if op.transpose_y else op.y
        if op.y_is_vector:
            return f"torch.matmul({x}, {y}.unsqueeze(-1)).squeeze(-1)"
        return f"torch.matmul({x}, {y})"

    # torch.sum promotes integers to int64; torch.einsum keeps the operands'
    # dtype, and so do these sums.

    def _print_ReduceSum(self, op: ir.ReduceSum) -> str:
        keep = ", keepdim=True" if op.keepdims else ""
        dims = axis_list(op.axes).replace("[", "(").replace("]", ")")
        return f"torch.sum({op.operand}, dim={dims}{keep}, dtype={op.operand}.dtype)"

    def _print_SumLeading(self, op: ir.SumLeading) -> str:
        x = op.operand
        if op.keep == 0:
            return f"torch.sum({x}, dtype={x}.dtype)"
        # An empty `dim` sums every axis: with no leading axes, nothing to sum.
        # On 2x3x4 this takes 2.6 µs; torch.einsum("...i->i") 6.5 µs.
        leading = f"range({x}.ndim - {op.keep})"
        return f"torch.sum({x}, dim=tuple({leading}), dtype={x}.dtype) if {x}.ndim > {op.keep} else {x}"

    def _print_Transpose(self, op: ir.Transpose) -> str:
        return f"{op.operand}.permute{tuple(op.perm)}"

    def _print_Reshape(self, op: ir.Reshape) -> str:
        # Not `.view`, which refuses the strides a permute leaves: reshape
        # is a view where one exists and copies only where none does, at
        # about the same cost (8x16x32 to 8x512: 1.7 µs, view 1.5 µs).
        return f"{op.operand}.reshape({self.shape_list(op.shape)})"

    def _print_ShapeOf(self, op: ir.ShapeOf) -> str:
        # Ints eagerly, SymInts under torch.compile: the rank was checked with the operand.
        return f"list({op.operand}.shape)"

    def _print_DiagPart(self, op: ir.DiagPart) -> str:
        return f"torch.diagonal({op.operand}, dim1=-2, dim2=-1)"

    def _print_Cast(self, op: ir.Cast) -> str:
        return f"{op.operand}.to(torch.{op.dtype})"

    def _print_GreaterThanZero(self, op: ir.GreaterThanZero) -> str:
        return f"torch.gt({op.operand}, 0)"

    # --- the einsums of other semirings ----------------------------------------

    def _print_SemiringPair(self, op: ir.SemiringPair) -> str:
        if op.kind == "logsumexp":
            self.helpers.add("logsumexp_pair")
            return f'_logsumexp_pair("{op.equation}", {op.a}, {op.b}, block={op.block:_})'
        self.helpers.add("semiring_pair")
        return f'_semiring_pair("{op.kind}", "{op.equation}", {op.a}, {op.b}, block={op.block:_})'

    def _reduce(self, kind: str, operand: str, dims: str, keep: str = "") -> str:
        if kind == "logsumexp":
            # An empty axis gives -inf, as does a slice of -inf (no NaN).
            return f"torch.logsumexp({operand}, dim={dims}{keep})"
        # torch.amax and torch.amin refuse an empty axis; the helper gives the semiring's zero.
        self.helpers.add("semiring_reduce")
        return f'_semiring_reduce("{kind}", {operand}, {dims}{keep})'

    def _print_SemiringReduce(self, op: ir.SemiringReduce) -> str:
        dims = axis_list(op.axes).replace("[", "(").replace("]", ")")
        return self._reduce(op.kind, op.operand, dims, ", keepdim=True" if op.keepdims else "")

    def _print_SemiringReduceLeading(self, op: ir.SemiringReduceLeading) -> str:
        x = op.operand
        # An empty `dim` reduces every axis: with no leading axes, nothing to reduce.
        rank = f"{x}.ndim - {op.keep}" if op.keep else f"{x}.ndim"
        return f"{self._reduce(op.kind, x, f'tuple(range({rank}))')} if {x}.ndim > {op.keep} else {x}"
