"""OSCAR's own services, replayed with podman from the objects `faas-supervisor render` and `render-job` print.

- OSCAR's exposed nginx example (its script has no `#!` line): the rendered
  Deployment's container, command and probe as rendered, answers over HTTP.
- A Job rendered by `render-job` for a MinIO event: OSCAR's `minio` Secret
  mounted where the Job says, `hidden` keys in the config, a real S3 server
  standing in for MinIO; the object is read and the result stored.
The images are the only substitution: no registry is reachable here, so
`nginx` is Debian's nginx built locally, and the service image is the kit
tests' Python-free one.
"""

from __future__ import annotations


import pytest
import requests
import yaml

from tests.controlplane_validation import assert_valid
from tests.images.conftest import HERE, TEST_TAG, Engine, one_shot
from tests.images.rendering import PodReplay, deployment_pod, job_pod, render_job, render_service
from tests.storage_servers import ACCESS_KEY, SECRET_KEY, s3_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.images

EXAMPLES = HERE.parent / "controlplane" / "fdl"
NGINX_IMAGE = f"faas-supervisor-test-nginx:{TEST_TAG}"
SHOUT_IMAGE = f"faas-supervisor-test-shout:{TEST_TAG}"
# Debian's nginx laid out as the official image is (conf.d only), which OSCAR's nginx script expects.
NGINX_CONTAINERFILE = """\
FROM localhost/debian-base:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \\
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
"""


@pytest.fixture(scope="module")
def nginx_image(engine: Engine, tmp_path_factory) -> str:
    context = tmp_path_factory.mktemp("nginx-image")
    (context / "Dockerfile").write_text(NGINX_CONTAINERFILE)
    engine.build(NGINX_IMAGE, context)
    return NGINX_IMAGE


@pytest.fixture(scope="module")
def shout_image(engine: Engine) -> str:
    engine.build(SHOUT_IMAGE, HERE / "shout")
    return SHOUT_IMAGE


def test_oscars_exposed_nginx_example_runs_its_script_without_shebang_and_answers(
        engine, nginx_image, kit_image, containers, tmp_path):
    fdl = EXAMPLES / "oscar-nginx" / "fdl.yaml"
    script = (fdl.parent / "nginxscript.sh").read_bytes()
    assert not script.startswith(b"#!"), "the point of this replay: OSCAR's script has no #! line"
    objects = render_service(fdl, kit_image)
    assert_valid(objects)
    pod = deployment_pod(objects)
    replay = PodReplay(engine, objects, tmp_path / "pod")
    try:
        run = replay.container(pod)
        assert run.image == "nginx"
        box = containers(nginx_image, command=run.args, entrypoint=run.entrypoint, env=run.env,
                         mounts=run.mounts, port=run.port, wait=False)
        container = pod["containers"][0]
        probe = container["readinessProbe"]["httpGet"]
        port = next(p for p in container["ports"] if p["name"] == probe["port"])["containerPort"]
        assert port == run.port
        box.wait_ready(timeout=90, path=probe["path"])  # the rendered readiness probe, as the kubelet would
        answer = requests.get(f"{box.url}/", timeout=10)
    finally:
        replay.close()
    # The FDL's variable reached the server through the rendered environment.
    assert answer.text == "Welcome to nginx! Message: Hello World"


def test_job_rendered_by_render_job_reads_minio_with_the_mounted_secret(
        engine, shout_image, kit_image, s3_server, tmp_path):  # noqa: F811
    inbox, outbox = s3_server.bucket("inbox"), s3_server.bucket("outbox")
    s3_server.client.put_object(Bucket=inbox, Key="in/hello world.txt", Body=b"from minio\n")
    (tmp_path / "script.sh").write_bytes((HERE / "shout" / "script.sh").read_bytes())
    fdl = tmp_path / "fdl.yaml"
    fdl.write_text(yaml.safe_dump({"functions": {"oscar": [{"oscar-cluster": {
        "name": "shout-job", "image": shout_image, "script": "script.sh", "log_level": "INFO",
        "input": [{"storage_provider": "minio.default", "path": f"{inbox}/in"}],
        "output": [{"storage_provider": "minio.default", "path": f"{outbox}/out"}],
    }}]}}))
    event = {"EventName": "s3:ObjectCreated:Put", "Key": f"{inbox}/in/hello world.txt", "Records": [{
        "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-12-06T10:00:00.000Z",
        "eventName": "s3:ObjectCreated:Put",
        "s3": {"bucket": {"name": inbox}, "object": {"key": "in/hello+world.txt", "size": 11}},
    }]}
    objects = render_service(fdl, kit_image, minio_endpoint=s3_server.url)
    job = render_job(fdl, kit_image, event, minio_endpoint=s3_server.url)
    assert_valid(objects + [job])
    config = yaml.safe_load(next(o for o in objects if o["metadata"]["name"] == "shout-job-config")
                            ["stringData"]["function_config.yaml"])
    assert config["storage_providers"]["minio"]["default"]["access_key"] == "hidden"
    # The cluster's Secret of the service's owner, as OSCAR provisions it: not rendered, only mounted.
    replay = PodReplay(engine, objects + [job], tmp_path / "job",
                       cluster_secrets={"minio": {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}})
    try:
        pod = job_pod(job)
        for init in replay.init_containers(pod):
            one_shot(engine, init.image, *init.args, entrypoint=init.entrypoint, env=init.env, mounts=init.mounts)
        run = replay.container(pod)
        assert run.env["JOB_UUID"] == job["metadata"]["name"]
        assert any(m.endswith(":/var/run/secrets/providers/minio.default:ro") for m in run.mounts)
        # The host's loopback is where the S3 server listens: the Job's pod shares it.
        proc = one_shot(engine, run.image, *run.args, entrypoint=run.entrypoint, env=run.env, mounts=run.mounts,
                        options=["--network", "host"], check=False)
    finally:
        replay.close()
    assert proc.returncode == 0, proc.stderr.decode()
    assert s3_server.keys(outbox) == ["out/hello world.txt"]
    assert s3_server.read(outbox, "out/hello world.txt") == b"FROM MINIO\n"
