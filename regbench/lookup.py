"""Finding a scenario, suite or recipe file: a shipped name, your own, or a path.

One rule for all three kinds: a name is looked up in the kind's own folder in the
current directory (so your files win over shipped ones of the same name), then in the
shipped ``simulations/`` folder; anything ending in ``.toml`` or with a folder part is a
path and is used as given. Standard library only, so ``--help`` can list names cheaply.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from regbench.errors import RegbenchError

SUFFIX = ".toml"


def shipped_simulations():
    """The folder of shipped scenarios, suites, recipes and motifs: the package data
    ``regbench.simulations`` of an install, else ``simulations/`` beside the source
    tree (a checkout on PYTHONPATH)."""
    try:
        return resources.files("regbench.simulations")
    except ModuleNotFoundError:
        import regbench
        return Path(regbench.__file__).resolve().parent.parent / "simulations"


def search_folders(own: str, shipped: str = "") -> list[Path]:
    """The folders a bare name is looked up in, first wins: ``./own``, then
    ``shipped`` inside the shipped simulations/ ("" = that folder itself)."""
    # str() first: resources.files may hand back a Traversable, not a Path
    return [Path.cwd() / own, Path(str(shipped_simulations())) / shipped]


def list_names(folders: list[Path]) -> list[str]:
    """The names (file stems) of the TOML files in ``folders``, sorted, each once;
    a missing folder counts as empty."""
    return sorted({p.stem for folder in folders if folder.is_dir()
                   for p in folder.glob(f"*{SUFFIX}")})


def is_path(name_or_path: str | Path) -> bool:
    """True when the argument is a path (ends in .toml or has a folder part), False
    for a bare name."""
    path = Path(name_or_path)
    return path.suffix == SUFFIX or path.parent != Path(".")


def find_file(name_or_path: str | Path, kind: str, folders: list[Path]) -> Path:
    """The TOML file for a path, or for a bare name in the first of ``folders`` that
    has it. ``kind`` ("scenario", "suite", "recipe") names it in the error messages;
    RegbenchError for a missing path or an unknown name (listing the known ones)."""
    path = Path(name_or_path)
    if is_path(path):
        if not path.is_file():
            raise RegbenchError(f"{kind} file {path} does not exist; check the path")
        return path
    for folder in folders:
        if (folder / f"{path}{SUFFIX}").is_file():
            return folder / f"{path}{SUFFIX}"
    known = ", ".join(list_names(folders)) or "none found"
    raise RegbenchError(f"unknown {kind} {str(name_or_path)!r}; use a {SUFFIX} path or "
                        f"one of: {known}")


__all__ = ["find_file", "is_path", "list_names", "search_folders", "shipped_simulations"]
