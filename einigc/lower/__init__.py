"""Lowering: the checked model to IR functions, planning each einsum at compile time."""

from einigc.lower.function import lower

__all__ = ["lower"]
