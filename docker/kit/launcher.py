"""The kit's one entry point: `fwatchdog`, `supervisor` or `faas-supervisor`, by the name it was started as.

`supervisor` and `faas-supervisor` are symbolic links to the `fwatchdog`
executable. `kit_commands` (written by build_kit.py from the distribution's
console scripts) maps each name to its `module:function`; the modules are in
the bundle because build_kit.py collects our packages whole.
"""

import importlib
import os
import sys

from kit_commands import COMMANDS, DEFAULT


def _call(target: str):
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)()


def _main():
    name = os.path.basename(sys.argv[0])
    if name == DEFAULT and sys.argv[1:2] == ["-m"] and len(sys.argv) > 2:
        # `sys.executable -m MODULE ...`, the way code written for an interpreter starts
        # helpers (the watchdog's fork server): here sys.executable is this launcher.
        import runpy

        sys.argv = sys.argv[2:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
        return 0
    return _call(COMMANDS.get(name, COMMANDS[DEFAULT]))


sys.exit(_main())
