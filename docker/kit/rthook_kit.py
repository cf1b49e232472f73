"""PyInstaller runtime hook: runs first in every process of the kit, before our code.

1. python-magic's libmagic reads the database named by MAGIC; the service image
   usually has none (nor libmagic), so point it at the copy in the bundle. Set
   with `os.putenv`, not `os.environ`: libmagic's getenv() sees it, but the
   environment the supervisor builds for the user script (a copy of
   `os.environ`) does not, so the image's own `file` command keeps its own
   database. An image that sets MAGIC itself keeps its value.
2. The bootloader prepends the bundle's directory to LD_LIBRARY_PATH (saving the
   original in LD_LIBRARY_PATH_ORIG). This process no longer needs it (the
   dynamic loader read it at start-up), and the user script must not load our
   libz/libssl instead of its image's own, so put the original back.
"""

import os
import sys

if "MAGIC" not in os.environ:
    os.putenv("MAGIC", os.path.join(sys._MEIPASS, "magic.mgc"))

if "LD_LIBRARY_PATH_ORIG" in os.environ:
    os.environ["LD_LIBRARY_PATH"] = os.environ.pop("LD_LIBRARY_PATH_ORIG")
elif sys._MEIPASS in os.environ.get("LD_LIBRARY_PATH", ""):
    os.environ.pop("LD_LIBRARY_PATH")
