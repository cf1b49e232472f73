"""What OSCAR 3.7/4.x render, rendered the same: each test names the OSCAR source it follows."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from faassupervisor.__main__ import main
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.render import render_job
from faassupervisor.controlplane.yaml_output import dump_all
from tests.controlplane_validation import assert_valid
from tests.test_controlplane_render import HERE, by_kind, env_of, options, render, write_fdl

EVENT = json.loads((HERE / "events" / "minio-put.json").read_text())


def pod_of(obj):
    return obj["spec"]["template"]["spec"]


def minio_event(bucket: str, user: str = None) -> str:
    event = json.loads(json.dumps(EVENT))
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    if user:
        event["Records"][0]["userIdentity"] = {"principalId": user}
    return json.dumps(event)


def job_for(fdl: Path, event: str, **changes):
    obj = render_job(fdl, options(**changes), event)
    assert_valid([obj])
    return obj


# 3. MinIO credentials (pkg/handlers/job.go, pkg/handlers/create.go)

ASYNC = """\
name: grayify
image: ghcr.io/grycap/imagemagick
script: script.sh
input: [{storage_provider: minio.default, path: grayify/in}]
output: [{storage_provider: minio.default, path: grayify/out}]
"""


def minio_mount(pod):
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    mount = mounts.get("/var/run/secrets/providers/minio.default")
    if mount is None:
        return None
    assert mount["readOnly"]
    return next(v for v in pod["volumes"] if v["name"] == mount["name"])["secret"]["secretName"]


def test_fdl_minio_keys_become_a_mounted_secret_and_the_config_keeps_hidden_placeholders(tmp_path):
    fdl = write_fdl(tmp_path, ASYNC + "storage_providers:\n  minio:\n    default: {endpoint: 'http://minio.local:9000',"
                                      " access_key: AKIA1, secret_key: S3CR3T}\n")
    objects = render(fdl)
    secret = by_kind(objects, "Secret", "grayify-minio")
    assert secret["stringData"] == {"accessKey": "AKIA1", "secretKey": "S3CR3T"}
    config = yaml.safe_load(by_kind(objects, "Secret", "grayify-config")["stringData"]["function_config.yaml"])
    assert config["storage_providers"]["minio"]["default"] == {
        "endpoint": "http://minio.local:9000", "verify": True, "region": "us-east-1",
        "access_key": "hidden", "secret_key": "hidden"}
    assert "AKIA1" not in dump_all(o for o in objects if o["metadata"]["name"] != "grayify-minio")
    assert minio_mount(pod_of(by_kind(objects, "Service"))) == "grayify-minio"
    assert minio_mount(pod_of(job_for(fdl, minio_event("grayify")))) == "grayify-minio"


def test_without_keys_oscars_secret_is_mounted_the_flag_names_another_and_the_events_user_has_hers(tmp_path):
    fdl = write_fdl(tmp_path, ASYNC + "owner: alice\n")
    objects = render(fdl)
    assert [o["kind"] for o in objects] == ["ConfigMap", "Secret", "Service"], "no Secret rendered without keys"
    config = yaml.safe_load(by_kind(objects, "Secret", "grayify-config")["stringData"]["function_config.yaml"])
    assert config["storage_providers"]["minio"]["default"]["endpoint"] == "https://minio-service.minio:9000"
    assert minio_mount(pod_of(by_kind(objects, "Service"))) == "minio"
    assert minio_mount(pod_of(by_kind(render(fdl, minio_secret="team-keys"), "Service"))) == "team-keys"
    # The event's user (an EGI id, cut at its '@' as OSCAR's FormatUID) has her own Secret; the owner's is `minio`.
    bob = "62bb11b40398f73778b66f344d282242@egi.eu"
    assert minio_mount(pod_of(job_for(fdl, minio_event("grayify", bob)))) == "62bb11b40398f73778b66f344d282242"
    assert minio_mount(pod_of(job_for(fdl, minio_event("grayify", "alice")))) == "minio"


def test_a_service_that_does_not_use_minio_mounts_no_secret():
    objects = render(HERE / "fdl" / "oscar-cowsay" / "fdl.yaml")
    assert minio_mount(pod_of(by_kind(objects, "Service"))) is None


# 4. Defaults OSCAR applies (pkg/types/service.go ToPodSpec, CreateResources)

def test_default_limits_and_pod_settings_and_ephemeral_storage(tmp_path):
    fdl = write_fdl(tmp_path, "name: small\nimage: busybox\nscript: script.sh\nephemeral_storage_request: 1Gi\n")
    pod = pod_of(by_kind(render(fdl), "Service"))
    container = pod["containers"][0]
    assert container["resources"] == {"limits": {"cpu": "0.2", "memory": "256Mi"},
                                      "requests": {"cpu": "0.2", "memory": "256Mi", "ephemeral-storage": "1Gi"}}
    assert container["imagePullPolicy"] == "Always"
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False


def test_log_level_notset_renders(tmp_path):
    fdl = write_fdl(tmp_path, "name: quiet\nimage: busybox\nscript: script.sh\nlog_level: NOTSET\n")
    config = yaml.safe_load(by_kind(render(fdl), "Secret", "quiet-config")["stringData"]["function_config.yaml"])
    assert config["log_level"] == "NOTSET"


def test_enable_sgx_requests_an_enclave_and_raw_io(tmp_path):
    fdl = write_fdl(tmp_path, "name: sgx\nimage: busybox\nscript: script.sh\nenable_sgx: true\n")
    container = pod_of(by_kind(render(fdl), "Service"))["containers"][0]
    assert container["resources"]["limits"]["sgx.intel.com/enclave"] == "1"
    assert container["securityContext"] == {"capabilities": {"add": ["SYS_RAWIO"]}}


# 5. Jobs (pkg/handlers/job.go)

def test_long_names_are_cut_to_16_in_job_uuid_and_the_same_event_keeps_its_job(tmp_path):
    fdl = write_fdl(tmp_path, ASYNC.replace("name: grayify", "name: a-service-with-a-long-name"))
    event = minio_event("grayify")
    first = job_for(fdl, event)
    assert first["metadata"]["name"].startswith("a-service-with-a-") and len(first["metadata"]["name"]) == 16 + 37
    assert job_for(fdl, event)["metadata"]["name"] == first["metadata"]["name"]


def test_render_job_accepts_the_base64_body_oscar_cli_sends(tmp_path, capsys):
    fdl = write_fdl(tmp_path, ASYNC)
    body = tmp_path / "body.b64"
    body.write_text(base64.b64encode(b"\x89PNG any file").decode() + "\n")
    assert main(["render-job", str(fdl), "--event", str(body), "--kit-image", "kit"]) == 0
    job = yaml.safe_load(capsys.readouterr().out)
    assert env_of(pod_of(job)["containers"][0])["EVENT"] == body.read_text().strip()


def test_render_job_refuses_an_event_from_a_bucket_the_service_does_not_watch(tmp_path, capsys):
    fdl = write_fdl(tmp_path, ASYNC)
    event = tmp_path / "event.json"
    event.write_text(minio_event("elsewhere"))
    assert main(["render-job", str(fdl), "--event", str(event)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "--event: bucket 'elsewhere' is no input of service 'grayify' (its inputs: grayify)" in err
    delegated = tmp_path / "delegated.json"
    delegated.write_text(json.dumps({"event": json.loads(minio_event("elsewhere")), "storage_provider": "minio"}))
    assert main(["render-job", str(fdl), "--event", str(delegated)]) == 2


# 6. Exposed services, 4.x fields (pkg/backends/resources/expose.go)

def test_port_lists_make_a_multi_port_service_and_a_fixed_node_port_means_no_ingress_nor_auth(tmp_path):
    fdl = write_fdl(tmp_path, """\
        name: multi
        image: nginx
        script: script.sh
        expose: {api_port: [8000, 9000], nodePort: [30080, 0], set_auth: true}
        """)
    objects = render(fdl)
    assert [o["kind"] for o in objects] == ["ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler"]
    container = pod_of(by_kind(objects, "Deployment"))["containers"][0]
    assert container["ports"] == [{"name": "podport-0", "containerPort": 8000},
                                  {"name": "podport-1", "containerPort": 9000}]
    service = by_kind(objects, "Service")["spec"]
    assert service["type"] == "NodePort"
    assert service["ports"] == [{"name": "serviceport-0", "port": 80, "targetPort": 8000, "nodePort": 30080},
                                {"name": "serviceport-1", "port": 81, "targetPort": 9000}]
    config = yaml.safe_load(by_kind(objects, "Secret", "multi-config")["stringData"]["function_config.yaml"])
    assert config["expose"]["api_port"] == [8000, 9000], "the config keeps the FDL's lists"


def test_a_dynamic_first_node_port_keeps_the_ingress(tmp_path):
    fdl = write_fdl(tmp_path, "name: dyn\nimage: nginx\nscript: script.sh\nexpose: {api_port: [80], nodePort: [0]}\n")
    assert "Ingress" in [o["kind"] for o in render(fdl)]


def test_node_ports_must_pair_with_api_ports(tmp_path, capsys):
    fdl = write_fdl(tmp_path, "name: odd\nimage: nginx\nscript: script.sh\nexpose: {api_port: [80, 81], nodePort: [30080]}\n")
    assert main(["render", str(fdl)]) == 2
    assert "expose.nodePort: 1 ports for 2 api_port" in capsys.readouterr().err


@pytest.mark.parametrize("version, suffix", [(3, "-dlp"), (4, "-dpl")])
def test_deployment_name_follows_the_oscar_version(version, suffix):
    objects = render(HERE / "fdl" / "oscar-nginx" / "fdl.yaml", oscar_version=version)
    assert by_kind(objects, "Deployment")["metadata"]["name"] == "nginx2" + suffix
    assert by_kind(objects, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == "nginx2" + suffix


def test_forward_auth_is_a_warning_naming_what_it_needs(tmp_path, capsys):
    fdl = write_fdl(tmp_path, "name: fw\nimage: nginx\nscript: script.sh\n"
                              "expose: {api_port: 80, set_auth: true, auth_type: forward}\n")
    assert main(["render", str(fdl), "--kit-image", "kit"]) == 0
    assert "expose.auth_type 'forward' is not rendered: it needs OSCAR's manager" in capsys.readouterr().err


def test_probe_mode_direct_probes_the_health_path_as_given(tmp_path):
    fdl = write_fdl(tmp_path, "name: d\nimage: nginx\nscript: script.sh\n"
                              "expose: {api_port: 80, rewrite_target: true, health_path: /ok, probe_mode: direct}\n")
    container = pod_of(by_kind(render(fdl), "Deployment"))["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/ok"


# 7. mount, volume, interlink_node_name

def test_mount_adds_the_rclone_sidecar_with_the_bucket_under_mnt_to_jobs_not_to_knative(capsys):
    fdl = HERE / "fdl" / "oscar-grayify-mount" / "fdl.yaml"
    knative = pod_of(by_kind(render(fdl), "Service"))
    assert all(c["name"] != "rclone-container" for c in knative["initContainers"])
    assert main(["render", str(fdl), "--kit-image", "kit"]) == 0
    assert "mount is rendered in its Jobs (render-job), not in its Knative Service" in capsys.readouterr().err
    pod = pod_of(job_for(fdl, minio_event("grayifymount")))
    sidecar = next(c for c in pod["initContainers"] if c["name"] == "rclone-container")
    assert sidecar["restartPolicy"] == "Always" and sidecar["securityContext"] == {"privileged": True}
    env = env_of(sidecar)
    assert env["MINIO_BUCKET"] == "grayifymount2/middle"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "minio", "key": "accessKey"}}
    assert 'rclone mount "minio:$MINIO_BUCKET" "$MNT_POINT/$MINIO_BUCKET"' in sidecar["command"][2]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/mnt")
    assert mount["mountPropagation"] == "HostToContainer"


def test_mount_of_another_provider_reads_its_keys_from_the_config_secret(tmp_path):
    fdl = write_fdl(tmp_path, """\
        name: mnt
        image: busybox
        script: script.sh
        mount: {storage_provider: s3.aws, path: data/in}
        storage_providers:
          s3:
            aws: {access_key: AK, secret_key: SK, region: eu-west-1}
        """)
    objects = render(fdl)
    assert by_kind(objects, "Secret", "mnt-config")["stringData"]["mount-secret-key"] == "SK"
    sidecar = pod_of(job_for(fdl, "{}"))["initContainers"][-1]
    assert env_of(sidecar)["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "mnt-config", "key": "mount-secret-key"}}
    assert "SK" not in json.dumps(sidecar)


def test_volume_with_size_renders_its_claim_and_mounts_it():
    objects = render(HERE / "fdl" / "oscar-volume-demo" / "fdl.yaml")
    claim = by_kind(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "volume-demo"
    assert claim["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}
    pod = pod_of(by_kind(objects, "Service"))
    assert {"name": "service-volume", "mountPath": "/data"} in pod["containers"][0]["volumeMounts"]


def test_interlink_job_runs_on_the_virtual_node_with_a_base64_event():
    fdl = HERE / "fdl" / "oscar-thermal-detector-interlink" / "fdl.yaml"
    from faassupervisor.controlplane.injection import Injection

    event = minio_event("thermal-detector")
    pod = pod_of(job_for(fdl, event, injection=Injection(mode="pvc")))
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "vega-new-vk"}
    assert pod["tolerations"] == [{"key": "virtual-node.interlink/no-schedule", "operator": "Exists"}]
    assert pod["restartPolicy"] == "OnFailure" and pod["dnsPolicy"] == "ClusterFirst"
    assert pod["initContainers"][0]["name"] == "faas-supervisor-install", "a virtual node cannot mount the PVC"
    container = pod["containers"][0]
    assert container["command"] == ["/bin/sh", "-c", "echo $EVENT | base64 -d | /oscar/bin/supervisor"]
    assert base64.b64decode(env_of(container)["EVENT"]).decode() == event


# 8. Readable, pullable output

def test_rendered_yaml_has_no_anchors_or_aliases():
    text = dump_all(render(HERE / "fdl" / "oscar-dogs-breed-expose" / "fdl.yaml"))
    assert "&id0" not in text and "*id0" not in text


def test_render_says_in_one_line_when_the_default_kit_image_is_used(capsys):
    fdl = HERE / "fdl" / "oscar-cowsay" / "fdl.yaml"
    assert main(["render", str(fdl)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`make images`" in err and "--kit-image" in err
    assert main(["render", str(fdl), "--kit-image", "registry.example/kit:1"]) == 0
    assert capsys.readouterr().err == ""


# 10. Knative visibility (pkg/backends/knative.go)

def test_public_knative_service_is_external_and_guards_every_path_with_the_token(capsys):
    fdl = HERE / "fdl" / "oscar-cowsay" / "fdl.yaml"
    assert main(["render", str(fdl), "--public", "--kit-image", "kit"]) == 0
    ksvc = [o for o in yaml.safe_load_all(capsys.readouterr().out) if o["kind"] == "Service"][0]
    assert "networking.knative.dev/visibility" not in ksvc["metadata"]["labels"]
    assert env_of(pod_of(ksvc)["containers"][0])["token_on_every_path"] == "true"
    default = by_kind(render(fdl), "Service")
    assert default["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_the_watchdog_reads_the_rendered_public_pod_as_token_on_every_path_with_a_short_drain():
    from fwatchdog.config import WatchdogConfig

    for public in (False, True):
        container = pod_of(by_kind(render(HERE / "fdl" / "oscar-cowsay" / "fdl.yaml", public=public), "Service"))[
            "containers"][0]
        env = {k: v for k, v in env_of(container).items() if isinstance(v, str)}
        env["OSCAR_SERVICE_TOKEN"] = "t" * 64  # the kubelet resolves the secretKeyRef
        config = WatchdogConfig.from_environ(env)
        assert config.token_on_every_path is public
        assert config.healthcheck_interval == 5


def test_options_default_is_cluster_local():
    assert RenderOptions().public is False
