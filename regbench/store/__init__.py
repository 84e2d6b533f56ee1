"""What a results folder holds: run keys and records, the results row's columns,
the tables, the labels config.json records, what rows were trained with, who may
write the folder.
"""


def __getattr__(name: str):
    """The names of ``store.runs`` (run keys, RunStore, atomic writes, the tables), as
    ``regbench.store`` gave them before it became a package."""
    import importlib
    runs = importlib.import_module("regbench.store.runs")
    if name in runs.__all__:
        return getattr(runs, name)
    raise AttributeError(f"module 'regbench.store' has no attribute {name!r}")
