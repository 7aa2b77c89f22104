"""Many terminals on one server: the whole visitor flow in a loop, without a single error.

Runs ``bench/load_flow.py --quick`` as it is run by hand: the real ``kiosk run`` in a process of its
own, 5 simulated terminals (threads, each its own cookie jar) walking welcome to receipt and finish
for 20 s with short think times, and now and then a status look-up. No timing is asserted (the
figures depend on the machine); only that every request answered as the flow expects and that
whole applications got through.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_five_terminals_walk_the_whole_flow_without_an_error(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    command = [sys.executable, str(ROOT / "bench" / "load_flow.py"), "--quick", "--json", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    report = f"{run.stdout[-6000:]}\n{run.stderr[-4000:]}"
    assert run.returncode == 0, report
    results = json.loads(out.read_text())
    assert results["errors"] == 0, report
    assert results["flows_completed"] > 0, report
    assert results["steps"]["sign: post (commit)"]["count"] >= results["flows_completed"], report
    assert results["steps"]["checklist swap (htmx)"]["count"] > 0, report
