"""mypy reads both packages as clean, and understands `@record` classes through records.pyi.

mypy comes with the `test` extra; without it these tests are skipped. They run mypy
in-process with the `[mypy]` section of setup.cfg, from the checkout's root, so the cache
is the checkout's .mypy_cache/ (ignored by git): the first run checks everything (about
20 s), later runs only what changed (about 1 s).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "setup.cfg")


def _mypy(*args: str) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(ROOT)  # the cache and the `files` of setup.cfg are relative to the root
    try:
        out, err, status = mypy_api.run(["--config-file", CONFIG, *args])
    finally:
        os.chdir(cwd)
    return status, out + err


def test_both_packages_type_check_clean():
    status, report = _mypy()
    assert status == 0, report


def test_mypy_reads_record_constructions_from_the_stub(tmp_path):
    """records.pyi's dataclass_transform: fields become checked constructor arguments, instances are
    frozen, and a record deriving from Record has `_replace`."""
    sample = tmp_path / "record_stub_sample.py"
    sample.write_text(textwrap.dedent("""\
        from faassupervisor.records import Record, record

        @record
        class Point(Record):
            x: int
            y: int = 0

        good = Point(1)._replace(y=2)
        reveal_type(good)
        Point(1, 2, 3)
        Point(x="one")
        good.x = 5
    """))
    status, report = _mypy(str(sample))
    # By file name: mypy's cache may replay the lines of an earlier run, under that run's tmp_path.
    lines = [line.split(": ", 1)[1] for line in report.splitlines() if f"{sample.name}:" in line]
    assert status == 1, report
    assert lines[0].startswith('note: Revealed type is "record_stub_sample.Point"'), report
    assert any("Too many arguments" in line for line in lines), report
    assert any('incompatible type "str"; expected "int"' in line for line in lines), report
    assert any("read-only" in line or "frozen" in line for line in lines), report
    assert "Found 3 errors in 1 file" in report, report
