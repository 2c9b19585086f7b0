"""Code generation targets: one package per framework."""
