"""eingrad on Torch: the printing of the functional derivative ops (filled in by the eingrad work)."""

from __future__ import annotations


class TorchAutodiff:
    """The `_print_X` methods of the derivative ops; the target's printer inherits them."""
