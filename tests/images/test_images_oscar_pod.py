"""The pods a real OSCAR manager creates, replayed with podman: our runtime dropped into `/oscar/bin`.

Reconstructed from grycap/oscar at v3.7.1 and v4.1.2 (the lines are quoted
where they are used below):

- `pkg/types/service.go ToPodSpec`: the service image, command
  `/oscar/bin/fwatchdog`, the ConfigMap (`function_config.yaml`, `script.sh`)
  read-only at `/oscar/config`, OSCAR's PVC read-only at `/oscar/bin`;
  `addWatchdogEnvVars`: `fprocess=/oscar/bin/supervisor`, `max_inflight`,
  `write_debug`, `exec_timeout`, `read_timeout`, `write_timeout`,
  `healthcheck_interval` (plain seconds), and from 4.x `OSCAR_SERVICE_NAME`,
  `OSCAR_SERVICE_TOKEN`, `OSCAR_SERVICE_BASE_PATH` (empty unless exposed);
- `pkg/handlers/create.go`: `storage_providers.minio.default` written with
  `access_key: hidden` / `secret_key: hidden`;
- `pkg/handlers/job.go`: Jobs get `EVENT`, `JOB_UUID`, `RESOURCE_ID`, command
  `/bin/sh -c "echo $EVENT | /oscar/bin/supervisor"`, and the user's MinIO
  secret mounted at `/var/run/secrets/providers/minio.default`.

Storage is moto's S3 server with authentication on (tests/storage_auth.py): a
transfer signed with `hidden` fails as it would against OSCAR's MinIO. The
containers share the host's network to reach it, so the watchdog gets a free
`port` instead of OSCAR's 8080 (the only variable OSCAR does not set).
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tests.images.conftest import SERVICE_BASE, Engine, one_shot
from tests.storage_auth import authenticated_s3  # noqa: F401  (a fixture)
from tests.storage_servers import free_port

pytestmark = pytest.mark.images

SECRET_MOUNT = "/var/run/secrets/providers/minio.default"  # job.go MinIODefaultPath
SERVICE = "oscar-pod"
TOKEN = "0123456789abcdef" * 4
# The user script: copies its input to the output folder and says what it saw (the Job's log).
SCRIPT = """#!/bin/sh
echo "processing $STORAGE_OBJECT_KEY job=$JOB_UUID resource=$RESOURCE_ID"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/processed-$(basename "$INPUT_FILE_PATH")"
"""


@pytest.fixture(scope="module")
def oscar_pvc(engine: Engine, kit_image: str, tmp_path_factory) -> Path:
    """OSCAR's PVC (service.go `PVCName`, mounted at `VolumePath` /oscar/bin), holding our kit."""
    path = tmp_path_factory.mktemp("oscar-pvc")
    one_shot(engine, kit_image, "/oscar/bin/fwatchdog", "install", "/target", mounts=[f"{path}:/target"])
    return path


def function_config(s3, inbox: str, outbox: str, **extra) -> str:
    """function_config.yaml as create.go writes it (`service.ToYAML()`): every Service field, the
    script's text in `script`, and the default MinIO provider with `hidden` keys."""
    service = {
        "name": SERVICE, "cluster_id": "oscar-cluster", "memory": "256Mi", "cpu": "0.5", "enable_gpu": False,
        "enable_sgx": False, "image_prefetch": False, "total_memory": "", "total_cpu": "",
        "synchronous": {"min_scale": 0, "max_scale": 0}, "rescheduler_threshold": 0, "delegation": "",
        "log_level": "INFO", "image": SERVICE_BASE, "alpine": False, "token": TOKEN, "file_stage_in": False,
        "input": [{"storage_provider": "minio.default", "path": f"{inbox}/input"}],
        "output": [{"storage_provider": "minio.default", "path": f"{outbox}/output"}],
        "script": SCRIPT,
        "expose": {"min_scale": 1, "max_scale": 10, "api_port": 0, "cpu_threshold": 80, "rewrite_target": False,
                   "nodePort": 0, "default_command": False, "set_auth": False},
        "environment": {"variables": {"FROM_FDL": "yes"}, "secrets": None},
        "annotations": {}, "vo": "", "labels": {"oscar_service": SERVICE, "uid": "0123456789"},
        "storage_providers": {"minio": {"default": {
            "endpoint": s3.url, "verify": True, "access_key": "hidden", "secret_key": "hidden",
            "region": "us-east-1",
        }}},
        "owner": "0123456789abcdef@egi.eu", "interlink_node_name": "", "visibility": "private",
        "allowed_users": [], "isolation_level": "SERVICE", "bucket_list": [],
        "mount": {"storage_provider": "", "path": ""},
        **extra,
    }
    return yaml.safe_dump(service)


