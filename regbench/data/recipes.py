"""Named lists of ENCODE accessions (``regbench data fetch --recipe NAME``).

A recipe is a TOML file: ``accessions = ["encode:ENCSR...", ...]`` and a
``description``; its comments cite where every accession was taken from. Bare names are
looked up in ./recipes (your own), then in the shipped ``simulations/recipes``.
"""
from __future__ import annotations

from pathlib import Path

from regbench.errors import RegbenchError

try:
    import tomllib
except ModuleNotFoundError:   # Python < 3.11
    import tomli as tomllib


def recipe_folders() -> list[Path]:
    from regbench.simulate.motifs import shipped_simulations
    return [Path.cwd() / "recipes", Path(str(shipped_simulations())) / "recipes"]


def list_recipes() -> list[str]:
    return sorted({p.stem for folder in recipe_folders() if folder.is_dir()
                   for p in folder.glob("*.toml")})


def load_recipe(name_or_file: str) -> dict:
    """The recipe as a dict with ``name``, ``description`` and ``accessions``."""
    path = Path(name_or_file)
    if not path.is_file():
        found = [f / f"{name_or_file}.toml" for f in recipe_folders()
                 if (f / f"{name_or_file}.toml").is_file()]
        if not found:
            raise RegbenchError(f"no recipe {name_or_file!r}; known: "
                                f"{', '.join(list_recipes()) or 'none'} (or a TOML file)")
        path = found[0]
    try:
        recipe = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RegbenchError(f"recipe {path} is not valid TOML: {exc}") from None
    accessions = recipe.get("accessions")
    if not isinstance(accessions, list) or not accessions:
        raise RegbenchError(f"recipe {path} needs accessions = [\"encode:ENCSR...\", ...]")
    recipe.setdefault("name", path.stem)
    return recipe


__all__ = ["list_recipes", "load_recipe", "recipe_folders"]
