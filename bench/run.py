"""`make bench`: run every `bench/bench_*.py` (or the ones named) and print their markdown tables."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ON_REQUEST = {"soak"}  # run only when named (`make bench BENCH=soak`): it lasts SOAK_SECONDS


def main(argv) -> int:
    wanted = set(argv)
    for path in sorted(HERE.glob("bench_*.py")):
        area = path.stem[len("bench_"):]
        if (wanted and area not in wanted) or (not wanted and area in ON_REQUEST):
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"\n## {area}\n", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
