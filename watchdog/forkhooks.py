"""The stdlib's lock-repairing at-fork hooks, which the single-threaded fork server does without.

`threading`, `logging` and `concurrent.futures` register `os.register_at_fork`
hooks that rebuild their locks in a forked child, in case another thread
held one at the moment of the fork. The fork server never has another
thread, so no lock of theirs can be held when it forks, and its children
inherit them in a usable state anyway. Yet the hooks are Python code run in
every child and (logging's) around every fork in the server: they touch
objects all over the shared heap, and each page they touch is a
copy-on-write fault. Measured with `make bench BENCH=forkchild`: a bare fork
and exit of the fork server cost 228 page faults and ~0.9 ms of CPU with
them, 111 and ~0.6 ms without, on a request that costs about 7 ms in all.

So the fork server imports those modules inside `lock_hooks_skipped()`:
only hooks registered from these three modules are left out. Every other
hook is registered as usual; `random`'s in particular must stay, so that
two children never share a random sequence.
"""

from __future__ import annotations

import contextlib
import os
import sys

# Modules whose at-fork hooks only re-create locks a sibling thread might have held.
LOCK_HOOK_MODULES = frozenset({"threading", "logging", "concurrent.futures.thread"})


@contextlib.contextmanager
def lock_hooks_skipped():
    """While active, `os.register_at_fork` ignores calls made from `LOCK_HOOK_MODULES`.

    Only for a process that forks while single-threaded, and whose children
    never fork again from a thread; modules imported before this took effect
    keep their hooks (slower, still correct)."""
    register = os.register_at_fork

    def register_unless_lock_hook(**hooks):
        caller = sys._getframe(1).f_globals.get("__name__")
        if caller not in LOCK_HOOK_MODULES:
            register(**hooks)

    os.register_at_fork = register_unless_lock_hook
    try:
        yield
    finally:
        os.register_at_fork = register