class Pod:
    """The volumes of one replayed pod, on the host."""

    def __init__(self, root: Path, pvc: Path, config_text: str, secret=None):
        self.config = root / "config"  # the ConfigMap (ToPodSpec: ConfigVolumeName at ConfigPath)
        self.config.mkdir(parents=True)
        (self.config / "function_config.yaml").write_text(config_text)
        (self.config / "script.sh").write_text(SCRIPT)
        self.mounts = [f"{self.config}:/oscar/config:ro", f"{pvc}:/oscar/bin:ro"]
        if secret is not None:  # job.go: Secret `MinIOSecretVolumeName` at MinIODefaultPath, read-only
            folder = root / "minio-secret"
            folder.mkdir()
            (folder / "accessKey").write_text(secret[0])
            (folder / "secretKey").write_text(secret[1])
            self.mounts.append(f"{folder}:{SECRET_MOUNT}:ro")


def watchdog_env(version: str, port: int) -> dict:
    """addWatchdogEnvVars, with OSCAR's default config (config.go: WATCHDOG_MAX_INFLIGHT 1, ...)."""
    env = {"fprocess": "/oscar/bin/supervisor", "max_inflight": "1", "write_debug": "true", "exec_timeout": "0",
           "read_timeout": "300", "write_timeout": "300", "healthcheck_interval": "5", "port": str(port)}
    if version == "4.x":
        env.update(OSCAR_SERVICE_NAME=SERVICE, OSCAR_SERVICE_TOKEN=TOKEN, OSCAR_SERVICE_BASE_PATH="")
    return env


def run_job(engine: Engine, pod: Pod, event: dict, version: str):
    """A Job's pod: job.go's command and variables (RESOURCE_ID is `spec.nodeName`)."""
    env = {"EVENT": json.dumps(event), "JOB_UUID": f"{SERVICE}-{uuid.uuid4()}", "RESOURCE_ID": "worker-node-1"}
    if version == "4.x":
        env.update(OSCAR_SERVICE_NAME=SERVICE, OSCAR_SERVICE_TOKEN=TOKEN, OSCAR_SERVICE_BASE_PATH="")
    return one_shot(engine, SERVICE_BASE, "-c", "echo $EVENT | /oscar/bin/supervisor", entrypoint="/bin/sh",
                    env=env, mounts=pod.mounts, options=["--network", "host"], check=False)


def minio_event(bucket: str, key: str) -> dict:
    return {
        "EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{key}",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-12-06T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put", "awsRegion": "",
            "requestParameters": {"principalId": "0123456789abcdef@egi.eu", "sourceIPAddress": "10.0.0.1"},
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 6}},
        }],
    }


@pytest.fixture
def buckets(authenticated_s3):
    s3 = authenticated_s3
    inbox, outbox = s3.bucket("in"), s3.bucket("out")
    s3.client.put_object(Bucket=inbox, Key="input/photo.txt", Body=b"pixels\n")
    return inbox, outbox


@pytest.mark.parametrize("version", ["3.7.1", "4.x"])
def test_minio_event_job(engine, oscar_pvc, authenticated_s3, buckets, tmp_path, version):
    s3, (inbox, outbox) = authenticated_s3, buckets
    pod = Pod(tmp_path, oscar_pvc, function_config(s3, inbox, outbox), secret=(s3.access_key, s3.secret_key))

    proc = run_job(engine, pod, minio_event(inbox, "input/photo.txt"), version)

    log = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode() + log
    assert s3.read(outbox, "output/processed-photo.txt") == b"pixels\n"
    # The Job's log is the supervisor's lines and the script's output, never the file's base64.
    assert "processing input/photo.txt job=oscar-pod-" in log and "resource=worker-node-1" in log
    assert base64.b64encode(b"pixels\n").decode() not in log


def test_a_job_without_the_secret_exits_2_naming_the_path(engine, oscar_pvc, authenticated_s3, buckets, tmp_path):
    s3, (inbox, outbox) = authenticated_s3, buckets
    pod = Pod(tmp_path, oscar_pvc, function_config(s3, inbox, outbox))  # no secret mounted

    proc = run_job(engine, pod, minio_event(inbox, "input/photo.txt"), "4.x")

    assert proc.returncode == 2
    assert (f"storage_providers.minio.default: access_key is the placeholder 'hidden' and there is no secret "
            f"directory {SECRET_MOUNT}/") in proc.stdout.decode()
    assert s3.keys(outbox) == []


