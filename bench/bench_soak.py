"""A mixed soak of one fwatchdog (fork server) on loopback, bounded in time, watching for leaks.

`make bench BENCH=soak` (SOAK_SECONDS, default 60; SOAK_CONCURRENCY, default 8). Clients send, in
turns: valid requests, failing scripts, timing-out scripts (`exec_timeout` 1 s), garbage bodies
(400), and requests whose client disconnects mid-invocation. At the start, the middle and the end
it prints the requests sent so far, their statuses, and the watchdog's processes, descriptors,
temp entries (in its TMPDIR) and PSS (the sum over its process tree, from /proc/PID/smaps_rollup).
The last row is taken once the load stopped and the watchdog settled: it must match the first.
"""

from __future__ import annotations

import collections
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faassupervisor import process_tree  # noqa: E402
from tests.watchdog_server import WatchdogProcess  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "8"))
SCRIPT = """#!/bin/sh
case "$(cat "$INPUT_FILE_PATH")" in
  *fail*) echo failing; exit 1;;
  *slow*) sleep 5;;
  *bg*) sleep 30 & echo started;;
  *hang*) sleep 3; echo late;;
  *) echo ok > "$TMP_OUTPUT_DIR/out.txt";;
esac
"""
# (kind, body): the mix, in turns
MIX = [("valid", b'{"x": "ok"}'), ("failing", b'{"x": "fail"}'), ("valid", b'{"x": "bg"}'),
       ("timeout", b'{"x": "slow"}'), ("garbage", b"\xff\xfenot json, not base64"),
       ("disconnect", b'{"x": "hang"}')]


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def snapshot(server: WatchdogProcess, tmp: Path) -> dict:
    tree = server.tree()
    return {"processes": len(tree), "fds": sum(_fds(pid) for pid in tree),
            "temp entries": sum(1 for _ in tmp.rglob("*")), "PSS MiB": sum(_pss_kib(pid) for pid in tree) / 1024}


def _disconnect(port: int, body: bytes) -> int:
    """Send a request and go away before the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.2)
    return 0  # no status: the client left


class Load:
    def __init__(self, server: WatchdogProcess):
        self.server = server
        self.statuses = collections.Counter()
        self.sent = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def client(self, offset: int) -> None:
        turn = offset
        while not self.stop.is_set():
            kind, body = MIX[turn % len(MIX)]
            turn += 1
            try:
                status = (_disconnect(self.server.port, body) if kind == "disconnect"
                          else self.server.post("/", body, timeout=30).status)
                key = f"{kind} {status or 'gone'}"
            except OSError as err:
                key = f"{kind} {type(err).__name__}"
            with self.lock:
                self.sent += 1
                self.statuses[key] += 1


def _row(label: str, elapsed: float, load: Load, state: dict) -> str:
    return (f"| {label} | {elapsed:.0f} | {load.sent} | {state['processes']} | {state['fds']} | "
            f"{state['temp entries']} | {state['PSS MiB']:.1f} |")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as root:
        root = Path(root)
        for name in ("tmp", "config", "storage", "cache"):
            (root / name).mkdir()
        (root / "config" / "script.sh").write_text(SCRIPT)
        (root / "config" / "function_config.yaml").write_text("name: soak\nlog_level: CRITICAL\n")
        env = dict(os.environ, TMPDIR=str(root / "tmp"), FAAS_SUPERVISOR_CONFIG_DIR=str(root / "config"),
                   FAAS_SUPERVISOR_STORAGE_DIR=str(root / "storage"), FAAS_SUPERVISOR_CACHE_DIR=str(root / "cache"))
        server = WatchdogProcess(env, {"exec_timeout": "1s", "max_inflight": "0"}, log_dir=str(root)).start()
        try:
            print(f"soak: {SECONDS:g} s at c={CONCURRENCY}, mix {', '.join(kind for kind, _ in MIX)}\n")
            print("| when | s | requests | processes | fds | temp entries | PSS MiB |")
            print("|---|---|---|---|---|---|---|")
            load = Load(server)
            start = time.monotonic()
            print(_row("start", 0, load, snapshot(server, root / "tmp")), flush=True)
            threads = [threading.Thread(target=load.client, args=(i,), daemon=True) for i in range(CONCURRENCY)]
            for thread in threads:
                thread.start()
            time.sleep(SECONDS / 2)
            print(_row("middle", time.monotonic() - start, load, snapshot(server, root / "tmp")), flush=True)
            time.sleep(SECONDS / 2)
            load.stop.set()
            for thread in threads:
                thread.join(40)
            forkserver = server.forkserver()
            settle = time.monotonic() + 15  # the last timeouts and disconnected invocations end
            while time.monotonic() < settle and forkserver and len(process_tree.children(forkserver)) > 2:
                time.sleep(0.1)
            print(_row("end (settled)", time.monotonic() - start, load, snapshot(server, root / "tmp")))
            print("\n| request, status | count |\n|---|---|")
            for key, count in sorted(load.statuses.items()):
                print(f"| {key} | {count} |")
            tracebacks = server.log().count("Traceback")
            print(f"\ntracebacks in the log: {tracebacks}")
        finally:
            status = server.terminate()
            print(f"exit status after SIGTERM: {status}")


if __name__ == "__main__":
    main()
