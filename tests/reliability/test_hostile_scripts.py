"""Issue items 5-8: hostile scripts and storage keys, through a real fwatchdog (fork server).

Nothing outside the work dir is answered or uploaded; zip entry names cannot climb on any unzip;
any file name Linux allows gets a response; a storage key at the file name limit is processed,
one beyond it gets one line naming the limit."""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.parse
import zipfile

CANARY = b"canary: this file is outside the work dir\n"


def _event(bucket: str, key: str) -> bytes:
    return json.dumps({"Records": [{"eventSource": "minio:s3", "eventTime": "2026-12-06T10:00:00.000Z",
                                    "s3": {"bucket": {"name": bucket},
                                           "object": {"key": urllib.parse.quote(key)}}}]}).encode()


def test_output_dir_replaced_by_a_link_is_not_followed(watchdog, sandbox, tmp_path):
    """Item 5: `rm -r $TMP_OUTPUT_DIR; ln -s /elsewhere $TMP_OUTPUT_DIR`: the canary is neither
    answered nor uploaded."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "canary.txt").write_bytes(CANARY)
    sandbox.write_config("name: hostile\nlog_level: INFO\noutput:\n- storage_provider: local\n  path: out\n")
    sandbox.write_script(f'#!/bin/sh\nrm -r "$TMP_OUTPUT_DIR"\nln -s {elsewhere} "$TMP_OUTPUT_DIR"\necho done\n')
    server = watchdog()
    answer = server.post("/", b'{"x": 1}')
    assert answer.status == 200, answer.text
    assert b"canary" not in answer.body and base64.b64encode(CANARY)[:16] not in answer.body
    assert "symbolic link" in server.log()  # the log says why there is no output
    assert not (sandbox.storage / "out").exists()
    assert (elsewhere / "canary.txt").read_bytes() == CANARY  # and the watchdog's clearing did not follow it


def test_work_dir_replaced_by_a_link_is_refused(watchdog, sandbox, tmp_path):
    """Item 5, one level up: the script moves its whole work dir away and links a look-alike."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "output").mkdir(parents=True)
    (elsewhere / "output" / "canary.txt").write_bytes(CANARY)
    sandbox.write_script(f'#!/bin/sh\nw="$(dirname "$TMP_OUTPUT_DIR")"\nmv "$w" "$w.moved"\nln -s {elsewhere} "$w"\n')
    server = watchdog()
    answer = server.post("/", b'{"x": 1}')
    assert answer.status == 500 and b"canary" not in answer.body
    assert base64.b64encode(CANARY)[:16] not in answer.body
    assert (elsewhere / "output" / "canary.txt").read_bytes() == CANARY
    for moved in sandbox.tmp.glob("*.moved"):  # the script's own mess, not the watchdog's to know
        __import__("shutil").rmtree(moved)


def test_zip_names_cannot_climb_and_odd_names_get_a_response(watchdog, sandbox):
    """Items 6 and 7: `..\\..\\evil.txt`, `C:x` and a name that is not UTF-8 are stored escaped."""
    sandbox.write_script('#!/bin/sh\ncd "$TMP_OUTPUT_DIR"\necho evil > "..\\\\..\\\\evil.txt"\n'
                         'echo drive > "C:x"\necho latin > "$(printf \'caf\\351.txt\')"\necho plain > plain.txt\n')
    server = watchdog()
    answer = server.post("/", b'{"x": 1}')
    assert answer.status == 200, answer.text
    names = zipfile.ZipFile(io.BytesIO(base64.b64decode(answer.body))).namelist()
    assert sorted(names) == ["..%5C..%5Cevil.txt", "C%3Ax", "caf%E9.txt", "plain.txt"]
    assert "stored in the zip as" in server.log()


def test_a_lone_file_with_a_non_utf8_name_is_answered(watchdog, sandbox):
    """Item 7: the raw file when alone."""
    sandbox.write_script('#!/bin/sh\necho latin > "$TMP_OUTPUT_DIR/$(printf \'caf\\351.txt\')"\n')
    server = watchdog()
    answer = server.post("/", b'{"x": 1}')
    assert answer.status == 200 and base64.b64decode(answer.body) == b"latin\n", answer.text


def test_a_non_utf8_output_name_is_uploaded_escaped(watchdog, sandbox):
    """Item 7 for uploads: an object key must be UTF-8, so the name's odd bytes are escaped."""
    sandbox.write_config("name: odd\nlog_level: WARNING\noutput:\n- storage_provider: local\n  path: out\n")
    sandbox.write_script('#!/bin/sh\necho latin > "$TMP_OUTPUT_DIR/$(printf \'caf\\351.txt\')"\n')
    server = watchdog()
    answer = server.post("/", b'{"x": 1}')
    assert answer.status == 200, answer.text
    assert (sandbox.storage / "out" / "caf%E9.txt").read_bytes() == b"latin\n"
    assert "uploaded as 'caf%E9.txt'" in server.log()


def test_key_at_the_name_limit_is_downloaded(watchdog, sandbox):
    """Item 8: a last key component of 255 bytes (legal on S3 and ext4) is processed."""
    name = "k" * 251 + ".txt"
    (sandbox.storage / "inbox").mkdir()
    (sandbox.storage / "inbox" / name).write_bytes(b"long name\n")
    sandbox.write_config("name: keys\nlog_level: CRITICAL\ninput:\n- storage_provider: local\n  path: inbox\n")
    sandbox.write_script('#!/bin/sh\ncat "$INPUT_FILE_PATH"\n')
    server = watchdog()
    answer = server.post("/", _event("inbox", name))
    assert answer.status == 200 and answer.text.endswith("long name\n"), answer.text


def test_key_beyond_the_name_limit_gets_one_line(watchdog, sandbox):
    """Item 8: a 300-byte last component (S3 allows 1024) cannot be a file name here: one line
    naming the limit; and the log quotes a 60 KB key shortened (item 9)."""
    sandbox.write_config("name: keys\nlog_level: INFO\ninput:\n- storage_provider: local\n  path: inbox\n")
    sandbox.write_script('#!/bin/sh\ncat "$INPUT_FILE_PATH"\n')
    server = watchdog()
    answer = server.post("/", _event("inbox", "x" * 300))
    assert answer.status == 400, answer.text
    assert answer.text.count("\n") == 1 and "300 bytes" in answer.text and "(255 bytes)" in answer.text
    huge = "y" * 60_000
    answer = server.post("/", _event("inbox", huge))
    assert answer.status == 400 and answer.text.count("\n") == 1
    assert max(len(line) for line in server.log().splitlines()) < 4000
