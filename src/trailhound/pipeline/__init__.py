"""The only room that wires the rest: scan, the worker stage, rule tests, coverage, delivery."""
