"""Passes: IR -> IR rewrites run between lowering and printing."""
