"""The TensorFlow target: its printer and runtime helpers."""
