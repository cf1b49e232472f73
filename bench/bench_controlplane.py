"""Control plane speed: rendering the seeds' FDLs, and admission reviews through the webhook over HTTPS.

No baseline: OSCAR builds these objects inside its Go API server and the
original faas-supervisor had no control plane. What matters is that
`render` is quick enough to pipe into kubectl and that the webhook stays far
below the API server's admission timeout (5 s as rendered, 10 s by default).
"""

from __future__ import annotations

import datetime
import ipaddress
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "controlplane" / "fdl"
REVIEW = ROOT / "tests" / "controlplane" / "admission" / "annotated-pod.json"


def _ms(samples):
    return f"{statistics.median(samples) * 1000:.1f}"


def _p99(samples):
    ordered = sorted(samples)
    return f"{ordered[int(len(ordered) * 0.99) - 1] * 1000:.1f}"


def bench_render(rows):
    from faassupervisor.controlplane.options import RenderOptions
    from faassupervisor.controlplane.render import render_fdl
    from faassupervisor.controlplane.yaml_output import dump_all

    for seed in sorted(p.name for p in SEEDS.iterdir()):
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            dump_all(render_fdl(SEEDS / seed / "fdl.yaml", RenderOptions()))
            samples.append(time.perf_counter() - start)
        rows.append((f"render {seed} (in process, median of 30)", _ms(samples), ""))
    command = [str(Path(sys.executable).with_name("faas-supervisor")), "render", str(SEEDS / "cowsay" / "fdl.yaml")]
    samples = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    rows.append(("`faas-supervisor render` cowsay, whole process (median of 10)", _ms(samples), ""))


def _certificate(directory: Path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    (directory / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return directory / "c.pem", directory / "k.pem"


def bench_webhook(rows):
    import requests

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = _certificate(Path(tmp))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [str(Path(sys.executable).with_name("faas-supervisor")), "inject", "--host", "127.0.0.1",
                   "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key), "--workers", "2"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"https://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"{url}/healthz", verify=str(cert), timeout=2)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            body = REVIEW.read_bytes()
            with requests.Session() as session:
                samples = []
                for _ in range(300):
                    start = time.perf_counter()
                    # verify per request: a session's own `verify` loses to REQUESTS_CA_BUNDLE.
                    answer = session.post(f"{url}/mutate", data=body, timeout=10, verify=str(cert)).json()
                    samples.append(time.perf_counter() - start)
                    assert answer["response"]["allowed"]
            rows.append(("webhook review of an annotated pod, HTTPS keep-alive (300 sequential)",
                         _ms(samples), _p99(samples)))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)


def main() -> None:
    rows = []
    bench_render(rows)
    bench_webhook(rows)
    print("| control plane | median ms | p99 ms |")
    print("|---|---:|---:|")
    for name, median, p99 in rows:
        print(f"| {name} | {median} | {p99} |")


if __name__ == "__main__":
    main()
