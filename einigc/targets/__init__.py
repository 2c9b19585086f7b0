"""Targets: a printer (and runtime helpers) per framework the generated code runs on."""
