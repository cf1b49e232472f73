"""`faas-supervisor render`: the seeds' FDLs as golden files, every object validated, the config round trip."""

from __future__ import annotations

import base64
import os
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.controlplane_validation import assert_valid, fixed_random
from faassupervisor.config.fdl import parse_fdl
from faassupervisor.config.loader import load_service
from faassupervisor.controlplane.injection import Injection
from faassupervisor.controlplane.options import RenderOptions, WatchdogSettings
from faassupervisor.controlplane.render import render_fdl
from faassupervisor.controlplane.yaml_output import dump_all

HERE = Path(__file__).parent / "controlplane"
SEEDS = ("plants-sync", "cowsay", "body-pose-detection", "nginx")
# The seeds' FDLs, and OSCAR's own examples (`oscar-*`, each naming its source on its first line).
EXAMPLES = tuple(sorted(p.name for p in (HERE / "fdl").iterdir() if (p / "fdl.yaml").is_file()))
KIT = "registry.example/faas-supervisor-kit:test"


def options(**changes) -> RenderOptions:
    base = dict(random_bytes=fixed_random(), injection=Injection(kit_image=KIT))
    base.update(changes)
    return RenderOptions(**base)


def render(fdl: Path, **changes):
    objects = render_fdl(fdl, options(**changes))
    assert_valid(objects)
    return objects


