"""Code generation targets: one package per framework, each with a printer and a runtime module."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

DEFAULT = "tensorflow"


@dataclass(frozen=True)
class Target:
    name: str  # as `--target` and the module header spell it
    imports: tuple[str, ...]  # the framework's import lines, as the header writes them
    printer: str  # "module:Class" of its printer, imported when used
    autodiff: bool  # eingrad compiles for it

    @property
    def modules(self) -> frozenset[str]:
        """The framework's modules: not standard library imports."""
        return frozenset(line.split()[1] for line in self.imports)

    def new_printer(self):
        module, _, name = self.printer.partition(":")
        return getattr(importlib.import_module(module), name)()


TARGETS = {
    target.name: target
    for target in (
        Target("tensorflow", ("import tensorflow as tf",), "einigc.targets.tensorflow.printer:TensorFlowPrinter", True),
        Target("torch", ("import torch",), "einigc.targets.torch.printer:TorchPrinter", True),
        Target("jax", ("import jax", "import jax.numpy as jnp"), "einigc.targets.jax.printer:JaxPrinter", True),
        Target("numpy", ("import numpy as np",), "einigc.targets.numpy.printer:NumpyPrinter", False),
    )
}
