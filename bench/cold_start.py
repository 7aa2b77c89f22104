"""Cold start: how long `kiosk --help` takes, and `kiosk run` until it answers its first page.

Both are whole-process times on the wall clock, from the moment the process is spawned: what a
technician waits for at a terminal (`kiosk --help`, `kiosk staff ...`, every CLI call) and what a
terminal waits for after a reboot or an update (`kiosk run` until `GET /` answers 200). `kiosk run`
is measured twice per round: on a fresh instance folder (a new site: keys made, migrations applied)
and again on the same folder (a restart: everything exists). Each figure is the median of
``--runs`` rounds; the minimum and maximum are printed beside it. Beside them, in each round: the
floor, a bare Flask app under waitress spawned the same way to its first answer; and the memory of
each server 2 s after its first answer (``VmRSS``; for `kiosk run` also its peak, ``VmHWM``).

```sh
.venv/bin/python bench/cold_start.py                      # 7 rounds, about a minute on 2 cores
.venv/bin/python bench/cold_start.py --runs 5 --port 8190 --sim-port 8191 --json /tmp/cold.json
# before and after: another checkout's kiosk too, the two taking turns in every round
.venv/bin/python bench/cold_start.py --kiosk /tmp/old/.venv/bin/kiosk --kiosk .venv/bin/kiosk --runs 15
```

Taking turns matters on a shared machine: what the neighbours do then weighs on both alike.

Each process gets a clean environment (no developer ``KIOSK_*`` settings) and its own temporary
instance folder; `kiosk run` is the embedded default (simulator and worker in the process), i.e.
what ``make run`` starts.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _flow import ROOT, clean_env, free_port, kiosk_command
from _proc import stop_process
from _report import arguments, machine_line, table, write_json


def time_help(kiosk: list[str], instance: Path) -> float:
    """Seconds from spawning `kiosk --help` to its exit (which must be 0)."""
    started = time.perf_counter()
    subprocess.run(
        [*kiosk, "--help"],
        env=clean_env(instance),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def answers(port: int) -> bool:
    """Whether `GET /` answers 200 now (a refused connection is simply not yet)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


# the floor: a bare Flask app under waitress, what any Flask server pays before its first answer
FLOOR_SERVER = """
import sys
from flask import Flask
from waitress import serve
app = Flask("floor")
app.add_url_rule("/", "floor", lambda: "ok")
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8)
"""
# the kiosk's libraries and nothing of its own: what its start pays before its first module (the same
# libraries as bench/import_memory.py's steps before "kiosk's modules"); the process prints its RSS
LIBRARIES = """
import flask, waitress, sqlalchemy.orm, httpx, cryptography.hazmat.primitives.ciphers.aead
import babel, flask_babel, flask_wtf, wtforms, flask_login, flask_htmx, argon2
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")))
"""
IDLE_S = 2.0  # after the first answer, before the idle RSS is read: the start's threads settle


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of a process, kB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def time_run(
    kiosk: list[str], instance: Path, port: int, sim_port: int, log: Path, timeout: float = 120.0
) -> tuple[float, dict[str, int]]:
    """Seconds from spawning `kiosk run` to the first 200 on `GET /`, and its memory once idle."""
    return time_server([*kiosk, "run", "--port", str(port)], instance, port, sim_port, log, timeout)


