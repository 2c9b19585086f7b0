"""eingrad on Jax: the printing of the functional derivative ops (filled in by the eingrad work)."""

from __future__ import annotations


class JaxAutodiff:
    """The `_print_X` methods of the derivative ops; the target's printer inherits them."""
