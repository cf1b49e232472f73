"""The fork server's children skip the lock-repairing at-fork hooks, and lose nothing by it.

Checked in a fresh interpreter that preloads as the fork server does: this
test process already imported threading and logging, with their hooks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILDREN_REPORT = textwrap.dedent(
    """
    import json, os, sys
    from fwatchdog import forkserver

    assert "threading" not in sys.modules
    forkserver.preload()
    import logging, random, threading

    # A witness thread, only here: threading's at-fork hook would drop it from the child's
    # threading.enumerate() (the fork server itself never has one).
    witness = threading.Thread(target=threading.Event().wait, daemon=True)
    witness.start()
    read_end, write_end = os.pipe()
    for _ in range(2):
        if os.fork() == 0:
            # before any thread of the child's own: one may reuse the witness's ident
            hook_ran = witness not in threading.enumerate()
            ran = []
            worker = threading.Thread(target=lambda: ran.append(threading.current_thread().name))
            worker.start()
            worker.join()
            logging.getLogger("child").warning("logging works")
            report = {
                "threading_hook_ran": hook_ran,
                "thread_ran": ran == [worker.name],
                "main_thread": threading.current_thread() is threading.main_thread(),
                "random": random.random(),
            }
            os.write(write_end, (json.dumps(report) + "\\n").encode())
            os._exit(0)
        os.wait()
    os.close(write_end)
    sys.stdout.write(os.read(read_end, 65536).decode())
    """
)


def test_children_skip_the_lock_hooks_but_keep_threads_logging_and_their_own_random(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", CHILDREN_REPORT], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT),
             "FAAS_SUPERVISOR_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == 2
    for report in reports:
        assert not report["threading_hook_ran"]
        assert report["thread_ran"] and report["main_thread"]
    assert "logging works" in result.stderr
    # random's own hook is kept: two children never draw the same numbers
    assert reports[0]["random"] != reports[1]["random"]


def test_hooks_of_other_modules_are_still_registered_and_the_original_is_restored():
    script = textwrap.dedent(
        """
        import os
        from fwatchdog.forkhooks import lock_hooks_skipped
        ran = []
        with lock_hooks_skipped():
            exec("import os; os.register_at_fork(after_in_child=lambda: ran.append('lock'))", {"__name__": "threading", "ran": ran})
            os.register_at_fork(after_in_child=lambda: ran.append("other"))
        os.register_at_fork(after_in_child=lambda: print(os.register_at_fork.__name__, *ran, flush=True))
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["register_at_fork", "other"]
