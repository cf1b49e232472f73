"""What one fork-server child costs, step by step: first-touch page faults and CPU.

The watchdog's throughput is bound by CPU per request, and most of a forked
child's CPU is copy-on-write page faults: every page of the pre-imported
fork server that an invocation touches is copied once per child. Fault counts
are nearly deterministic (with a fixed hash seed), unlike wall times on a
shared VM, so this is the figure to watch when trimming the per-request path.

It preloads a process the way `fwatchdog.forkserver` does, forks children that
each run one `echo hi` invocation with a tiny JSON body, and reports the
faults each step of the invocation caused in the child (steps are timed by
wrapping the functions before forking), a bare fork-and-exit, the CPU of a
whole child, `sh` included, and a real spare's whole life (accept, the
request received over the fork server's protocol, the replies, exit). Like
the watchdog, it lends every child the same private work dir and clears it
after the child is gone (that clearing is the watchdog's CPU, not the
child's). Runs in its own process (it installs wrappers and preloads modules).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILDREN = 200  # for the CPU average

STEPS = (  # (module, attribute path, label), wrapped in this order
    ("faassupervisor.config.settings", "RuntimeSettings.from_environ", "settings"),
    ("faassupervisor.logs", "configure", "logs.configure"),
    ("faassupervisor.__main__", "signal.signal", "signal.signal"),
    ("faassupervisor.invocation", "Invocation.__init__", "Invocation.__init__"),
    ("faassupervisor.storage.registry", "ProviderSet.validate", "providers.validate"),
    ("faassupervisor.invocation", "stage_input", "decode the body"),
    ("faassupervisor.invocation", "run_script", "run the script"),
    ("faassupervisor.invocation", "output_files", "list outputs"),
    ("faassupervisor.invocation", "Invocation._respond", "respond"),
)


def main() -> None:
    import subprocess  # not at the top: it imports threading, which the fork server imports without its at-fork hook

    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, __file__, "measure"], env=env, check=True)


def measure() -> None:
    import gc
    import importlib
    import io
    import json
    import resource
    import socket
    import tempfile

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-forkchild-") as tmp:
        for sub in ("config", "cache", "lent"):
            os.mkdir(os.path.join(tmp, sub), 0o700)
        lent = os.path.join(tmp, "lent")  # the private TMPDIR the watchdog lends each child
        Path(tmp, "config", "script.sh").write_text("#!/bin/sh\necho hi\n")
        Path(tmp, "config", "function_config.yaml").write_text("name: bench\nlog_level: INFO\n")
        env = dict(os.environ, TMPDIR=lent, FAAS_SUPERVISOR_CONFIG_DIR=os.path.join(tmp, "config"),
                   FAAS_SUPERVISOR_CACHE_DIR=os.path.join(tmp, "cache"))
        from fwatchdog import forkprotocol, forkserver

        assert "threading" not in sys.modules, "imported before preload: its at-fork hook would run in every child"
        forkserver.preload()
        forkserver.load_service_config(env)
        from faassupervisor import workdir
        from faassupervisor.__main__ import supervisor_main, terminate_forked_children
        from faassupervisor.invocation import InvocationOptions

        import signal  # as the fork server does: the children's handlers are set once, here

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, terminate_forked_children(os.getpid()))

        faults = []  # (label, count) in the order the steps ran; the steps do not nest

        def minflt() -> int:
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

        def wrap(owner, name, label):
            original = getattr(owner, name)

            def counted(*args, **kwargs):
                before = minflt()
                try:
                    return original(*args, **kwargs)
                finally:
                    faults.append((label, minflt() - before))

            setattr(owner, name, counted)

        def invoke() -> None:
            read_end, write_end = os.pipe()
            os.write(write_end, b'{"message": "hi"}')
            os.close(write_end)
            supervisor_main([], dict(env), os.fdopen(read_end, "rb"), io.BytesIO(),
                            InvocationOptions(logs_in_response=False, signals_handled=True, work_dir=lent))

        devnull = os.open(os.devnull, os.O_WRONLY)

        def fork(body) -> int:
            """Run `body` in a forked child (stderr to /dev/null); its status."""
            pid = os.fork()
            if pid == 0:
                os.dup2(devnull, 2)
                try:
                    body()
                finally:
                    os._exit(0)
            status = os.waitpid(pid, 0)[1]
            workdir.clear(lent)
            return status

        def per_child(run_one) -> tuple:
            """CPU ms and page faults of the children `run_one` forks (and reaps), on average."""
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            for _ in range(CHILDREN):
                run_one()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return cpu / CHILDREN * 1000, (after.ru_minflt - before.ru_minflt) / CHILDREN

        # A spare as the fork server forks it, served the way the watchdog asks (forkclient is
        # not imported here: it would load more modules into this process than the server has).
        server = forkserver.ForkServer(f"\0bench-forkchild-{os.getpid()}", parent_fd=os.open(os.devnull, os.O_RDONLY),
                                       environ=env)
        server.listener.bind(server.path)
        server.listener.listen(4)
        variables = {"Http_Content_Type": "application/json", "Http_Method": "POST", "TMPDIR": lent}

        def spare_life() -> None:
            pid = os.fork()
            if pid == 0:
                os.dup2(devnull, 2)
                server.become_spare()  # accepts, serves one request, exits
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as client:
                client.connect(server.path)
                body_read, body_write = os.pipe()
                out_read, out_write = os.pipe()
                forkprotocol.send_request(client, variables, lent, body_read, out_write)
                os.close(body_read)
                os.close(out_write)
                os.write(body_write, b'{"message": "hi"}')
                os.close(body_write)
                while os.read(out_read, 65536):
                    pass
                os.close(out_read)
                while client.recv(65536):
                    pass
            os.read(server.taken_read, 4)  # the pid it announced once it had the connection
            os.waitpid(pid, 0)
            workdir.clear(lent)

        gc.collect()
        gc.freeze()
        bare_ms, bare_faults = per_child(lambda: fork(lambda: None))
        whole_ms, whole_faults = per_child(lambda: fork(invoke))
        spare_ms, spare_faults = per_child(spare_life)

        for module_name, path, label in STEPS:
            owner = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            wrap(owner, name, label)
        report_read, report_write = os.pipe()

        def steps() -> None:
            before = minflt()
            invoke()
            faults.append(("supervisor_main, all of it", minflt() - before))
            os.write(report_write, json.dumps(faults).encode())

        fork(steps)
        os.close(report_write)
        counted = json.loads(os.read(report_read, 1 << 16))

    print("| forked child | CPU ms | page faults |")
    print("|---|---|---|")
    print(f"| fork and exit only | {bare_ms:.2f} | {bare_faults:.0f} |")
    print(f"| one `echo hi` invocation, `sh` included | {whole_ms:.2f} | {whole_faults:.0f} |")
    print(f"| a spare's whole life: accept, the same invocation sent as the watchdog sends it, exit | "
          f"{spare_ms:.2f} | {spare_faults:.0f} |")
    print()
    print("| step of the invocation (in the child) | first-touch page faults |")
    print("|---|---|")
    *by_step, (total_label, total) = counted
    for label, count in by_step:
        print(f"| {label} | {count} |")
    print(f"| elsewhere (between the steps) | {total - sum(count for _label, count in by_step)} |")
    print(f"| **{total_label}** | **{total}** |")


if __name__ == "__main__":
    measure() if sys.argv[1:] == ["measure"] else main()
