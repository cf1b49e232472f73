"""Work dirs: one made and removed per invocation, or lent by the watchdog and cleared by it."""

from __future__ import annotations

import base64
import io
import os

from faassupervisor import workdir
from faassupervisor.__main__ import supervisor_main
from faassupervisor.invocation import InvocationOptions


def test_clear_keeps_the_input_and_output_dirs_empty_and_removes_the_rest(tmp_path):
    lent = tmp_path / "lent"
    for sub in ("input", "output/deep", "other/deeper"):
        (lent / sub).mkdir(parents=True, mode=0o700)
    for sub in ("input", "output", "output/deep"):
        (lent / sub).chmod(0o700)
    for name in ("input/event_file.json", "output/deep/result.png", "other/deeper/x", ".script-output", "junk"):
        (lent / name).write_text("left over")

    assert workdir.clear(str(lent)) is True
    assert sorted(os.listdir(lent)) == ["input", "output"]
    assert os.listdir(lent / "input") == [] and os.listdir(lent / "output") == []


def test_clear_never_follows_links_and_drops_kept_dirs_opened_to_others(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    lent = tmp_path / "lent"
    lent.mkdir()
    (lent / "input").symlink_to(outside)  # a script swapped its input dir for a link
    (lent / "output").mkdir(mode=0o700)
    (lent / "output").chmod(0o755)
    (lent / "output" / "result.txt").write_text("x")
    (lent / "link").symlink_to(outside / "precious.txt")

    assert workdir.clear(str(lent)) is True
    assert os.listdir(lent) == []  # both made again, private, by the next invocation
    assert (outside / "precious.txt").read_text() == "keep me"


def test_clear_reports_a_dir_that_is_gone(tmp_path):
    assert workdir.clear(str(tmp_path / "missing")) is False


def _invoke(sandbox, lent, script: str) -> bytes:
    sandbox.write_script(script)
    out = io.BytesIO()
    env = dict(sandbox.env, TMPDIR=str(lent))
    status = supervisor_main([], env, io.BytesIO(b'{"n": 1}'), out,
                             InvocationOptions(logs_in_response=False, signals_handled=True, work_dir=str(lent)))
    assert status == 0, out.getvalue()
    return out.getvalue()


def test_a_lent_work_dir_is_used_as_is_and_left_to_its_lender(sandbox):
    lent = sandbox.tmp / "lent"
    lent.mkdir(mode=0o700)
    # What it saw, as its one output file (the response): its paths, then input/ and output/.
    script = ('#!/bin/sh\n{ echo "$TMP_INPUT_DIR $TMP_OUTPUT_DIR $INPUT_FILE_PATH"\n'
              'ls -A "$TMP_INPUT_DIR" "$TMP_OUTPUT_DIR"; } > "$TMP_OUTPUT_DIR/seen.txt"\n')

    first = base64.b64decode(_invoke(sandbox, lent, script)).decode().split()  # an output file: base64
    assert first[:3] == [str(lent / "input"), str(lent / "output"), str(lent / "input" / "event_file.json")]
    # Nothing removed by the supervisor: clearing is the lender's (whatever the outcome).
    assert sorted(os.listdir(lent)) == [".script-output", "input", "output"]
    assert os.listdir(lent / "input") == ["event_file.json"]
    assert os.listdir(lent / "output") == ["seen.txt"]

    assert workdir.clear(str(lent))
    # Lent again: input/ and output/ stay, private and empty, so the next invocation finds
    # nothing of the last one (its own event file only) in the same paths.
    assert sorted(os.listdir(lent)) == ["input", "output"]
    for kept in ("input", "output"):
        assert os.listdir(lent / kept) == [] and (lent / kept).stat().st_mode & 0o777 == 0o700
    assert base64.b64decode(_invoke(sandbox, lent, script)).decode().split() == first
    assert workdir.clear(str(lent))
    assert sorted(os.listdir(lent)) == ["input", "output"]


def test_without_a_lent_dir_the_invocation_makes_and_removes_its_own(sandbox):
    sandbox.write_script('#!/bin/sh\necho "$TMP_OUTPUT_DIR"\n')
    out = io.BytesIO()
    status = supervisor_main([], sandbox.env, io.BytesIO(b'{"n": 1}'), out,
                             InvocationOptions(logs_in_response=False, signals_handled=True))
    assert status == 0
    output_dir = out.getvalue().decode().strip()
    assert os.path.basename(os.path.dirname(output_dir)).startswith(workdir.PREFIX)
    assert sandbox.leftovers() == []


def test_the_watchdog_pool_lends_a_cleared_dir_again_and_drops_one_it_could_not_clear(tmp_path):
    from fwatchdog.tempdirs import TempDirPool

    pool = TempDirPool(str(tmp_path))
    lent = pool.acquire()
    os.mkdir(os.path.join(lent, "output"), 0o700)
    open(os.path.join(lent, "output", "result.txt"), "w").close()
    pool.release(lent)
    assert pool.acquire() == lent and os.listdir(lent) == ["output"]
    os.rmdir(os.path.join(lent, "output"))
    os.rmdir(lent)  # gone: cannot be cleared, so not lent again
    pool.release(lent)
    fresh = pool.acquire()
    assert fresh != lent and os.path.isdir(fresh)
    pool.release(fresh)
    pool.close()
    assert os.listdir(tmp_path) == []


def test_outputs_are_listed_once_for_the_response_and_the_uploads(sandbox, monkeypatch, tmp_path):
    """What is answered is what is uploaded: one listing of the output dir serves both."""
    from faassupervisor import invocation, paths
    from faassupervisor.storage import transfer

    listings = []

    def counted(output_dir):
        listings.append(output_dir)
        return paths.output_files(output_dir)

    monkeypatch.setattr(invocation, "output_files", counted)
    monkeypatch.setattr(transfer, "output_files", counted)
    store = tmp_path / "store"
    sandbox.write_config(
        "name: once\nlog_level: CRITICAL\n"
        "output: [{storage_provider: local.default, path: results}]\n"
        f"storage_providers: {{local: {{default: {{path: {store}}}}}}}\n"
    )
    sandbox.write_script('#!/bin/sh\necho a > "$TMP_OUTPUT_DIR/a.txt"; echo b > "$TMP_OUTPUT_DIR/b.txt"\n')
    out = io.BytesIO()
    status = supervisor_main([], sandbox.env, io.BytesIO(b'{"n": 1}'), out,
                             InvocationOptions(logs_in_response=False, signals_handled=True, raw_response=True))
    assert status == 0, out.getvalue()
    assert sorted(p.name for p in (store / "results").iterdir()) == ["a.txt", "b.txt"]
    assert len(listings) == 1
