"""``regbench data``: fetch ENCODE data into a folder runs read; make 5′ count bigWigs.

    regbench data fetch encode:ENCSR000BGQ --chroms chr1,chr2,chr8 --out data/spi1
    regbench data fetch --recipe paper-spi1 --out data/paper-spi1
    regbench data counts ALIGNMENTS.bam --out DIR
"""
from __future__ import annotations

import sys

from regbench.errors import RegbenchError


def configure(parser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser(
        "fetch", help="ENCODE accessions (or a recipe) -> a data folder for regbench run",
        description="Resolve ENCODE experiments through the portal's REST API and write "
                    "genome.fa, peaks/, blacklist.bed and dataset.toml into --out; "
                    "every file is md5-checked and cached")
    fetch.add_argument("accessions", nargs="*", metavar="encode:ENCSR...",
                       help="ENCODE experiment accessions (TF ChIP-seq or DNase-seq)")
    fetch.add_argument("--recipe", default=None, metavar="NAME_OR_FILE",
                       help="a recipe of accessions instead: "
                            + ", ".join(_recipes()) + " (or a recipe TOML file)")
    fetch.add_argument("--out", default=None, metavar="DIR",
                       help="the data folder to write (default data/RECIPE or "
                            "data/ACCESSION)")
    fetch.add_argument("--chroms", default=None, metavar="LIST",
                       help="keep only these chromosomes, e.g. chr1,chr2,chr8 (a laptop "
                            "subset; runs test on chr1, chr3, chr6 and validate on chr8, "
                            "chr20, so give one of each and one to train on)")
    fetch.add_argument("--bigwigs", action="store_true",
                       help="also fetch each experiment's signal bigWig (unstranded; "
                            "profile models need `regbench data counts` tracks)")
    fetch.add_argument("--cache", default=None, metavar="DIR",
                       help="download cache (default $REGBENCH_CACHE/encode, else "
                            "~/.cache/regbench/encode)")
    fetch.add_argument("--base-url", default=None, metavar="URL",
                       help="the ENCODE portal (default $REGBENCH_ENCODE_URL, else "
                            "https://www.encodeproject.org)")
    fetch.add_argument("--no-progress", action="store_true", help="hide progress bars")
    counts = actions.add_parser(
        "counts", help="plus/minus 5′ read-count bigWigs from a BAM (profile models)",
        description="Count the 5′ end of every mapped, primary read with MAPQ >= 30 "
                    "(duplicates kept, as the paper's authors did) per strand; needs "
                    "pip install 'regbench[bam]'")
    counts.add_argument("bam", metavar="ALIGNMENTS.bam")
    counts.add_argument("--out", required=True, metavar="DIR",
                        help="writes DIR/plus.bw and DIR/minus.bw")
    counts.add_argument("--min-mapq", type=int, default=30, metavar="Q",
                        help="reads below this mapping quality are dropped (default 30)")


def _recipes() -> list[str]:
    from regbench.data.recipes import list_recipes
    return list_recipes()


def main(args) -> int:
    if args.action == "counts":
        from regbench.data.counts import write_count_bigwigs
        plus, minus, n = write_count_bigwigs(args.bam, args.out, min_mapq=args.min_mapq)
        print(f"{n} reads counted: {plus}, {minus}")
        return 0
    fetch_from_args(args)
    return 0


def fetch_from_args(args):
    """The data folder of ``regbench data fetch`` options (also used by ``regbench run
    --data-recipe``); prints where it is."""
    from pathlib import Path
    from regbench.data.fetch import fetch_dataset
    accessions, recipe = list(args.accessions or []), None
    if args.recipe:
        if accessions:
            raise RegbenchError("give accessions or --recipe, not both")
        from regbench.data.recipes import load_recipe
        recipe = load_recipe(args.recipe)
        accessions = recipe["accessions"]
    chroms = [c.strip() for c in args.chroms.split(",") if c.strip()] if args.chroms else None
    out = Path(args.out or Path("data") / (recipe["name"] if recipe else
                                          accessions[0].split(":")[-1] if accessions
                                          else "encode"))
    folder = fetch_dataset(accessions, out, chroms=chroms, bigwigs=args.bigwigs,
                           base=args.base_url, cache=args.cache,
                           progress=not args.no_progress and sys.stderr.isatty(),
                           recipe=recipe["name"] if recipe else None)
    print(f"data folder: {folder} (regbench run --data {folder})")
    return folder


__all__ = ["configure", "fetch_from_args", "main"]
