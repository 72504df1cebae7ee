"""Swapping images and videos with a baked student, export for devices, and benchmarks."""
