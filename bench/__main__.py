"""Run every benchmark in this folder (or the ones named) and print one table plus JSON.

Usage: ``python -m bench [--quick] [NAME ...]`` — NAME is a module in ``bench/`` that
exposes ``run(quick: bool) -> list[Figure]``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from bench.report import Figure, print_figures


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in {"report", "__main__"}
        and not m.name.startswith("_")
    )


def run_benchmarks(names: list[str], quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        figures.extend(module.run(quick=quick))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {discover()})")
    parser.add_argument("--quick", action="store_true", help="fewer iterations, for a smoke run")
    args = parser.parse_args(argv)
    print_figures(run_benchmarks(args.names or discover(), args.quick))


if __name__ == "__main__":
    main()
