"""A bad FDL is one line on stderr naming the service and the field, exit status 2, nothing on stdout.

Data-driven: every `controlplane/bad_fdl/<case>.yaml` starts with
`# expect: <text the error line must contain>`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from faassupervisor.__main__ import main

BAD = Path(__file__).parent / "controlplane" / "bad_fdl"
CASES = sorted(p for p in BAD.glob("*.yaml"))


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    return first[len("# expect: "):]


@pytest.mark.parametrize("fdl", CASES, ids=[p.stem for p in CASES])
def test_bad_fdl_is_one_line_naming_service_and_field(fdl, capsys):
    status = main(["render", str(fdl)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("faas-supervisor render: error: ")
    assert expected(fdl) in lines[0]


def test_render_job_rejects_the_same_fdls(tmp_path, capsys):
    event = tmp_path / "event.json"
    event.write_text("{}")
    assert main(["render-job", str(BAD / "missing-image.yaml"), "--event", str(event)]) == 2
    assert expected(BAD / "missing-image.yaml") in capsys.readouterr().err


def test_unknown_cluster_names_the_clusters_there_are(capsys):
    assert main(["render", str(BAD / "duplicate-name.yaml"), "--cluster", "nowhere"]) == 2
    assert "--cluster: no service for cluster 'nowhere' (the FDL has: a, b)" in capsys.readouterr().err


def test_missing_fdl_file(tmp_path, capsys):
    assert main(["render", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_unknown_field_is_a_warning_not_an_error(tmp_path, capsys):
    (tmp_path / "script.sh").write_text("echo\n")
    fdl = tmp_path / "fdl.yaml"
    fdl.write_text("functions:\n  oscar:\n  - c: {name: typo, image: busybox, script: script.sh, imgae: x,"
                   " image_prefetch: true, total_cpu: '2', mount: {}, interlink_node_name: ''}\n")
    assert main(["render", str(fdl)]) == 0
    err = capsys.readouterr().err
    assert "imgae is not a field of an OSCAR service (a typo?)" in err
    # A real OSCAR field is never "a typo?": the warning names the component it needs.
    assert "image_prefetch is not rendered: it needs OSCAR's image-prefetcher DaemonSet" in err
    assert "total_cpu is not rendered: it needs Apache YuniKorn" in err
    for rendered in ("mount", "interlink_node_name", "volume", "ephemeral_storage_request"):
        assert f" {rendered} " not in err


def test_console_script_exits_2_with_one_line_and_no_traceback():
    script = Path(sys.executable).with_name("faas-supervisor")
    done = subprocess.run([str(script), "render", str(BAD / "sync-min-over-max.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert expected(BAD / "sync-min-over-max.yaml") in done.stderr
