"""`faas-supervisor inject`: the admission webhook over real HTTPS on loopback.

The webhook runs as the real console script (gunicorn, TLS with a throwaway
certificate); AdmissionReview fixtures are POSTed to it, the returned
JSONPatch is applied with `jsonpatch`, and the patched Pod is validated against
the official schemas and sent again to check the injection is idempotent.
"""

from __future__ import annotations

import base64
import copy
import datetime
import ipaddress
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonpatch
import pytest
import requests

from tests.controlplane_validation import assert_valid

FIXTURES = Path(__file__).parent / "controlplane" / "admission"
KIT = "registry.example/faas-supervisor-kit:test"


def make_certificate(directory: Path):
    """A self-signed certificate for 127.0.0.1 (cryptography comes with moto, a test dependency)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "faas-supervisor-webhook-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # Key identifiers: Python 3.13's strict X.509 verification wants them even on a self-signed CA.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webhook:
    def __init__(self, url: str, ca: Path):
        self.url = url
        self.ca = ca

    def post(self, body: bytes) -> requests.Response:
        return requests.post(f"{self.url}/mutate", data=body, verify=str(self.ca), timeout=10,
                             headers={"Content-Type": "application/json"})

    def review(self, document) -> dict:
        response = self.post(json.dumps(document).encode())
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        answer = response.json()
        assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
        return answer["response"]


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    directory = tmp_path_factory.mktemp("webhook")
    cert, key = make_certificate(directory)
    port = free_port()
    command = [str(Path(sys.executable).with_name("faas-supervisor")), "inject", "--host", "127.0.0.1",
               "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key), "--workers", "1",
               "--kit-image", KIT]
    log = open(directory / "webhook.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"https://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (directory / "webhook.log").read_text()
            try:
                if requests.get(f"{url}/healthz", verify=str(cert), timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Webhook(url, cert)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def apply(review: dict, response: dict) -> dict:
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(response["patch"]))
    patched = jsonpatch.apply_patch(review["request"]["object"], patch)
    assert_valid([patched])
    return patched


def again(review: dict, pod: dict) -> dict:
    second = copy.deepcopy(review)
    second["request"]["object"] = pod
    return second


def test_annotated_pod_gets_the_runtime_config_and_watchdog(webhook):
    review = load("annotated-pod.json")
    response = webhook.review(review)
    assert response["uid"] == review["request"]["uid"]
    pod = apply(review, response)
    spec = pod["spec"]
    init = spec["initContainers"][0]
    assert init["image"] == KIT
    assert init["command"] == ["/oscar/bin/fwatchdog", "install", "/target"]
    container = spec["containers"][0]
    assert container["command"] == ["/oscar/bin/fwatchdog"]
    assert "args" not in container
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["fprocess"] == "/oscar/bin/supervisor"
    assert env["max_inflight"] == "8", "the pod's own watchdog settings win"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/oscar/bin"] == {"name": "oscar-bin", "mountPath": "/oscar/bin", "readOnly": True}
    assert mounts["/oscar/config"]["readOnly"] is True
    assert "/var/run/secrets/kubernetes.io/serviceaccount" in mounts, "existing mounts are kept"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["oscar-bin"] == {"name": "oscar-bin", "emptyDir": {}}
    sources = volumes["oscar-config"]["projected"]["sources"]
    assert sources == [{"configMap": {"name": "cowsay"}}, {"secret": {"name": "cowsay-config"}}]
    assert "kube-api-access-7xq2s" in volumes
    assert pod["metadata"]["annotations"]["faas-supervisor.io/status"] == "injected"
    assert pod["metadata"]["labels"] == {"app": "cowsay"}


def test_injection_is_idempotent(webhook):
    review = load("annotated-pod.json")
    pod = apply(review, webhook.review(review))
    response = webhook.review(again(review, pod))
    assert response == {"uid": review["request"]["uid"], "allowed": True}


def test_pvc_injection_runs_the_supervisor_in_the_named_container(webhook):
    review = load("job-pod-pvc-supervisor.json")
    pod = apply(review, webhook.review(review))
    spec = pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["fetch-model"], "no install container with the PVC"
    sidecar, worker = spec["containers"]
    assert sidecar == review["request"]["object"]["spec"]["containers"][0], "other containers untouched"
    assert worker["command"] == ["/oscar/bin/supervisor"]
    assert not any(e["name"] == "fprocess" for e in worker["env"])
    volume = next(v for v in spec["volumes"] if v["name"] == "oscar-bin")
    assert volume["persistentVolumeClaim"] == {"claimName": "oscar-pvc", "readOnly": True}
    assert webhook.review(again(review, pod)) == {"uid": review["request"]["uid"], "allowed": True}


def test_pod_without_annotation_is_allowed_untouched(webhook):
    review = load("plain-pod.json")
    assert webhook.review(review) == {"uid": review["request"]["uid"], "allowed": True}
    review["request"]["object"]["metadata"]["annotations"] = {"faas-supervisor.io/inject": "false"}
    assert webhook.review(review) == {"uid": review["request"]["uid"], "allowed": True}


def test_other_kinds_and_operations_are_allowed_untouched(webhook):
    review = load("annotated-pod.json")
    review["request"]["operation"] = "UPDATE"
    assert webhook.review(review)["allowed"] is True and "patch" not in webhook.review(review)
    review = load("annotated-pod.json")
    review["request"]["kind"] = {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "patch" not in webhook.review(review)


@pytest.mark.parametrize("annotations, reason", [
    ({"faas-supervisor.io/run": "forever"}, "annotation faas-supervisor.io/run: expected one of watchdog, supervisor, none"),
    ({"faas-supervisor.io/injection": "copy"}, "annotation faas-supervisor.io/injection: expected one of"),
    ({"faas-supervisor.io/container": "ghost"}, "container 'ghost': not in the pod (containers: 'cowsay')"),
    ({"faas-supervisor.io/config": "Not_A_Name"}, "annotation faas-supervisor.io/config: 'Not_A_Name' is not a valid"),
])
def test_contradictory_annotations_are_refused_with_the_reason(webhook, annotations, reason):
    review = load("annotated-pod.json")
    review["request"]["object"]["metadata"]["annotations"].update(annotations)
    response = webhook.review(review)
    assert response["allowed"] is False and "patch" not in response
    assert response["uid"] == review["request"]["uid"]
    assert reason in response["status"]["message"]


def test_pod_already_using_oscar_bin_is_refused(webhook):
    review = load("annotated-pod.json")
    container = review["request"]["object"]["spec"]["containers"][0]
    container["volumeMounts"].append({"name": "mine", "mountPath": "/oscar/bin"})
    review["request"]["object"]["spec"]["volumes"].append({"name": "mine", "emptyDir": {}})
    response = webhook.review(review)
    assert response["allowed"] is False
    assert "something is already mounted at /oscar/bin" in response["status"]["message"]


@pytest.mark.parametrize("body, reason", [
    (b"this is not json", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}}).encode(),
     "expected apiVersion admission.k8s.io/v1"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "request: missing"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}).encode(),
     "request.uid: missing"),
])
def test_malformed_reviews_are_answered_not_crashed_on(webhook, body, reason):
    response = webhook.post(body)
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["allowed"] is False
    assert reason in answer["status"]["message"]


@pytest.mark.parametrize("mutate, reason", [
    (lambda pod: pod.update(spec="nonsense"), "request.object: expected a Pod with a spec"),
    (lambda pod: pod["spec"].update(containers="cowsay"), "spec.containers: expected a list of objects"),
    (lambda pod: pod["spec"]["containers"][0].update(env={"a": "b"}), "containers[].env: expected a list"),
    (lambda pod: pod["spec"].update(containers=[]), "spec.containers: the pod has no container"),
])
def test_malformed_pods_are_refused_with_the_reason(webhook, mutate, reason):
    review = load("annotated-pod.json")
    mutate(review["request"]["object"])
    response = webhook.review(review)
    assert response["uid"] == review["request"]["uid"]
    assert response["allowed"] is False
    assert reason in response["status"]["message"]
    assert webhook.review(load("plain-pod.json"))["allowed"] is True, "the server keeps working"
