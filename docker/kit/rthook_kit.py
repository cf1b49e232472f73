"""PyInstaller runtime hook: runs first in every process of the kit, before our code.

1. python-magic's libmagic reads the database named by MAGIC; the service image
   usually has none (nor libmagic), so point it at the copy in the bundle. Set
   with `os.putenv`, not `os.environ`: libmagic's getenv() sees it, but the
   environment the supervisor builds for the user script (a copy of
   `os.environ`) does not, so the image's own `file` command keeps its own
   database. An image that sets MAGIC itself keeps its value.
2. The bootloader re-executes itself with the bundle's directory in
   LD_LIBRARY_PATH (the original saved in LD_LIBRARY_PATH_ORIG) and with its
   private `_PYI_*` handshake variables. This process no longer needs them (the
   dynamic loader and the bootloader read them at start-up), and children must
   not see them: the user script would load our libz/libssl instead of its
   image's own, and a bundle executable started from here (the watchdog running
   /oscar/bin/supervisor) would take itself for the re-executed half of its
   parent and fail to load its libraries. So restore what the process started with.
"""

import os
import sys

if "MAGIC" not in os.environ:
    os.putenv("MAGIC", os.path.join(sys._MEIPASS, "magic.mgc"))

if "LD_LIBRARY_PATH_ORIG" in os.environ:
    os.environ["LD_LIBRARY_PATH"] = os.environ.pop("LD_LIBRARY_PATH_ORIG")
elif sys._MEIPASS in os.environ.get("LD_LIBRARY_PATH", ""):
    os.environ.pop("LD_LIBRARY_PATH")

for _name in [name for name in os.environ if name.startswith("_PYI_")]:
    os.environ.pop(_name)
