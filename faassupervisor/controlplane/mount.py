"""`mount`: a storage provider's bucket mounted into the service container by an rclone sidecar.

As OSCAR renders it (pkg/backends/resources/mount.go): a privileged
`rclone-container` from `rclone/rclone`, a native sidecar (an init container
with `restartPolicy: Always`, so it keeps running beside the service and stops
with it), mounting `<provider>:<path>` at `/mnt/<path>` in an emptyDir shared
with the service container (mount propagation: Bidirectional in the sidecar,
HostToContainer in the service). Credentials of `minio.default` come from the
MinIO Secret; those of other providers from the config Secret, by reference
(OSCAR writes them as plain values in the pod spec).
"""

from __future__ import annotations

from typing import Any, Dict, List

from faassupervisor.controlplane import layout
from faassupervisor.controlplane.config_objects import MOUNT_KEYS, ServiceFiles
from faassupervisor.controlplane.options import RenderOptions
from faassupervisor.controlplane.oscar_fields import provider_section

SIDECAR = "rclone-container"
RCLONE_IMAGE = "rclone/rclone"
MOUNT_DIR = "/mnt"
VOLUME = "shared-data"
# rclone flags OSCAR passes to every mount.
_COMMON_FLAGS = "--dir-cache-time 10s --allow-other --allow-non-empty --umask 0007 --uid 1000 --gid 100 --no-checksum"
_REMOTES = {
    # type: (rclone remote created, variable holding the bucket/folder, `rclone config create` arguments)
    "minio": ("minio", "MINIO_BUCKET", "s3 provider=Minio access_key_id=$AWS_ACCESS_KEY_ID"
              " secret_access_key=$AWS_SECRET_ACCESS_KEY endpoint=$MINIO_ENDPOINT acl=public-read-write"),
    "s3": ("s3", "S3_BUCKET", "s3 provider=AWS endpoint=https://s3.amazonaws.com access_key_id=$AWS_ACCESS_KEY_ID"
           " secret_access_key=$AWS_SECRET_ACCESS_KEY region=$S3_REGION acl=public-read-write"),
    "webdav": ("dcache", "WEBDAV_FOLDER", "webdav url=$WEBDAV_HOSTNAME vendor=other user=$WEBDAV_LOGIN"
               " pass=$WEBDAV_PASSWORD"),
}


def add_sidecar(spec: Dict[str, Any], files: ServiceFiles, options: RenderOptions) -> None:
    """Add the rclone sidecar and the shared /mnt volume to a pod spec (in place)."""
    mount = files.bundle.fields.mount
    assert mount is not None  # called only for a service with a mount
    remote, folder_var, create = _REMOTES[mount.provider.type]
    folder = f'"$MNT_POINT/${folder_var}"'
    script = (f"mkdir -p {folder} && rclone config create {remote} {create} >/dev/null && "
              f"exec rclone mount \"{remote}:${folder_var}\" {folder} {_COMMON_FLAGS}")
    if mount.provider.type == "webdav":
        script += " --vfs-cache-mode full"
    if mount.options:
        script += " " + mount.options
    sidecar = {
        "name": SIDECAR,
        "image": RCLONE_IMAGE,
        "command": ["/bin/sh", "-c", script],
        "env": [{"name": "MNT_POINT", "value": MOUNT_DIR}] + _credentials(files, options),
        "restartPolicy": "Always",
        "securityContext": {"privileged": True},  # FUSE
        "volumeMounts": [{"name": VOLUME, "mountPath": MOUNT_DIR, "mountPropagation": "Bidirectional"}],
    }
    spec.setdefault("initContainers", []).append(sidecar)
    spec["volumes"].append({"name": VOLUME, "emptyDir": {}})
    spec["containers"][0]["volumeMounts"].append(
        {"name": VOLUME, "mountPath": MOUNT_DIR, "mountPropagation": "HostToContainer"})


def _credentials(files: ServiceFiles, options: RenderOptions) -> List[Dict[str, Any]]:
    bundle = files.bundle
    mount = bundle.fields.mount
    assert mount is not None  # add_sidecar's
    section = provider_section(bundle.config.raw, mount.provider)
    path = mount.path.strip("/")
    config_secret = layout.config_secret_name(bundle.name)

    def from_secret(name: str, secret: str, key: str) -> Dict[str, Any]:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}

    if mount.provider.type == "minio":
        env = [{"name": "MINIO_BUCKET", "value": path},
               {"name": "MINIO_ENDPOINT", "value": str(section.get("endpoint") or options.minio_endpoint)}]
        if mount.provider.id == "default":
            assert files.minio_secret is not None  # build() names one whenever minio.default is used
            return env + [from_secret("AWS_ACCESS_KEY_ID", files.minio_secret, layout.MINIO_ACCESS_KEY),
                          from_secret("AWS_SECRET_ACCESS_KEY", files.minio_secret, layout.MINIO_SECRET_KEY)]
        return env + [from_secret("AWS_ACCESS_KEY_ID", config_secret, MOUNT_KEYS["access_key"]),
                      from_secret("AWS_SECRET_ACCESS_KEY", config_secret, MOUNT_KEYS["secret_key"])]
    if mount.provider.type == "s3":
        return [{"name": "S3_BUCKET", "value": path},
                {"name": "S3_REGION", "value": str(section.get("region") or "us-east-1")},
                from_secret("AWS_ACCESS_KEY_ID", config_secret, MOUNT_KEYS["access_key"]),
                from_secret("AWS_SECRET_ACCESS_KEY", config_secret, MOUNT_KEYS["secret_key"])]
    return [{"name": "WEBDAV_FOLDER", "value": path},
            {"name": "WEBDAV_HOSTNAME", "value": str(section.get("hostname") or "")},
            {"name": "WEBDAV_LOGIN", "value": str(section.get("login") or "")},
            from_secret("WEBDAV_PASSWORD", config_secret, MOUNT_KEYS["password"])]
