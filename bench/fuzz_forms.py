"""Hypothesis-made malformed posts to every visitor form, 10,000 in all by default: 0 answers of 500.

Runs tests/test_fuzz_forms.py with more examples per form than CI does, and prints how many
requests were made and how long it took. Usage: python bench/fuzz_forms.py [--total 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS = 14  # the parametrized cases in tests/test_fuzz_forms.py (12 forms, uploads, addresses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=10_000, help="examples in all, spread over the forms")
    args = parser.parse_args()
    per_form = max(1, args.total // FORMS)
    env = {**os.environ, "KIOSK_FUZZ_EXAMPLES": str(per_form)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz_forms.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:])
    print(
        f"examples: {per_form} per form x {FORMS} forms = {per_form * FORMS} "
        f"(uploads send 5 bodies and addresses 5 URLs per example)"
    )
    print(f"elapsed: {elapsed:.0f} s; answers of 500: {'0' if result.returncode == 0 else 'SEE ABOVE'}")
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
