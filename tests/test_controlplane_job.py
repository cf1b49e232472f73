"""`faas-supervisor render-job`: the Job that processes one storage event."""

from __future__ import annotations

import io
import json
import re
import sys
import textwrap
from pathlib import Path

import yaml

from tests.controlplane_validation import assert_valid
from faassupervisor.__main__ import main

HERE = Path(__file__).parent / "controlplane"
EVENT = HERE / "events" / "minio-put.json"
FDL = HERE / "fdl" / "body-pose-detection" / "fdl.yaml"


def render_job(capsys, *args):
    status = main(["render-job", *map(str, args)])
    out, err = capsys.readouterr()
    assert status == 0, err
    objects = list(yaml.safe_load_all(out))
    assert_valid(objects)
    assert len(objects) == 1
    return objects[0]


def test_job_runs_the_supervisor_with_the_event(capsys):
    job = render_job(capsys, FDL, "--event", EVENT, "--namespace", "oscar-svc", "--ttl", "600")
    assert job["kind"] == "Job" and job["metadata"]["namespace"] == "oscar-svc"
    name = job["metadata"]["name"]
    assert re.fullmatch(r"body-pose-detection-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", name), \
        "OSCAR's JOB_UUID <name>-<uuid> names the Job"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["command"] == ["/oscar/bin/supervisor"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert json.loads(env["EVENT"]) == json.loads(EVENT.read_text())
    assert env["JOB_UUID"] == name
    assert env["RESOURCE_ID"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["OSCAR_SERVICE_BASE_PATH"] == "/system/services/body-pose-detection/exposed", "as OSCAR's ToPodSpec"
    assert "fprocess" not in env, "no watchdog in a Job"
    assert pod["initContainers"][0]["command"] == ["/oscar/bin/fwatchdog", "install", "/target"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/oscar/bin", "/oscar/config", "/var/run/secrets/providers/minio.default"}
    secret = next(v for v in pod["volumes"] if v["name"] == mounts["/var/run/secrets/providers/minio.default"]["name"])
    assert secret["secret"] == {"secretName": "minio"}, "OSCAR's secret of the service's owner"


def test_same_event_same_job_name_other_event_other_name(capsys, tmp_path):
    first = render_job(capsys, FDL, "--event", EVENT)["metadata"]["name"]
    assert render_job(capsys, FDL, "--event", EVENT)["metadata"]["name"] == first
    other = tmp_path / "other.json"
    other.write_text(EVENT.read_text().replace("people 1", "people 2"))
    assert render_job(capsys, FDL, "--event", other)["metadata"]["name"] != first


def test_event_from_stdin_and_pvc_injection(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(EVENT.read_bytes())))
    job = render_job(capsys, FDL, "--event", "-", "--injection", "pvc")
    pod = job["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert any(v.get("persistentVolumeClaim") for v in pod["volumes"])


def test_event_that_is_neither_json_nor_base64_is_refused(capsys, tmp_path):
    event = tmp_path / "event.json"
    event.write_text("not json!")
    assert main(["render-job", str(FDL), "--event", str(event)]) == 2
    assert "--event: neither a JSON event" in capsys.readouterr().err


def test_service_must_be_named_when_the_fdl_has_several(capsys, tmp_path):
    (tmp_path / "script.sh").write_text("echo\n")
    fdl = tmp_path / "fdl.yaml"
    fdl.write_text(textwrap.dedent("""\
        functions:
          oscar:
          - c: {name: first, image: busybox, script: script.sh}
          - c: {name: second, image: busybox, script: script.sh, input: [{path: body-pose-detection/in}]}
        """))
    assert main(["render-job", str(fdl), "--event", str(EVENT)]) == 2
    assert "--service: the FDL declares several services (first, second); name one" in capsys.readouterr().err
    job = render_job(capsys, fdl, "--event", EVENT, "--service", "second")
    assert job["metadata"]["name"].startswith("second-")
    assert main(["render-job", str(fdl), "--event", str(EVENT), "--service", "third"]) == 2
    assert "no service 'third'" in capsys.readouterr().err
