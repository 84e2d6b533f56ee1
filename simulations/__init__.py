"""The shipped simulation scenarios (TOML) and the JASPAR 2026 motifs they draw from.

A top-level folder of the repository, installed as the package data
``regbench.simulations`` (pyproject.toml maps it), so a wheel install finds them too.
"""
