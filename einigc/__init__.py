"""einigc: an ahead-of-time compiler from einsum declarations to TensorFlow."""

__version__ = "0.1.0"
