"""Suites (TOML experiments -> points) and suite kinds: their hooks, the built-in
kinds and their per-run extras.
"""