def test_delegated_event_of_oscar_3_7(engine, oscar_pvc, authenticated_s3, buckets, tmp_path):
    """delegate.go: `{"storage_provider": service.ClusterID, "event": "<the event as a string>"}` to /job."""
    s3, (inbox, outbox) = authenticated_s3, buckets
    origin = {"endpoint": s3.url, "verify": True, "access_key": s3.access_key, "secret_key": s3.secret_key,
              "region": "us-east-1"}
    config = yaml.safe_load(function_config(s3, "unused", outbox))
    config["storage_providers"]["minio"]["oscar-cluster-a"] = origin  # the origin cluster's MinIO, by cluster id
    pod = Pod(tmp_path, oscar_pvc, yaml.safe_dump(config), secret=(s3.access_key, s3.secret_key))
    delegated = {"storage_provider": "oscar-cluster-a", "event": json.dumps(minio_event(inbox, "input/photo.txt"))}

    proc = run_job(engine, pod, delegated, "3.7.1")

    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
    assert "from minio.oscar-cluster-a" in proc.stdout.decode()
    assert s3.read(outbox, "output/processed-photo.txt") == b"pixels\n"


def test_user_isolation_event(engine, oscar_pvc, authenticated_s3, buckets, tmp_path):
    """create.go: `isolation_level: USER` fills bucket_list with `<input bucket>-<uid[:10]>`."""
    s3, (inbox, outbox) = authenticated_s3, buckets
    user_bucket = f"{inbox}-0123456789"
    s3.client.create_bucket(Bucket=user_bucket)
    s3.client.put_object(Bucket=user_bucket, Key="input/mine.txt", Body=b"private\n")
    config = function_config(s3, inbox, outbox, isolation_level="USER", bucket_list=[user_bucket],
                             allowed_users=["0123456789abcdef@egi.eu"])
    pod = Pod(tmp_path, oscar_pvc, config, secret=(s3.access_key, s3.secret_key))

    proc = run_job(engine, pod, minio_event(user_bucket, "input/mine.txt"), "4.x")

    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
    assert s3.read(user_bucket, "output/processed-mine.txt") == b"private\n"
    assert s3.keys(outbox) == []


@pytest.mark.parametrize("version", ["3.7.1", "4.x"])
def test_synchronous_request(engine, oscar_pvc, authenticated_s3, buckets, tmp_path, version):
    """The Knative pod (ToPodSpec) answering a synchronous call, which uploads its output too.

    OSCAR mounts the MinIO secret in Jobs only (job.go); a synchronous pod with a MinIO output
    needs it too (our control plane renders it), so it is mounted here as in the Job.
    """
    s3, (inbox, outbox) = authenticated_s3, buckets
    pod = Pod(tmp_path, oscar_pvc, function_config(s3, inbox, outbox), secret=(s3.access_key, s3.secret_key))
    port = free_port()
    name = f"fs-test-{uuid.uuid4().hex[:12]}"
    args = ["run", "-d", "--init", "--name", name, "--network", "host", "--entrypoint", "/oscar/bin/fwatchdog"]
    for key, value in watchdog_env(version, port).items():
        args += ["-e", f"{key}={value}"]
    for mount in pod.mounts:
        args += ["-v", mount]
    try:
        engine(*args, SERVICE_BASE, timeout=120)
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(engine, name, url)
        headers = {"Authorization": f"Bearer {TOKEN}"} if version == "4.x" else {}
        # What `oscar-cli service run --text-input` sends: base64 of the text.
        answer = requests.post(f"{url}/run/{SERVICE}", data=base64.b64encode(b"hello oscar\n"), headers=headers,
                               timeout=120)
        assert answer.status_code == 200, answer.text
        assert base64.b64decode(answer.content, validate=True) == b"hello oscar\n"
        stored = [key for key in s3.keys(outbox) if key.startswith("output/processed-")]
        assert len(stored) == 1 and s3.read(outbox, stored[0]) == b"hello oscar\n"
        if version == "4.x":
            assert requests.post(f"{url}/run/{SERVICE}/", data=b"aGk=", timeout=60).status_code == 401
    finally:
        engine("rm", "-f", *engine.stop_timeout, name, check=False, timeout=120)


def _wait_healthy(engine: Engine, name: str, url: str, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    logs = engine("logs", name, check=False, timeout=60)
    raise AssertionError(f"the watchdog never became healthy:\n{(logs.stdout + logs.stderr).decode()[-4000:]}")
