"""Benchmarks: commands that print their figures (`segstudio bench NAME`); never timed in tests."""
