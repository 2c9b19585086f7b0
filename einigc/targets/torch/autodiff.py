"""eingrad on PyTorch: the printing of the functional derivative ops, as torch.func transforms."""

from __future__ import annotations

from einigc import ir
from einigc.targets.function_transforms import FunctionTransforms


class TorchAutodiff(FunctionTransforms):
    """The `_print_X` methods of the derivative ops; the target's printer inherits them."""

    vmap = "torch.func.vmap"

    def _print_VjpOf(self, op: ir.VjpOf) -> str:
        # torch.func.vjp conjugates for complex dtypes: `_gradient` undoes it.
        self.helpers.add("gradient")
        cotangent = f", {op.cotangent}" if op.cotangent else ""
        return f"_gradient({op.function}, {op.primal}{cotangent})"

    def _print_JvpOf(self, op: ir.JvpOf) -> str:
        # torch.func.jvp returns the value and J v.
        return f"torch.func.jvp({op.function}, ({op.primal},), ({op.tangent},))[1]"

    def _print_JacobianOf(self, op: ir.JacobianOf) -> str:
        # As torch.func.jacrev and jacfwd, which refuse complex inputs: see the runtime.
        if op.mode == "forward":
            self.helpers.add("jacobian_forward")
            return f"_jacobian_forward({op.function}, {op.primal})"
        self.helpers.add("jacobian")
        return f"_jacobian({op.function}, {op.primal})"

    def _print_VjpOfJvp(self, op: ir.VjpOfJvp) -> str:
        # One torch.func.vjp, its pullback differentiated again for the JVP: see the runtime.
        self.helpers.add("vjp_of_jvp")
        return f"_vjp_of_jvp({op.function}, {op.primal}, {op.tangent})"

    def _print_OnesLike(self, op: ir.OnesLike) -> str:
        return f"torch.ones_like({op.operand})"

    def _print_ZerosLike(self, op: ir.ZerosLike) -> str:
        return f"torch.zeros_like({op.operand})"