def by_kind(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def write_fdl(tmp_path: Path, service: str, script: str = "#!/bin/sh\necho hi\n", top: str = "") -> Path:
    (tmp_path / "script.sh").write_text(script)
    fdl = tmp_path / "fdl.yaml"
    fdl.write_text(textwrap.dedent(top) + "functions:\n  oscar:\n  - my-cluster:\n"
                   + textwrap.indent(textwrap.dedent(service), "      "))
    return fdl


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("seed", EXAMPLES)
def test_example_fdl_matches_its_golden_file(seed):
    objects = render(HERE / "fdl" / seed / "fdl.yaml", namespace="oscar-svc")
    text = dump_all(objects)
    golden = HERE / "golden" / f"{seed}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), f"rendering changed: review it, then regenerate with UPDATE_GOLDEN=1 ({golden})"


@pytest.mark.parametrize("seed", EXAMPLES)
def test_rendered_function_config_loads_back_as_the_same_service(seed):
    fdl = HERE / "fdl" / seed / "fdl.yaml"
    objects = render(fdl)
    name = next(o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap")
    secret = by_kind(objects, "Secret", f"{name}-config")
    loaded = load_service(secret["stringData"]["function_config.yaml"].encode(), "function_config.yaml")
    declared = parse_fdl(yaml.safe_load(fdl.read_text())).services[0].config
    assert loaded == as_oscar_writes_it(declared)


def as_oscar_writes_it(config):
    """The service with minio.default as OSCAR writes it (handlers/create.go): endpoint, `hidden` keys."""
    providers = {kind: dict(ids) for kind, ids in config.storage_providers.items()}
    given = providers.get("minio", {}).get("default", {})
    providers.setdefault("minio", {})["default"] = {
        "endpoint": given.get("endpoint") or "https://minio-service.minio:9000", "verify": given.get("verify", True),
        "region": given.get("region") or "us-east-1", "access_key": "hidden", "secret_key": "hidden",
    }
    return config.with_overrides(storage_providers=providers, raw=dict(config.raw, storage_providers=providers))


def test_round_trip_keeps_merged_providers_secrets_and_both_variable_spellings(tmp_path):
    fdl = write_fdl(tmp_path, """\
        name: merged
        image: busybox
        script: script.sh
        environment:
          variables:
            GREETING: hello
          secrets:
            API_KEY: s3cr3t
        storage_providers:
          s3:
            mine: {access_key: AK, secret_key: SK, region: eu-west-1}
        input:
        - storage_provider: minio.shared
          path: in/folder
        output:
        - storage_provider: s3.mine
          path: out
          suffix: [.txt]
        """, top="""\
        storage_providers:
          minio:
            shared: {endpoint: "http://minio:9000", access_key: a, secret_key: b}
        """)
    objects = render(fdl)
    text = by_kind(objects, "Secret", "merged-config")["stringData"]["function_config.yaml"]
    loaded = load_service(text.encode(), "function_config.yaml")
    declared = parse_fdl(yaml.safe_load(fdl.read_text())).services[0].config
    assert loaded == as_oscar_writes_it(declared)
    assert set(loaded.storage_providers) == {"minio", "s3"}
    assert loaded.environment == {"GREETING": "hello"}
    user_secret = by_kind(objects, "Secret", "merged")
    assert user_secret["stringData"] == {"API_KEY": "s3cr3t"}
    container = by_kind(objects, "Service")["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "merged"}}]
    assert env_of(container)["GREETING"] == "hello"


def test_synchronous_service_runs_the_injected_watchdog_with_the_supervisor_as_fprocess(tmp_path):
    fdl = write_fdl(tmp_path, """\
        name: sync
        image: registry.example/sync:1
        script: script.sh
        cpu: '0.5'
        memory: 512Mi
        enable_gpu: true
        image_pull_secrets: [regcred]
        synchronous: {min_scale: 1, max_scale: 5}
        labels: {team: vision}
        annotations: {example.org/owner: alice}
        environment:
          Variables: {exec_timeout: "60"}
        """)
    objects = render(fdl, watchdog=WatchdogSettings(max_inflight=4, write_timeout=120))
    assert [o["kind"] for o in objects] == ["ConfigMap", "Secret", "Service"]
    ksvc = by_kind(objects, "Service")
    assert ksvc["apiVersion"] == "serving.knative.dev/v1"
    assert ksvc["metadata"]["labels"]["team"] == "vision"
    assert ksvc["metadata"]["annotations"] == {"example.org/owner": "alice"}
    template = ksvc["spec"]["template"]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"] == "5"
    spec = template["spec"]
    assert spec["containerConcurrency"] == 4 and spec["timeoutSeconds"] == 120
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    container = spec["containers"][0]
    assert container["image"] == "registry.example/sync:1"
    assert container["command"] == ["/oscar/bin/fwatchdog"]
    assert container["resources"] == {"limits": {"cpu": "0.5", "memory": "512Mi", "nvidia.com/gpu": "1"},
                                      "requests": {"cpu": "0.5", "memory": "512Mi"}}
    assert container["imagePullPolicy"] == "Always"
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    env = env_of(container)
    assert env["fprocess"] == "/oscar/bin/supervisor"
    assert env["max_inflight"] == "4" and env["write_timeout"] == "120" and env["read_timeout"] == "300"
    assert env["exec_timeout"] == "60", "the FDL's variables override the watchdog defaults"
    assert env["OSCAR_SERVICE_NAME"] == "sync"
    assert env["OSCAR_SERVICE_BASE_PATH"] == "", "OSCAR 4.x: empty unless exposed"
    assert env["healthcheck_interval"] == "5", "a scaled-down pod stops in seconds, not after write_timeout"
    assert "token_on_every_path" not in env, "cluster-local: OSCAR's manager checks the token"
    assert env["OSCAR_SERVICE_TOKEN"] == {"secretKeyRef": {"name": "sync-config", "key": "token"}}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/oscar/bin"]["readOnly"] and mounts["/oscar/config"]["readOnly"]
    init = spec["initContainers"][0]
    assert init["image"] == KIT
    assert init["command"] == ["/oscar/bin/fwatchdog", "install", "/target"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/oscar/bin"]["name"]] == {"name": "oscar-bin", "emptyDir": {}}
    assert init["volumeMounts"] == [{"name": "oscar-bin", "mountPath": "/target"}]
    sources = volumes["oscar-config"]["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == "sync" and sources[1]["secret"]["name"] == "sync-config"


def test_generated_token_is_64_hex_characters_and_a_fixed_one_is_kept(tmp_path):
    fdl = write_fdl(tmp_path, "name: tok\nimage: busybox\nscript: script.sh\n")
    token = by_kind(render_fdl(fdl, RenderOptions()), "Secret", "tok-config")["stringData"]["token"]
    assert len(token) == 64 and int(token, 16) >= 0
    again = by_kind(render_fdl(fdl, RenderOptions()), "Secret", "tok-config")["stringData"]["token"]
    assert again != token, "a fresh token per render unless the FDL fixes one"
    fixed = write_fdl(tmp_path, "name: tok\nimage: busybox\nscript: script.sh\ntoken: abc123\n")
    assert by_kind(render(fixed), "Secret", "tok-config")["stringData"]["token"] == "abc123"


def test_config_hash_changes_with_the_script_so_pods_roll(tmp_path):
    fdl = write_fdl(tmp_path, "name: roll\nimage: busybox\nscript: script.sh\ntoken: t\n")
    first = by_kind(render(fdl), "Service")["spec"]["template"]["metadata"]["annotations"]
    (tmp_path / "script.sh").write_text("#!/bin/sh\necho changed\n")
    second = by_kind(render(fdl), "Service")["spec"]["template"]["metadata"]["annotations"]
    assert first["faas-supervisor.io/config-hash"] != second["faas-supervisor.io/config-hash"]


def test_pvc_injection_mounts_oscars_volume_read_only_without_init_container(tmp_path):
    fdl = write_fdl(tmp_path, "name: viapvc\nimage: busybox\nscript: script.sh\n")
    spec = by_kind(render(fdl, injection=Injection(mode="pvc")), "Service")["spec"]["template"]["spec"]
    assert "initContainers" not in spec
    volume = next(v for v in spec["volumes"] if v["name"] == "oscar-bin")
    assert volume["persistentVolumeClaim"] == {"claimName": "oscar-pvc", "readOnly": True}
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "oscar-bin")
    assert mount == {"name": "oscar-bin", "mountPath": "/oscar/bin", "readOnly": True}


def test_namespace_cluster_filter_and_cluster_local_by_default(tmp_path):
    (tmp_path / "script.sh").write_text("echo\n")
    fdl = tmp_path / "fdl.yaml"
    fdl.write_text(textwrap.dedent("""\
        functions:
          oscar:
          - east: {name: one, image: busybox, script: script.sh}
          - west: {name: two, image: busybox, script: script.sh}
        """))
    objects = render_fdl(fdl, options(namespace="team-a"), cluster_id="west")
    assert_valid(objects)
    assert {o["metadata"]["name"] for o in objects} == {"two", "two-config"}
    assert all(o["metadata"]["namespace"] == "team-a" for o in objects)
    assert by_kind(objects, "Service")["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    assert len(render(fdl)) == 6


def test_exposed_service_gets_deployment_service_autoscaler_and_ingress():
    objects = render(HERE / "fdl" / "body-pose-detection" / "fdl.yaml")
    kinds = [o["kind"] for o in objects]
    assert kinds == ["ConfigMap", "Secret", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "Ingress"]
    deployment = by_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["/bin/sh"] and container["args"] == ["-c", "/oscar/config/script.sh"], \
        "through the shell, as OSCAR: OSCAR's exposed examples have no #! line"
    assert container["ports"] == [{"name": "podport-0", "containerPort": 5000}]
    assert deployment["metadata"]["name"] == "body-pose-detection-dpl"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": "podport-0"}, "an HTTP GET, not a TCP check"
    assert "initContainers" not in pod, "an exposed server runs its own command: no runtime injected"
    assert env_of(container)["OSCAR_SERVICE_BASE_PATH"] == "/system/services/body-pose-detection/exposed"
    script_item = pod["volumes"][0]["projected"]["sources"][0]["configMap"]["items"][0]
    assert script_item["mode"] == 0o555
    service = by_kind(objects, "Service", "body-pose-detection-svc")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["targetPort"] == 5000
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    hpa = by_kind(objects, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 20
    ingress = by_kind(objects, "Ingress")
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/system/services/body-pose-detection/exposed/?(.*)"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/rewrite-target"] == "/$1"
    assert annotations["nginx.ingress.kubernetes.io/auth-secret"] == "body-pose-detection-auth-expose"
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "0"
    assert annotations["nginx.ingress.kubernetes.io/enable-cors"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/cors-allow-headers"] == "Authorization, Content-Type"


def test_basic_auth_secret_holds_the_service_name_and_its_token(tmp_path):
    import hashlib

    objects = render(HERE / "fdl" / "body-pose-detection" / "fdl.yaml")
    token = by_kind(objects, "Secret", "body-pose-detection-config")["stringData"]["token"]
    user, _, entry = by_kind(objects, "Secret", "body-pose-detection-auth-expose")["stringData"]["auth"] \
        .strip().partition(":")
    assert user == "body-pose-detection"
    assert entry.startswith("{SSHA}")
    raw = base64.b64decode(entry[len("{SSHA}"):])
    digest, salt = raw[:20], raw[20:]
    assert hashlib.sha1(token.encode() + salt).digest() == digest
    assert hashlib.sha1(b"wrong" + salt).digest() != digest


def test_expose_options_node_port_default_command_health_path_rewrite_target(tmp_path):
    fdl = write_fdl(tmp_path, """\
        name: web
        image: nginx
        script: script.sh
        cpu: '1'
        expose:
          api_port: 8000
          nodePort: 30080
          default_command: true
          health_path: /healthz
          rewrite_target: true
        """)
    objects = render(fdl, ingress_host="oscar.example.org")
    assert [o["kind"] for o in objects] == ["ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler"]
    container = by_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container and "args" not in container, "default_command keeps the image's own command"
    # rewrite_target: the server sees the whole public path, so its health path is behind it too (3.7.1, 4.x legacy).
    assert container["livenessProbe"]["httpGet"] == {"path": "/system/services/web/exposed/healthz", "port": "podport-0"}
    assert container["readinessProbe"]["httpGet"] == container["livenessProbe"]["httpGet"]
    service = by_kind(objects, "Service")
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 30080

    fdl = write_fdl(tmp_path, "name: web\nimage: nginx\nscript: script.sh\nexpose: {api_port: 8000, rewrite_target: true}\n")
    objects = render(fdl, ingress_host="oscar.example.org", ingress_class="public")
    ingress = by_kind(objects, "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] == \
        "/system/services/web/exposed/$1"
    assert ingress["spec"]["ingressClassName"] == "public"
    assert ingress["spec"]["rules"][0]["host"] == "oscar.example.org"
    assert ingress["spec"]["tls"] == [{"hosts": ["oscar.example.org"], "secretName": "oscar.example.org"}]
    container = by_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/system/services/web/exposed/", "port": "podport-0"}
    assert container["livenessProbe"]["httpGet"] == container["readinessProbe"]["httpGet"]


def test_old_port_spelling_is_the_api_port():
    objects = render(HERE / "fdl" / "nginx" / "fdl.yaml")
    assert by_kind(objects, "Service")["spec"]["ports"][0]["targetPort"] == 80
    assert by_kind(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 2


def test_binary_script_goes_to_binary_data(tmp_path):
    fdl = write_fdl(tmp_path, "name: bin\nimage: busybox\nscript: script.sh\n")
    (tmp_path / "script.sh").write_bytes(b"#!/bin/sh\n\xff\xfe\n")
    config_map = by_kind(render(fdl), "ConfigMap")
    assert base64.b64decode(config_map["binaryData"]["script.sh"]) == b"#!/bin/sh\n\xff\xfe\n"
