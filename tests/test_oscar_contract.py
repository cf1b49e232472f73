"""What OSCAR's pods give the supervisor, through the real `supervisor` command (SPEC §2, docs/oscar.md).

Each test takes one thing OSCAR 3.7 or 4.x puts in a service's pod, as its
sources say (grycap/oscar pkg/handlers/{create,job}.go, pkg/resourcemanager/
delegate.go), against moto's S3 server with authentication on: a transfer
signed with the wrong keys fails, as it would against OSCAR's MinIO.
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from faassupervisor.errors import ExitStatus
from tests.storage_auth import authenticated_s3  # noqa: F401 - fixture
from tests.storage_servers import (  # noqa: F401 - fixtures
    ONEDATA_SPACE,
    ONEDATA_TOKEN,
    WEBDAV_LOGIN,
    WEBDAV_PASSWORD,
    onedata_server,
    webdav_server,
)

# OSCAR's create.go writes these for minio.default; the real keys are in the mounted secret.
HIDDEN = {"access_key": "hidden", "secret_key": "hidden"}

COPY_SCRIPT = '#!/bin/sh\necho "processing $STORAGE_OBJECT_KEY"\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy-$(basename "$INPUT_FILE_PATH")"\n'


def minio_event(bucket: str, key: str) -> dict:
    """A MinIO notification as OSCAR receives it (the shape of tests/controlplane/events/minio-put.json)."""
    return {
        "EventName": "s3:ObjectCreated:Put",
        "Key": f"{bucket}/{key}",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-12-06T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put",
            "requestParameters": {"principalId": "oscar-user-uid", "sourceIPAddress": "10.0.0.1"},
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
        }],
    }


def mount_secret(sandbox, server, provider_id: str = "default") -> None:
    """The user's MinIO secret, where job.go mounts it (`MinIODefaultPath` for `default`)."""
    folder = sandbox.root / "secrets" / f"minio.{provider_id}"
    folder.mkdir(parents=True)
    (folder / "accessKey").write_text(server.access_key)
    (folder / "secretKey").write_text(server.secret_key)


def configure(sandbox, config: dict, script: str = COPY_SCRIPT) -> None:
    sandbox.write_script(script)
    sandbox.write_config(yaml.safe_dump({"name": "oscar-svc", "log_level": "INFO", **config}))


def oscar_config(server, inbox: str, outbox: str, **extra) -> dict:
    """function_config.yaml as OSCAR writes it: minio.default with `hidden` keys."""
    return {
        "input": [{"storage_provider": "minio.default", "path": f"{inbox}/in"}],
        "output": [{"storage_provider": "minio.default", "path": f"{outbox}/out"}],
        "storage_providers": {"minio": {"default": {"endpoint": server.url, "region": "us-east-1", **HIDDEN}}},
        **extra,
    }


def oscar_job(sandbox, s3, script: str = COPY_SCRIPT, env=None):
    """A Job as OSCAR runs it: `hidden` keys, the secret mounted, in/photo.txt's event in EVENT."""
    inbox, outbox = s3.bucket("in"), s3.bucket("out")
    s3.client.put_object(Bucket=inbox, Key="in/photo.txt", Body=b"pixels\n")
    configure(sandbox, oscar_config(s3, inbox, outbox), script=script)
    mount_secret(sandbox, s3)
    run = sandbox.supervisor(b"", env={"EVENT": json.dumps(minio_event(inbox, "in/photo.txt")), **(env or {})})
    return run, outbox


def test_hidden_keys_and_the_mounted_secret_download_run_and_upload(sandbox, authenticated_s3):
    run, outbox = oscar_job(sandbox, authenticated_s3)

    assert run.returncode == 0, run.stderr
    assert authenticated_s3.read(outbox, "out/copy-photo.txt") == b"pixels\n"
    # A storage event answers with the logs and the script's output, never the file (the Job's log).
    assert "uploaded 1 file(s)" in run.text
    assert run.text.endswith("processing in/photo.txt\n")
    assert "cGl4ZWxz" not in run.text  # base64 of the output file


