"""Named lists of ENCODE accessions (``regbench data fetch --recipe NAME``).

A recipe is a TOML file: ``accessions = ["encode:ENCSR...", ...]`` and a
``description``; its comments cite where every accession was taken from. Bare names are
looked up in ./recipes (your own), then in the shipped ``simulations/recipes``; a name
ending in .toml or with a folder part is a path.
"""
from __future__ import annotations

from pathlib import Path

from regbench.errors import RegbenchError
from regbench.lookup import find_file, list_names, search_folders

try:
    import tomllib
except ModuleNotFoundError:   # Python < 3.11
    import tomli as tomllib


def recipe_folders() -> list[Path]:
    """Where bare recipe names are looked up: ./recipes (your own), then the shipped
    ``simulations/recipes``."""
    return search_folders("recipes", "recipes")


def list_recipes() -> list[str]:
    """Names of the recipes found in ``recipe_folders()``, sorted."""
    return list_names(recipe_folders())


def load_recipe(name_or_file: str) -> dict:
    """The recipe as a dict with ``name``, ``description`` and ``accessions``."""
    path = find_file(name_or_file, "recipe", recipe_folders())
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
