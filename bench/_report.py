"""How every bench script reports: latency figures, a markdown table, a figure beside its baseline.

A figure means something only next to what the same machine did without the work in question,
measured in the same run (the HTTP floor, the fsync floor, the simulator's raw rate): so each
script prints its figures in one table with their baselines, and says what the machine was.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sqlite3
import statistics
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, linear between the closest ranks; NaN for none."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Latency:
    """Count, mean, p50, p99 and max of timings, in milliseconds (NaN when nothing was timed)."""

    count: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Latency:
        ms = sorted(s * 1000 for s in seconds)
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(len(ms), statistics.fmean(ms), percentile(ms, 0.5), percentile(ms, 0.99), ms[-1])


def times(figure: float, baseline: float) -> str:
    """A figure as a multiple of its baseline: ``3.2x``."""
    return f"{figure / baseline:.1f}x" if baseline else "-"


def percent(figure: float, baseline: float) -> str:
    """A rate as a share of its baseline's: ``84%``."""
    return f"{100 * figure / baseline:.0f}%" if baseline else "-"


def cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.2f}"
    return "-" if value is None else str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], words: Collection[int] = (0,)) -> str:
    """A markdown table, floats to two places: the columns numbered in ``words`` aligned left, figures right."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join("---" if i in words else "---:" for i in range(len(header))) + " |")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def arguments(doc: str) -> argparse.ArgumentParser:
    """A script's options: its docstring's first paragraph for ``--help``, and ``--json PATH``
    (the figures written there too, by ``write_json``); the script adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures to this JSON file")
    return parser


def write_json(path: Path | None, figures: Any, default: Callable[[Any], Any] | None = None) -> None:
    """The figures also as JSON, when the run was given ``--json PATH`` (``default``: as for ``json.dumps``)."""
    if path is not None:
        text = json.dumps(figures, indent=2, ensure_ascii=False, default=default)
        path.write_text(text + "\n", encoding="utf-8")


def machine() -> dict[str, Any]:
    """What a reader needs to compare two runs: cores, Python, SQLite, the server stack's versions."""
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "flask": version("flask"),
        "waitress": version("waitress"),
    }


def machine_line(facts: dict[str, Any] | None = None) -> str:
    facts = facts or machine()
    return (
        f"{facts['cpus']} CPUs ({facts['cpus_usable']} usable), {facts['implementation']} {facts['python']}, "
        f"SQLite {facts['sqlite']}, flask {facts['flask']}, waitress {facts['waitress']}; {facts['platform']}"
    )