def test_hidden_keys_without_the_secret_directory_exit_2_naming_provider_and_path(sandbox, authenticated_s3):
    configure(sandbox, oscar_config(authenticated_s3, "in", "out"))

    run = sandbox.supervisor(b"", env={"EVENT": json.dumps(minio_event("in", "in/photo.txt"))})

    assert run.returncode == ExitStatus.BAD_INPUT
    expected = (f"storage_providers.minio.default: access_key is the placeholder 'hidden' and there is no "
                f"secret directory {sandbox.root / 'secrets' / 'minio.default'}/")
    assert run.stderr.strip().splitlines()[-1].endswith(expected)
    assert "Traceback" not in run.stderr
    assert sandbox.leftovers() == []


# --- log_level: OSCAR's checkValues accepts NOTSET and turns an unknown name into INFO (create.go) ---

LOGGING_SCRIPT = "#!/bin/sh\necho script ran\n"


def test_log_level_notset_keeps_every_line(sandbox):
    configure(sandbox, {"log_level": "NOTSET"}, script=LOGGING_SCRIPT)
    run = sandbox.supervisor(b'{"x": 1}')
    assert run.returncode == 0, run.stderr
    assert " - DEBUG - decoded json body" in run.text  # DEBUG and up reach the logs response
    assert run.text.endswith("script ran\n")


@pytest.mark.parametrize("where", ["config", "LOG_LEVEL"])
def test_unknown_log_level_is_info_with_one_warning(sandbox, where):
    configure(sandbox, {"log_level": "LOUD" if where == "config" else "INFO"}, script=LOGGING_SCRIPT)
    run = sandbox.supervisor(b'{"x": 1}', env={"LOG_LEVEL": "LOUD"} if where == "LOG_LEVEL" else None)
    assert run.returncode == 0, run.stderr
    field = "log_level" if where == "config" else "LOG_LEVEL"
    warnings = [line for line in run.stderr.splitlines() if " - WARNING - " in line]
    assert len(warnings) == 1 and f"{field}: unknown level 'LOUD', using INFO" in warnings[0]
    assert " - INFO - running " in run.text and " - DEBUG - " not in run.text


# --- delegated events (pkg/resourcemanager/delegate.go): 3.7 names the origin cluster, 4.x `TYPE.ID` ---

def delegated_config(server, outbox: str, cluster: str) -> dict:
    """The receiving service's config: the origin cluster's MinIO under its cluster id (OSCAR's FDL `clusters`)."""
    return {
        "output": [{"storage_provider": f"minio.{cluster}", "path": f"{outbox}/out"}],
        "storage_providers": {"minio": {cluster: {"endpoint": server.url, "region": "us-east-1", **HIDDEN}}},
    }


@pytest.mark.parametrize("form", ["3.7", "4.x"])
def test_delegated_events_of_both_oscar_versions(sandbox, authenticated_s3, form):
    s3 = authenticated_s3
    inbox, outbox = s3.bucket("origin"), s3.bucket("dest")
    s3.client.put_object(Bucket=inbox, Key="in/cat.txt", Body=b"meow\n")
    configure(sandbox, delegated_config(s3, outbox, "oscar-cluster-b"))
    mount_secret(sandbox, s3, "oscar-cluster-b")
    inner = minio_event(inbox, "in/cat.txt")
    if form == "3.7":  # DelegatedEvent{StorageProviderID: service.ClusterID, Event: <the event as a string>}
        body = {"storage_provider": "oscar-cluster-b", "event": json.dumps(inner)}
    else:  # delegationStorageProvider: `minio.<id>`; the event as an object is accepted too
        body = {"storage_provider": "minio.oscar-cluster-b", "event": inner}

    run = sandbox.supervisor(json.dumps(body).encode())

    assert run.returncode == 0, run.stderr
    assert f"downloading {inbox}/in/cat.txt from minio.oscar-cluster-b" in run.stderr
    assert s3.read(outbox, "out/copy-cat.txt") == b"meow\n"


