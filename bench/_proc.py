"""A process seen from outside: its memory and its CPU time through /proc (Linux), and its end."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (the peak) in kB and the thread count of a process."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def clear_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+, same user); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def poll_rss(pid: int, stop: threading.Event, peak: list[int], interval: float = 0.005) -> None:
    """Keep the highest VmRSS seen in ``peak[0]`` until stopped (a check on VmHWM, which may not reset)."""
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], proc_status(pid)["VmRSS"])
        except (OSError, KeyError):
            return
        stop.wait(interval)


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, and SIGKILL if it is still there after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
