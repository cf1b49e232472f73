"""Each storage provider against a real server on loopback: round trips, odd keys, failures, config errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

import pytest

from faassupervisor.config.service import ServiceConfig
from faassupervisor.errors import BadConfig, BadInput, StorageFailure
from faassupervisor.storage.provider import ProviderContext, StorageProvider
from faassupervisor.storage.registry import ProviderSet, provider_class
from faassupervisor.storage.retry import TransientStorageError
from tests.storage_servers import (  # noqa: F401 - fixtures
    ACCESS_KEY,
    ONEDATA_SPACE,
    ONEDATA_TOKEN,
    SECRET_KEY,
    WEBDAV_LOGIN,
    WEBDAV_PASSWORD,
    FaultProxy,
    free_port,
    onedata_server,
    s3_server,
    webdav_server,
)

ODD_KEYS = [
    "plain.txt",
    "dir/sub dir/with space+plus.txt",
    "ünïcödé/日本語 ファイル.bin",
    "percent%20literal&amp=1#hash?.txt",
]


@dataclasses.dataclass
class Store:
    """A provider plus a way to look at what its server really holds."""

    provider: StorageProvider
    bucket: str
    stored: Callable[[str], bytes]  # key -> the bytes on the server, read without the provider


def _context(tmp_path: Path) -> ProviderContext:
    return ProviderContext(storage_dir=tmp_path / "local", secrets_dir=tmp_path / "secrets")


def _build(type_name: str, section: dict, tmp_path: Path, provider_id: str = "test") -> StorageProvider:
    return provider_class(type_name).from_config(provider_id, section, _context(tmp_path))


@pytest.fixture(params=["minio", "s3", "webdav", "onedata", "local"])
def store(request, tmp_path) -> Store:
    kind = request.param
    if kind in ("minio", "s3"):
        s3 = request.getfixturevalue("s3_server")
        section = {"endpoint": s3.url, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
        bucket = s3.bucket(kind)
        return Store(_build(kind, section, tmp_path), bucket, lambda key: s3.read(bucket, key))
    bucket = f"bucket-{uuid.uuid4().hex[:8]}"
    if kind == "webdav":
        dav = request.getfixturevalue("webdav_server")
        section = {"hostname": dav.url, "login": WEBDAV_LOGIN, "password": WEBDAV_PASSWORD}
        return Store(_build(kind, section, tmp_path), bucket, lambda key: (dav.root / bucket / key).read_bytes())
    if kind == "onedata":
        one = request.getfixturevalue("onedata_server")
        section = {"oneprovider_host": one.url, "token": ONEDATA_TOKEN, "space": ONEDATA_SPACE}
        return Store(_build(kind, section, tmp_path), bucket, lambda key: (one.root / bucket / key).read_bytes())
    root = tmp_path / "local-root"
    return Store(_build("local", {"path": str(root)}, tmp_path), bucket, lambda key: (root / bucket / key).read_bytes())


@pytest.mark.parametrize("key", ODD_KEYS)
def test_round_trip_keeps_bytes_and_odd_keys(store, tmp_path, key):
    data = os.urandom(3000) + key.encode()
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    store.provider.upload(src, store.bucket, key)
    assert store.stored(key) == data  # on the server, under exactly that key
    assert store.provider.size(store.bucket, key) == len(data)
    dest = tmp_path / "dest.bin"
    store.provider.download(store.bucket, key, dest)
    assert dest.read_bytes() == data


def test_upload_replaces_an_existing_object(store, tmp_path):
    src = tmp_path / "src.txt"
    for content in (b"first version, longer", b"second"):
        src.write_bytes(content)
        store.provider.upload(src, store.bucket, "same/key.txt")
    assert store.stored("same/key.txt") == b"second"


def test_missing_object_is_none_for_size_and_a_failure_naming_it_for_download(store, tmp_path):
    src = tmp_path / "src.txt"
    src.write_bytes(b"x")
    store.provider.upload(src, store.bucket, "present.txt")  # the bucket exists; the key does not
    assert store.provider.size(store.bucket, "absent/file.txt") is None
    with pytest.raises(StorageFailure) as caught:
        store.provider.download(store.bucket, "absent/file.txt", tmp_path / "dest")
    assert not isinstance(caught.value, TransientStorageError)  # a missing object is not retried
    message = str(caught.value)
    assert store.provider.ref in message and f"{store.bucket}/absent/file.txt" in message
    assert "not found" in message


@pytest.mark.parametrize(
    "kind, section",
    [
        ("minio", {"endpoint": "http://127.0.0.1:{port}", "access_key": "a", "secret_key": "b", "region": "us-east-1"}),
        ("s3", {"endpoint": "http://127.0.0.1:{port}", "access_key": "a", "secret_key": "b"}),
        ("webdav", {"hostname": "http://127.0.0.1:{port}", "login": "a", "password": "b"}),
        ("onedata", {"oneprovider_host": "http://127.0.0.1:{port}", "token": "t", "space": "s"}),
    ],
)
def test_unreachable_endpoint_is_a_transient_failure_naming_the_object(kind, section, tmp_path):
    port = free_port()
    section = {k: v.format(port=port) for k, v in section.items()}
    provider = _build(kind, section, tmp_path)
    src = tmp_path / "src.txt"
    src.write_bytes(b"x")
    for call in (lambda: provider.upload(src, "bucket", "a/b.txt"), lambda: provider.size("bucket", "a/b.txt")):
        with pytest.raises(TransientStorageError) as caught:
            call()
        assert f"{kind}.test" in str(caught.value) and "bucket/a/b.txt" in str(caught.value)
        assert f"127.0.0.1:{port}" in str(caught.value)


def test_minio_and_s3_translate_the_same_server_answers_into_the_same_failures(s3_server, tmp_path):
    """One translation for both SDKs: throttling is transient and said in the same words; a missing bucket is final."""
    bucket = s3_server.bucket()
    src = tmp_path / "src.txt"
    src.write_bytes(b"x")
    proxy = FaultProxy(s3_server.url, mode="slowdown")
    proxy.fail_matching(r"/k\.txt$", methods=("PUT",))  # every upload is throttled
    try:
        seen = {}
        for kind in ("minio", "s3"):
            provider = _build(kind, {"endpoint": proxy.url, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
                                     "region": "us-east-1"}, tmp_path)
            with pytest.raises(TransientStorageError) as throttled:
                provider.upload(src, bucket, "k.txt")
            with pytest.raises(StorageFailure) as missing:
                provider.download("no-such-bucket-here", "k.txt", tmp_path / "dest")
            assert not isinstance(missing.value, TransientStorageError)
            seen[kind] = [str(err.value).replace(f"{kind}.test", "TYPE.test") for err in (throttled, missing)]
    finally:
        proxy.stop()
    # (boto3 downloads start with a HEAD, whose 404 has no body to tell a missing bucket from a missing key)
    for kind in ("minio", "s3"):
        assert seen[kind][1].startswith("TYPE.test: cannot download no-such-bucket-here/k.txt: ")
        assert seen[kind][1].endswith(" not found")
    assert "(HTTP 503)" in seen["minio"][0] and seen["minio"][0] == seen["s3"][0]


@pytest.mark.parametrize(
    "kind, section, wrong",
    [
        ("webdav", {"login": WEBDAV_LOGIN, "password": "wrong"}, "access denied"),
        ("onedata", {"token": "wrong", "space": ONEDATA_SPACE}, "access denied"),
    ],
)
def test_wrong_credentials_fail_without_retrying(kind, section, wrong, request, tmp_path):
    if kind == "webdav":
        section = {**section, "hostname": request.getfixturevalue("webdav_server").url}
    else:
        section = {**section, "oneprovider_host": request.getfixturevalue("onedata_server").url}
    provider = _build(kind, section, tmp_path)
    src = tmp_path / "src.txt"
    src.write_bytes(b"x")
    with pytest.raises(StorageFailure) as caught:
        provider.upload(src, "bucket", "k.txt")
    assert not isinstance(caught.value, TransientStorageError)
    assert wrong in str(caught.value)


@pytest.mark.parametrize("kind", ["webdav", "onedata"])
def test_dot_dot_in_a_key_never_climbs_out_of_the_bucket(kind, request, tmp_path):
    if kind == "webdav":
        server = request.getfixturevalue("webdav_server")
        section = {"hostname": server.url, "login": WEBDAV_LOGIN, "password": WEBDAV_PASSWORD}
    else:
        server = request.getfixturevalue("onedata_server")
        section = {"oneprovider_host": server.url, "token": ONEDATA_TOKEN, "space": ONEDATA_SPACE}
    provider = _build(kind, section, tmp_path)
    with pytest.raises(BadInput, match="'..' segment"):
        provider.download("bucket", "../../etc/passwd", tmp_path / "dest")


# --- configuration: each provider validates its own section ---------------------------------


@pytest.mark.parametrize(
    "kind, section, missing",
    [
        ("s3", {"secret_key": "s"}, "access_key"),
        ("s3", {"access_key": "a"}, "secret_key"),
        ("webdav", {"hostname": "h", "login": "l"}, "password"),
        ("webdav", {"login": "l", "password": "p"}, "hostname"),
        ("onedata", {"oneprovider_host": "h", "token": "t"}, "space"),
        ("onedata", {"oneprovider_host": "h", "space": "s"}, "token"),
        ("minio", {"access_key": "a"}, "secret_key"),
        ("minio", {"secret_key": "s"}, "access_key"),
    ],
)
def test_missing_credentials_name_the_provider_and_the_key(kind, section, missing, tmp_path):
    with pytest.raises(BadConfig) as caught:
        _build(kind, section, tmp_path, provider_id="mine")
    assert f"storage_providers.{kind}.mine" in str(caught.value)
    assert missing in str(caught.value)


@pytest.mark.parametrize(
    "kind, section, field",
    [
        ("minio", {"endpoint": "ftp://x", "access_key": "a", "secret_key": "s"}, "endpoint"),
        ("minio", {"endpoint": "http://x:9000/some/path", "access_key": "a", "secret_key": "s"}, "endpoint"),
        ("minio", {"verify": "sometimes", "access_key": "a", "secret_key": "s"}, "verify"),
        ("s3", {"endpoint": "not a url", "access_key": "a", "secret_key": "s"}, "endpoint"),
        ("webdav", {"hostname": "ftp://h", "login": "l", "password": "p"}, "hostname"),
    ],
)
def test_invalid_values_name_the_field(kind, section, field, tmp_path):
    with pytest.raises(BadConfig, match=rf"storage_providers\.{kind}\.p\.{field}"):
        _build(kind, section, tmp_path, provider_id="p")


def test_minio_default_credentials_come_from_the_mounted_secret_files(s3_server, tmp_path):
    secrets = tmp_path / "secrets" / "minio.default"
    secrets.mkdir(parents=True)
    (secrets / "accessKey").write_text(ACCESS_KEY + "\n")
    (secrets / "secretKey").write_text(SECRET_KEY + "\n")
    bucket = s3_server.bucket("secrets")
    provider = _build("minio", {"endpoint": s3_server.url}, tmp_path, provider_id="default")
    src = tmp_path / "src.txt"
    src.write_bytes(b"via mounted secrets")
    provider.upload(src, bucket, "k.txt")
    assert s3_server.read(bucket, "k.txt") == b"via mounted secrets"
    # The SDK signs with what it was given: check the files' values (newline stripped) were used.
    assert (provider._access_key, provider._secret_key) == (ACCESS_KEY, SECRET_KEY)


def test_minio_default_without_section_or_secret_files_fails_naming_both(tmp_path):
    service = ServiceConfig.from_mapping({"output": [{"storage_provider": "minio.default", "path": "out"}]})
    providers = ProviderSet(service, _context(tmp_path))
    with pytest.raises(BadConfig) as caught:
        providers.validate()
    message = str(caught.value)
    assert "storage_providers.minio.default: access_key is missing" in message
    assert f"no secret directory {tmp_path / 'secrets' / 'minio.default'}/" in message


def _mount(tmp_path: Path, provider_id: str, **files: str) -> Path:
    folder = tmp_path / "secrets" / f"minio.{provider_id}"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("placeholder", ["hidden", "HIDDEN ", "", None])
def test_mounted_secret_files_win_over_oscars_placeholder_keys(tmp_path, placeholder):
    """OSCAR writes `hidden` into function_config.yaml and mounts the real keys (create.go, job.go)."""
    _mount(tmp_path, "default", accessKey=ACCESS_KEY + "\n", secretKey=SECRET_KEY)
    section = {"endpoint": "http://127.0.0.1:9", "access_key": placeholder, "secret_key": placeholder}
    provider = _build("minio", section, tmp_path, provider_id="default")
    assert (provider._access_key, provider._secret_key) == (ACCESS_KEY, SECRET_KEY)


def test_real_keys_in_the_section_are_used_as_they_are_even_with_a_secret_directory(tmp_path):
    _mount(tmp_path, "default", accessKey="from-file", secretKey="from-file")
    provider = _build("minio", {"access_key": "real-a", "secret_key": "real-s"}, tmp_path, provider_id="default")
    assert (provider._access_key, provider._secret_key) == ("real-a", "real-s")


def test_placeholder_keys_without_a_secret_directory_fail_naming_provider_and_path(tmp_path):
    with pytest.raises(BadConfig) as caught:
        _build("minio", {"access_key": "hidden", "secret_key": "hidden"}, tmp_path, provider_id="default")
    assert str(caught.value) == (
        "storage_providers.minio.default: access_key is the placeholder 'hidden' and there is no "
        f"secret directory {tmp_path / 'secrets' / 'minio.default'}/"
    )


def test_a_secret_directory_without_one_of_its_files_names_that_file(tmp_path):
    folder = _mount(tmp_path, "default", accessKey=ACCESS_KEY, secretKey="  \n")
    with pytest.raises(BadConfig, match=f"secret_key is the placeholder 'hidden' and {folder / 'secretKey'} is missing or empty"):
        _build("minio", {"access_key": "hidden", "secret_key": "hidden"}, tmp_path, provider_id="default")


def test_any_minio_id_reads_its_own_secret_directory(tmp_path):
    _mount(tmp_path, "cluster-b", accessKey="b-access", secretKey="b-secret")
    provider = _build("minio", {"access_key": "hidden", "secret_key": "hidden"}, tmp_path, provider_id="cluster-b")
    assert (provider._access_key, provider._secret_key) == ("b-access", "b-secret")


def test_minio_default_endpoint_is_oscars_in_cluster_minio(tmp_path):
    provider = _build("minio", {"access_key": "a", "secret_key": "s"}, tmp_path)
    assert (provider.endpoint, provider.secure) == ("minio-service.minio:9000", False)


def test_validating_providers_imports_no_sdk(tmp_path):
    """Start-up validates every provider; only moving an object may import boto3, minio or requests."""
    code = """
import sys
from pathlib import Path
from faassupervisor.config.service import ServiceConfig
from faassupervisor.storage.provider import ProviderContext
from faassupervisor.storage.registry import ProviderSet
service = ServiceConfig.from_mapping({
    "output": [{"storage_provider": f"{t}.x", "path": "b/f"} for t in ("minio", "s3", "webdav", "onedata")],
    "storage_providers": {
        "minio": {"x": {"access_key": "a", "secret_key": "s"}},
        "s3": {"x": {"access_key": "a", "secret_key": "s"}},
        "webdav": {"x": {"hostname": "h", "login": "l", "password": "p"}},
        "onedata": {"x": {"oneprovider_host": "h", "token": "t", "space": "s"}},
    },
})
ProviderSet(service, ProviderContext(Path("/tmp"), Path("/nonexistent"))).validate()
print(sorted(m for m in ("boto3", "botocore", "minio", "requests", "urllib3") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
