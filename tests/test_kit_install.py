"""`fwatchdog install TARGET` (fwatchdog.install): the kit copying itself into a volume."""

from __future__ import annotations

import os
import stat

import pytest

from fwatchdog import install


@pytest.fixture
def bundle(tmp_path):
    """A stand-in for the PyInstaller onedir bundle: executable, links, nested libraries and data."""
    root = tmp_path / "bundle"
    (root / "_internal" / "lib").mkdir(parents=True)
    (root / "fwatchdog").write_bytes(b"\x7fELF bootloader")
    (root / "fwatchdog").chmod(0o755)
    (root / "supervisor").symlink_to("fwatchdog")
    (root / "faas-supervisor").symlink_to("fwatchdog")
    (root / "alpine").mkdir()
    (root / "alpine" / "supervisor").symlink_to("../fwatchdog")  # OSCAR's path for `alpine: true`
    (root / "_internal" / "libpython3.so").write_bytes(b"library")
    (root / "_internal" / "libpython3.so").chmod(0o555)
    (root / "_internal" / "magic.mgc").write_bytes(b"database")
    (root / "_internal" / "magic.mgc").chmod(0o644)
    (root / "_internal" / "lib" / "module.pyc").write_bytes(b"code")
    (root / "_internal" / "lib-link").symlink_to("lib")
    return root


def _tree(root):
    """{relative path: (kind, mode or link target, content)} for comparing two trees."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path), None)
        elif path.is_dir():
            found[rel] = ("dir", stat.S_IMODE(path.stat().st_mode), None)
        else:
            found[rel] = ("file", stat.S_IMODE(path.stat().st_mode), path.read_bytes())
    return found


def test_copies_files_links_and_modes(bundle, tmp_path):
    target = tmp_path / "volume" / "kit"
    assert install.install(str(target), source=bundle) == 0
    assert _tree(target) == _tree(bundle)
    assert os.access(target / "fwatchdog", os.X_OK)


def test_idempotent_over_an_existing_copy(bundle, tmp_path):
    target = tmp_path / "kit"
    assert install.install(str(target), source=bundle) == 0
    (target / "_internal" / "magic.mgc").write_bytes(b"stale")
    (target / "fwatchdog").chmod(0o600)
    inode = (target / "fwatchdog").stat().st_ino
    assert install.install(str(target), source=bundle) == 0
    assert _tree(target) == _tree(bundle)
    # Replaced, not rewritten in place: a process running the old file keeps its inode intact.
    assert (target / "fwatchdog").stat().st_ino != inode
    assert not [p for p in target.rglob(".*.installing")]


def test_into_an_existing_empty_volume_root(bundle, tmp_path):
    target = tmp_path / "emptydir"
    target.mkdir()
    assert install.install(str(target), source=bundle) == 0
    assert (target / "supervisor").is_symlink()


def test_outside_a_bundle_says_why(tmp_path, caplog):
    assert install.install(str(tmp_path / "kit")) == 2
    assert "only the self-contained kit" in caplog.text
    assert not (tmp_path / "kit").exists()


def test_unwritable_target_is_one_line(bundle, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert install.install(str(blocker / "kit"), source=bundle) == 1
    assert "install: cannot copy" in caplog.text and "\n" not in caplog.text.strip()


def test_main_usage(capsys):
    assert install.main([]) == 2
    assert "usage: fwatchdog install TARGET_DIR" in capsys.readouterr().err