def test_a_delegated_event_naming_an_unknown_cluster_is_bad_input(sandbox, authenticated_s3):
    configure(sandbox, delegated_config(authenticated_s3, "dest", "oscar-cluster-b"))
    mount_secret(sandbox, authenticated_s3, "oscar-cluster-b")
    body = {"storage_provider": "oscar-cluster-x", "event": json.dumps(minio_event("origin", "in/cat.txt"))}

    run = sandbox.supervisor(json.dumps(body).encode())

    assert run.returncode == ExitStatus.BAD_INPUT
    assert ("delegated event names storage provider 'minio.oscar-cluster-x', which is not configured "
            "(no storage_providers.minio.oscar-cluster-x section and no mounted secret)") in run.text
    assert "processing" not in run.text and sandbox.leftovers() == []


# --- isolation_level: USER (create.go fills bucket_list with `<input bucket>-<uid[:10]>`) ---

def test_user_isolation_reads_the_users_bucket_and_writes_back_to_it(sandbox, authenticated_s3):
    s3 = authenticated_s3
    inbox, outbox = s3.bucket("shared"), s3.bucket("results")
    user_bucket = f"{inbox}-0123456789"
    s3.client.create_bucket(Bucket=user_bucket)
    s3.client.put_object(Bucket=user_bucket, Key="in/mine.txt", Body=b"private\n")
    configure(sandbox, oscar_config(s3, inbox, outbox, isolation_level="USER", bucket_list=[user_bucket]))
    mount_secret(sandbox, s3)  # job.go mounts the event's user's secret as minio.default's

    run = sandbox.supervisor(b"", env={"EVENT": json.dumps(minio_event(user_bucket, "in/mine.txt"))})

    assert run.returncode == 0, run.stderr
    assert s3.read(user_bucket, "out/copy-mine.txt") == b"private\n"
    assert s3.keys(outbox) == []


def test_a_bucket_outside_bucket_list_is_still_refused(sandbox, authenticated_s3):
    configure(sandbox, oscar_config(authenticated_s3, "shared", "results", isolation_level="USER",
                                    bucket_list=["shared-0123456789"]))
    mount_secret(sandbox, authenticated_s3)
    run = sandbox.supervisor(b"", env={"EVENT": json.dumps(minio_event("shared-9999999999", "in/x.txt"))})
    assert run.returncode == ExitStatus.BAD_INPUT
    assert "no 'minio' (or 'local') input is configured for that bucket" in run.text


# --- what else OSCAR sets: JOB_UUID and RESOURCE_ID reach the script; prefixes match relative paths ---

def test_job_uuid_and_resource_id_reach_the_script(sandbox, authenticated_s3):
    env = {"JOB_UUID": "svc-job-1234", "RESOURCE_ID": "svc-resource", "OSCAR_SERVICE_BASE_PATH": ""}  # empty: not exposed
    run, _ = oscar_job(sandbox, authenticated_s3, env=env,
                       script='#!/bin/sh\necho "job=$JOB_UUID resource=$RESOURCE_ID base=[$OSCAR_SERVICE_BASE_PATH]"\n')
    assert run.returncode == 0, run.stderr
    assert run.text.endswith("job=svc-job-1234 resource=svc-resource base=[]\n")


# --- the other event sources OSCAR services receive (faas-supervisor events/{onedata,dCache,rucio}.py) ---

