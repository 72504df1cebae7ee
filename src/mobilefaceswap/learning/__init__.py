"""Measuring that the student learns: activation scales and distillation learning curves."""
