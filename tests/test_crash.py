"""Power cuts while parents apply: no receipt without its row, no application stored twice, for
applications signed with the SMS code and with ЭЦҚ alike (half of each).

Runs ``bench/crash_submit.py`` as it is run by hand: the real ``kiosk run`` in a process of its own,
SIGKILLed at random moments and started again, clients over real HTTP. ``KIOSK_CRASH_COUNT`` sets
the number of applications (40 by default, about half a minute on a 2-core machine). The kill
interval is shorter than the script's default so that even a fast machine sees several kills in
a short run; the seed is random and printed, so a failure can be replayed with ``--seed``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNT = int(os.environ.get("KIOSK_CRASH_COUNT", "40"))


def test_a_server_killed_at_random_loses_and_doubles_nothing(tmp_path: Path) -> None:
    out = tmp_path / "crash.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "crash_submit.py"),
        *("--count", str(COUNT), "--kill-every-min", "0.2", "--kill-every-max", "1.0", "--ecp-share", "0.5"),
        *("--json", str(out)),
    ]
    # a guard against a hang, not a speed check: a busy 2-core machine once needed 228 s for 40
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120 + COUNT * 12)
    report = f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert run.returncode == 0, report
    summary = json.loads(out.read_text())
    assert summary["kills"] >= 3, report
    assert summary["lost"] == 0, report
    assert summary["duplicated"] == 0, report
    assert summary["orphans"] == 0, report
    assert summary["rows"] == summary["children_ended"] == COUNT, report
    assert all(summary["checks"].values()), report
    # both ways were there: each row has its child's method, each ЭЦҚ row a CMS that still verifies
    assert summary["signature_methods"]["ecp"] > 0 and summary["signature_methods"]["sms"] > 0, report
    assert sum(summary["signature_methods"].values()) == COUNT, report