def test_onedata_onetrigger_event_is_fetched_from_the_space_it_names(sandbox, onedata_server):
    folder = f"in-{uuid.uuid4().hex[:8]}"
    (onedata_server.root / folder).mkdir()
    (onedata_server.root / folder / "doc.txt").write_bytes(b"from onedata\n")
    section = {"oneprovider_host": onedata_server.url, "token": ONEDATA_TOKEN, "space": ONEDATA_SPACE}
    configure(sandbox, {"input": [{"storage_provider": "onedata.mine", "path": folder}],
                        "storage_providers": {"onedata": {"mine": section}}},
              script='#!/bin/sh\ncat "$INPUT_FILE_PATH"; echo "key=$STORAGE_OBJECT_KEY"\n')
    event = {"Key": f"/{ONEDATA_SPACE}/{folder}/doc.txt",
             "Records": [{"objectKey": "doc.txt", "objectId": "0000abc", "eventTime": "2026-12-06T10:00:00",
                          "eventSource": "OneTrigger"}]}
    run = sandbox.supervisor(json.dumps(event).encode())
    assert run.returncode == 0, run.stderr
    assert run.text.endswith(f"from onedata\nkey=/{ONEDATA_SPACE}/{folder}/doc.txt\n")  # the event's Key, as faas-supervisor


def test_dcache_event_is_fetched_through_the_webdav_input(sandbox, webdav_server):
    folder = f"dcache-{uuid.uuid4().hex[:8]}"
    (webdav_server.root / folder / "incoming").mkdir(parents=True)
    (webdav_server.root / folder / "incoming" / "image2.jpg").write_bytes(b"from dcache\n")
    section = {"hostname": webdav_server.url, "login": WEBDAV_LOGIN, "password": WEBDAV_PASSWORD}
    configure(sandbox, {"input": [{"storage_provider": "webdav.dcache", "path": f"{folder}/incoming"}],
                        "storage_providers": {"webdav": {"dcache": section}}},
              script='#!/bin/sh\ncat "$INPUT_FILE_PATH"\n')
    event = {"event": {"name": "image2.jpg", "mask": ["IN_CREATE"]},
             "subscription": "https://dcache.example.org:3880/api/v1/events/channels/x/subscriptions/inotify/y"}
    run = sandbox.supervisor(json.dumps(event).encode())
    assert run.returncode == 0, run.stderr
    assert run.text.endswith("from dcache\n")


@pytest.mark.parametrize("event, names", [
    ({"event_type": "close", "payload": {"scope": "user.me", "name": "dataset"}}, "rucio event"),
    ({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}, "storage event from 'aws:sqs'"),
    ({"Records": [{"eventSource": "OneTrigger", "eventTime": "t"}]}, "OneTrigger event: 'Key'"),
    ({"event": {"mask": ["IN_CREATE"]}, "subscription": "https://x"}, "dCache event: 'event.name'"),
])
def test_an_event_we_cannot_fetch_is_refused_naming_its_source_never_handed_to_the_script(sandbox, event, names):
    configure(sandbox, {}, script="#!/bin/sh\necho script ran\n")
    run = sandbox.supervisor(json.dumps(event).encode())
    assert run.returncode == ExitStatus.BAD_INPUT
    assert run.text.startswith("error: ") and names in run.text and run.text.count("\n") == 1
    assert "script ran" not in run.text and sandbox.leftovers() == []


@pytest.mark.parametrize("named, expected", [
    ("oscar-cluster-b", "minio.oscar-cluster-b"),  # 3.7: the origin cluster's id; type from the inner event
    ("cluster.example.org", "minio.cluster.example.org"),  # a cluster id with dots is still a cluster id
    ("minio.oscar-cluster-b", "minio.oscar-cluster-b"),  # 4.x: TYPE.ID
    ("minio", "minio.default"),
    ("webdav.dcache", "webdav.dcache"),
])
def test_what_a_delegated_event_names(named, expected):
    from faassupervisor.events.storage import delegated_provider

    assert str(delegated_provider(named, "minio")) == expected