def time_libraries(instance: Path) -> tuple[float, float]:
    """Seconds from spawning a process that imports the kiosk's libraries to its exit, and its RSS (MiB)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LIBRARIES], env=clean_env(instance), cwd=ROOT, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


def time_floor(port: int, log: Path, timeout: float = 60.0) -> tuple[float, dict[str, int]]:
    """The same for the floor: a bare Flask app under waitress, started by this interpreter."""
    command = [sys.executable, "-c", FLOOR_SERVER, str(port)]
    return time_server(command, log.parent / "floor-instance", port, 0, log, timeout)


def time_server(
    command: list[str], instance: Path, port: int, sim_port: int, log: Path, timeout: float
) -> tuple[float, dict[str, int]]:
    """Seconds from spawning a server to the first 200 on `GET /`; its memory after IDLE_S; then stopped."""
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=clean_env(instance, {"KIOSK_SIM_PORT": str(sim_port)}),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while not answers(port):
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}; see {log}")
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{command[0]} did not answer within {timeout:.0f} s; see {log}")
                time.sleep(0.005)
            elapsed = time.perf_counter() - started
            time.sleep(IDLE_S)
            return elapsed, memory_kib(process.pid)
        finally:
            stop_process(process)


WHAT = ("kiosk --help", "kiosk run, new instance", "kiosk run, restart")
MEMORY = ("idle RSS, new instance", "idle RSS, restart", "peak RSS, restart")


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
        "runs": len(values),
    }


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--runs", type=int, default=7, help="rounds; each figure is their median")
    parser.add_argument("--port", type=int, default=0, help="the kiosk's port (default: a free one)")
    parser.add_argument("--sim-port", type=int, default=0, help="the embedded simulator's port (default: a free one)")
    parser.add_argument(
        "--kiosk",
        action="append",
        type=Path,
        help="a kiosk console script to measure (repeat to compare; default: this environment's)",
    )
    args = parser.parse_args(argv)
    port = args.port or free_port()
    sim_port = args.sim_port or free_port()
    kiosks = {str(k): [str(k.absolute())] for k in args.kiosk} if args.kiosk else {"kiosk": kiosk_command()}

    results: dict[str, dict[str, list[float]]] = {label: {name: [] for name in WHAT} for label in kiosks}
    memory: dict[str, dict[str, list[float]]] = {label: {name: [] for name in MEMORY} for label in kiosks}
    floor: dict[str, list[float]] = {
        "bare Flask, start to first answer": [],
        "bare Flask, idle RSS": [],
        "the kiosk's libraries, imported (no kiosk code)": [],
        "the kiosk's libraries, their RSS": [],
    }
    with tempfile.TemporaryDirectory(prefix="kiosk-cold-") as tmp:
        for kiosk in kiosks.values():  # the first call after an install also fills the file cache
            time_help(kiosk, Path(tmp) / "warm-up")
        for round_ in range(args.runs):
            seconds, mem = time_floor(port, Path(tmp) / f"floor-{round_}.log")
            floor["bare Flask, start to first answer"].append(seconds)
            floor["bare Flask, idle RSS"].append(mem["VmRSS"] / 1024)
            seconds, rss = time_libraries(Path(tmp) / "libraries")
            floor["the kiosk's libraries, imported (no kiosk code)"].append(seconds)
            floor["the kiosk's libraries, their RSS"].append(rss)
            for n, (label, kiosk) in enumerate(kiosks.items()):
                instance = Path(tmp) / f"instance-{round_}-{n}"
                log = Path(tmp) / f"run-{round_}-{n}.log"
                mine = results[label]
                mine[WHAT[0]].append(time_help(kiosk, instance))
                seconds, mem = time_run(kiosk, instance, port, sim_port, log)
                mine[WHAT[1]].append(seconds)
                memory[label][MEMORY[0]].append(mem["VmRSS"] / 1024)
                seconds, mem = time_run(kiosk, instance, port, sim_port, log)
                mine[WHAT[2]].append(seconds)
                memory[label][MEMORY[1]].append(mem["VmRSS"] / 1024)
                memory[label][MEMORY[2]].append(mem["VmHWM"] / 1024)
                print(
                    f"round {round_ + 1}, {label}: "
                    + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in mine.items())
                    + f"; floor {floor['bare Flask, start to first answer'][-1]:.2f} s"
                )

    figures = {label: {name: summary(values) for name, values in times.items()} for label, times in results.items()}
    print(f"\n{machine_line()}")
    floor_figures = {name: summary(values) for name, values in floor.items()}
    memory_figures = {label: {name: summary(values) for name, values in m.items()} for label, m in memory.items()}
    header = ["what", "median", "min", "max", "runs"]

    def rows(figs: dict[str, dict[str, float]], unit: str) -> list[list[object]]:
        return [[f"{name} ({unit})", f["median_s"], f["min_s"], f["max_s"], f["runs"]] for name, f in figs.items()]

    print("\nthe floor (bare Flask under waitress), and the kiosk's libraries alone\n")
    print(
        table(
            header,
            [
                [f"{n} ({'MiB' if 'RSS' in n else 's'})", f["median_s"], f["min_s"], f["max_s"], f["runs"]]
                for n, f in floor_figures.items()
            ],
        )
    )
    for label, figs in figures.items():
        print(f"\n{label}\n")
        print(table(header, rows(figs, "s") + rows(memory_figures[label], "MiB")))
    write_json(args.json, {"floor": floor_figures, "kiosk": figures, "memory_mib": memory_figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
