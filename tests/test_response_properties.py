"""Property tests of the response encoders: streamed base64 and zips are exactly what clients decode."""

from __future__ import annotations

import base64
import io
import os
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st

from faassupervisor import response
from faassupervisor.paths import output_files

names = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12).filter(
        lambda n: n not in (".", "..")
    ),
    min_size=1,
    max_size=3,
).map("/".join)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3 * (1 << 18) * 2 + 7))
def test_streamed_base64_is_plain_base64(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b64") / "f"
    path.write_bytes(data)
    out = io.BytesIO()
    response.write_base64(path, out)
    assert out.getvalue() == base64.b64encode(data)


@settings(max_examples=40, deadline=None)
@given(files=st.dictionaries(names, st.binary(max_size=2000), min_size=1, max_size=6))
def test_zip_holds_every_file_under_its_relative_path(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("out")
    written = {}
    for name, content in files.items():
        target = root / name
        if any(p.is_file() for p in target.parents if root in p.parents) or target.is_dir():
            continue  # a name that is another's folder: not a possible tree
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written[name] = content
    archive = response.build_zip(output_files(root), root, root.parent / (root.name + ".zip"))
    with zipfile.ZipFile(archive) as opened:
        assert {n: opened.read(n) for n in opened.namelist()} == written


def test_accept_header_rules():
    assert not response.wants_raw(None)
    assert not response.wants_raw("*/*")
    assert not response.wants_raw("text/plain")
    assert not response.wants_raw("application/octet-stream, */*;q=0.1")
    assert response.wants_raw("application/octet-stream")
    assert response.wants_raw("image/png; q=1, application/zip")


def test_output_files_lists_regular_files_without_following_links(tmp_path):
    out = tmp_path / "output"
    (out / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    for name in (".hidden", "a.c", "sub/b", "sub/deeper/c", "../elsewhere/secret"):
        (out / name).write_text(name)
    (out / "linkdir").symlink_to(tmp_path / "elsewhere")
    (out / "linkfile").symlink_to(out / "sub" / "b")
    os.mkfifo(out / "fifo")
    listed = output_files(out)
    assert [p.relative_to(out).as_posix() for p in listed] == [".hidden", "a.c", "sub/b", "sub/deeper/c"]
    # the same order and set as pathlib's own recursive listing, which this replaced
    assert listed == sorted(p for p in out.rglob("*") if p.is_file() and not p.is_symlink())
    assert output_files(tmp_path / "missing") == []
