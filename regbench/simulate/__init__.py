"""Simulated sequences with GC-biased background and embedded motifs (known truth).

    from regbench.simulate import simulate, load_scenario
    simulate("spi1_binary", "results/data/spi1_binary", seed=1,
             overrides={"positives": 500, "gc.positives": 0.5})
"""
from regbench.simulate.core import generate, make_plan, simulate
from regbench.simulate.motifs import (Motif, builtin_motifs, fetch_jaspar, read_meme,
                                      resolve_motif)
from regbench.simulate.scenario import (list_scenarios, load_scenario, parse_overrides)

__all__ = ["Motif", "builtin_motifs", "fetch_jaspar", "generate", "list_scenarios",
           "load_scenario", "make_plan", "parse_overrides", "read_meme", "resolve_motif",
           "simulate"]
