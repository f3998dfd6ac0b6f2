"""Renderers that turn events into output: human (the terminal) and machine-readable."""