def test_a_failed_script_uploads_nothing_and_says_how_many_files_were_kept_back(sandbox, authenticated_s3):
    run, outbox = oscar_job(sandbox, authenticated_s3,
                            script='#!/bin/sh\ncd "$TMP_OUTPUT_DIR"; echo 1 > one; echo 2 > two\nexit 4\n')
    assert run.returncode == ExitStatus.SCRIPT_FAILED
    errors = [line for line in run.stderr.splitlines() if " - ERROR - " in line]
    assert len(errors) == 1
    assert errors[0].endswith("script exited with status 4; 2 output file(s) kept back: a failed script uploads nothing")
    assert authenticated_s3.keys(outbox) == []


# --- expose: OSCAR >= 4.1 writes the ports as lists (pkg/types/service.go Expose.APIPort []int) ---

@pytest.mark.parametrize("expose", [
    {"api_port": [8080, 9090], "nodePort": [0, 0], "min_scale": 1, "max_scale": 10, "cpu_threshold": 80},  # 4.1+
    {"api_port": 8080, "min_scale": 1, "max_scale": 10, "cpu_threshold": 80},  # 3.x and the docs' FDLs
    {"min_scale": 0, "max_scale": 0, "cpu_threshold": 0},  # not exposed: 4.1+ omits the empty lists
], ids=["4.1-lists", "3.x-number", "not-exposed"])
def test_the_config_of_an_exposed_service_runs_its_invocations(sandbox, expose):
    configure(sandbox, {"expose": expose}, script=LOGGING_SCRIPT)
    run = sandbox.supervisor(b'{"x": 1}')
    assert run.returncode == 0, run.stderr
    assert run.text.endswith("script ran\n")


def test_a_port_list_that_holds_no_port_is_one_line_naming_the_item(sandbox):
    configure(sandbox, {"expose": {"api_port": ["http"]}}, script=LOGGING_SCRIPT)
    run = sandbox.supervisor(b'{"x": 1}')
    assert run.returncode == ExitStatus.BAD_INPUT, run.stderr  # a bad config is the deployer's fault: 2
    assert "expose.api_port[0]: expected an integer, got 'http'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_every_field_oscar_4_1_writes_is_accepted(sandbox):
    """The shape of OSCAR 4.1's `Service.ToYAML` (pkg/types/service.go, its TestToYAML): zero
    values everywhere, 4.x-only sections (federation, image_pull_secrets, clusters), the empty
    `expose` a service that is not exposed gets. None of it stops an invocation."""
    configure(sandbox, {
        "cluster_id": "oscar-cluster", "memory": "512Mi", "cpu": "0.5", "total_memory": "", "total_cpu": "",
        "ephemeral_storage_request": "", "enable_gpu": False, "enable_sgx": False, "image_prefetch": False,
        "synchronous": {"min_scale": 0, "max_scale": 0},
        "federation": {"group_id": "grp", "topology": "star", "members": [{
            "type": "oscar", "cluster_id": "other", "service_name": "oscar-svc", "url": "", "ssl_verify": False,
            "priority": 0, "headers": {"Authorization": "Bearer abc"}}]},
        "image": "ghcr.io/example/svc:latest", "alpine": False, "token": "", "file_stage_in": False,
        "input": [], "output": [], "image_pull_secrets": ["regcred"],
        "expose": {"min_scale": 0, "max_scale": 0, "cpu_threshold": 0, "rewrite_target": False,
                   "default_command": False, "set_auth": False, "health_path": ""},
        "environment": {"variables": {"FROM_FDL": "yes"}, "secrets": {"S": "t"}},
        "annotations": {"k": "v"}, "vo": "", "labels": {"l": "v"},
        "clusters": {"other": {"endpoint": "https://other.example", "auth_user": "u", "auth_password": "p",
                               "ssl_verify": True}},
        "owner": "", "interlink_node_name": "", "visibility": "", "allowed_users": [], "isolation_level": "",
        "bucket_list": [], "mount": {"storage_provider": "", "path": ""},
    }, script='#!/bin/sh\necho "FROM_FDL=$FROM_FDL"\n')
    run = sandbox.supervisor(b'{"x": 1}')
    assert run.returncode == 0, run.stderr
    assert run.text.endswith("FROM_FDL=yes\n")
