"""Benchmarks: ``python -m benchmarks.run`` measures this toolkit against the original demo's recipe.

Nothing here is imported by the package or asserted by the unit tests.
"""
