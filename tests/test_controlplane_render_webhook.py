"""`faas-supervisor render-webhook`, and the webhook injecting exactly what `render` renders."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from tests.controlplane_validation import assert_valid, fixed_random
from faassupervisor.__main__ import main
from faassupervisor.controlplane.injection import Injection
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.render import render_fdl
from faassupervisor.controlplane.webhook import WebhookSettings, inject_pod

HERE = Path(__file__).parent / "controlplane"
CA = """-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUTestOnlyNotARealCertificate0wCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""


def render_webhook(capsys, *args):
    status = main(["render-webhook", *map(str, args)])
    out, err = capsys.readouterr()
    assert status == 0, err
    objects = list(yaml.safe_load_all(out))
    assert_valid(objects)
    return {o["kind"]: o for o in objects}


def test_webhook_objects_default_to_cert_manager_and_opted_in_namespaces(capsys):
    objects = render_webhook(capsys)
    assert set(objects) == {"Deployment", "Service", "MutatingWebhookConfiguration"}
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["faas-supervisor", "inject"]
    assert "--tls-cert" in container["command"] and "--tls-key" in container["command"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    config = objects["MutatingWebhookConfiguration"]
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == \
        "faas-supervisor/faas-supervisor-webhook-tls"
    hook = config["webhooks"][0]
    assert hook["admissionReviewVersions"] == ["v1"] and hook["sideEffects"] == "None"
    assert hook["rules"][0]["resources"] == ["pods"] and hook["rules"][0]["operations"] == ["CREATE"]
    assert hook["clientConfig"]["service"] == {
        "name": "faas-supervisor-webhook", "namespace": "faas-supervisor", "path": "/mutate", "port": 443}
    assert hook["namespaceSelector"] == {"matchLabels": {"faas-supervisor.io/injection": "enabled"}}
    assert objects["Service"]["spec"]["selector"] == objects["Deployment"]["spec"]["selector"]["matchLabels"]


def test_ca_bundle_namespace_image_and_all_namespaces(capsys, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(CA)
    objects = render_webhook(capsys, "--namespace", "tools", "--ca-bundle", ca, "--image", "my/webhook:1",
                             "--injection", "pvc", "--all-namespaces")
    hook = objects["MutatingWebhookConfiguration"]["webhooks"][0]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]).decode() == CA
    assert "annotations" not in objects["MutatingWebhookConfiguration"]["metadata"]
    excluded = hook["namespaceSelector"]["matchExpressions"][0]
    assert excluded["operator"] == "NotIn" and {"kube-system", "tools"} <= set(excluded["values"])
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "my/webhook:1"
    assert container["command"][container["command"].index("--injection") + 1] == "pvc"
    assert objects["Deployment"]["metadata"]["namespace"] == "tools"


def test_ca_bundle_must_be_pem(capsys, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    assert main(["render-webhook", "--ca-bundle", str(ca)]) == 2
    assert "--ca-bundle" in capsys.readouterr().err


def test_webhook_injects_what_render_renders():
    kit = "registry.example/kit:1"
    for mode in ("initcontainer", "pvc"):
        injection = Injection(mode=mode, kit_image=kit)
        objects = render_fdl(HERE / "fdl" / "cowsay" / "fdl.yaml", RenderOptions(injection=injection,
                                                                             random_bytes=fixed_random()))
        rendered = objects[-1]["spec"]["template"]["spec"]
        review = json.loads((HERE / "admission" / "annotated-pod.json").read_text())
        patched = inject_pod(review["request"]["object"], WebhookSettings(injection=injection))["spec"]
        assert patched.get("initContainers", [])[:1] == rendered.get("initContainers", [])
        runtime = [v for v in rendered["volumes"] if v["name"] == "oscar-bin"]
        assert [v for v in patched["volumes"] if v["name"] == "oscar-bin"] == runtime
        mount = [m for m in rendered["containers"][0]["volumeMounts"] if m["name"] == "oscar-bin"]
        assert [m for m in patched["containers"][0]["volumeMounts"] if m["name"] == "oscar-bin"] == mount
        assert patched["containers"][0]["command"] == rendered["containers"][0]["command"]
