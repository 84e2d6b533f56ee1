"""The options of a run: RunConfig, presets, file and flag overlays, the settings
dataclasses and their type checks (no torch).
"""
