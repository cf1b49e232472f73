"""Where things live in a service pod: the runtime, the config, and the names that point at them.

One table for the renderer, the injector and the webhook, so a pod rendered by
`faas-supervisor render` and a pod patched by `faas-supervisor inject` look the
same. The paths are OSCAR's (`/oscar/bin`, `/oscar/config`), so images and
scripts written for OSCAR keep working.
"""

from __future__ import annotations

import re

from faassupervisor import __version__

RUNTIME_DIR = "/oscar/bin"
WATCHDOG = f"{RUNTIME_DIR}/fwatchdog"
SUPERVISOR = f"{RUNTIME_DIR}/supervisor"
CONFIG_DIR = "/oscar/config"
SCRIPT_FILE = "script.sh"
CONFIG_FILE = "function_config.yaml"

# What `make images` builds; a cluster pulls it once it is pushed somewhere it can reach
# (`--kit-image REGISTRY/faas-supervisor-kit:TAG`); `render` says so when this default is used.
DEFAULT_KIT_IMAGE = "faas-supervisor-kit:latest"
DEFAULT_WEBHOOK_IMAGE = f"ghcr.io/grycap/faas-supervisor:{__version__}"
KIT_INSTALL_DIR = "/target"  # where the init container sees the shared volume
OSCAR_PVC = "oscar-pvc"  # OSCAR's volume holding the runtime, for the `pvc` injection

RUNTIME_VOLUME = "oscar-bin"
CONFIG_VOLUME = "oscar-config"
INSTALL_CONTAINER = "faas-supervisor-install"
SERVICE_CONTAINER = "oscar-container"  # OSCAR's name for the service's container
WATCHDOG_PORT = 8080

INJECTION_MODES = ("initcontainer", "pvc")

# Annotations read (and one written) by the admission webhook.
ANNOTATION_PREFIX = "faas-supervisor.io/"
INJECT_ANNOTATION = ANNOTATION_PREFIX + "inject"
CONFIG_ANNOTATION = ANNOTATION_PREFIX + "config"  # a ConfigMap projected at /oscar/config
CONFIG_SECRET_ANNOTATION = ANNOTATION_PREFIX + "config-secret"  # a Secret projected beside it
CONTAINER_ANNOTATION = ANNOTATION_PREFIX + "container"  # which container runs the runtime
RUN_ANNOTATION = ANNOTATION_PREFIX + "run"  # watchdog | supervisor | none
INJECTION_ANNOTATION = ANNOTATION_PREFIX + "injection"  # initcontainer | pvc
STATUS_ANNOTATION = ANNOTATION_PREFIX + "status"  # written: "injected"
CONFIG_HASH_ANNOTATION = ANNOTATION_PREFIX + "config-hash"  # rolls pods when script/config/token change

MANAGED_BY = {"app.kubernetes.io/managed-by": "faas-supervisor"}
OSCAR_SERVICE_LABEL = "oscar_service"  # OSCAR finds a service's objects by this label


def config_map_name(service: str) -> str:
    return service


def config_secret_name(service: str) -> str:
    return f"{service}-config"


def format_uid(uid: str) -> str:
    """OSCAR's FormatUID (pkg/utils/auth/multitenancy.go): an EGI `<hex>@egi.eu` id without its domain."""
    match = re.search(r"[0-9a-z]+@", uid)
    return uid[:match.end() - 1] if match else uid


def minio_secret_name(service: str) -> str:
    return f"{service}-minio"


def user_secret_name(service: str) -> str:
    return service  # OSCAR's name for the Secret holding `environment.secrets`


def exposed_path(service: str) -> str:
    return f"/system/services/{service}/exposed"


def deployment_name(service: str, oscar_version: int) -> str:
    """OSCAR 3.x names an exposed service's Deployment `<name>-dlp`, 4.x `<name>-dpl` (resources/expose.go)."""
    return f"{service}-dlp" if oscar_version < 4 else f"{service}-dpl"


# MinIO credentials, where OSCAR mounts them in a Job (pkg/handlers/job.go) and the runtime reads them.
MINIO_SECRET_VOLUME = "minio-user"
MINIO_SECRET_DIR = "/var/run/secrets/providers/minio.default"
MINIO_ACCESS_KEY = "accessKey"
MINIO_SECRET_KEY = "secretKey"
OSCAR_MINIO_SECRET = "minio"  # the secret of the service's owner (job.go maps the owner to it)
OSCAR_MINIO_ENDPOINT = "https://minio-service.minio:9000"  # pkg/types/config.go MINIO_ENDPOINT default
HIDDEN = "hidden"  # OSCAR's placeholder for credentials that are mounted, not written (handlers/create.go)

OSCAR_CORS_ORIGINS = (  # pkg/types/config.go INGRESS_SERVICES_CORS_ALLOWED_ORIGINS default
    "https://dashboard.oscar.grycap.net,https://dashboard-devel.oscar.grycap.net,"
    "https://dashboard-demo.oscar.grycap.net,http://oscar.oscar.svc.cluster.local,http://host.docker.internal,"
    "http://localhost,http://localhost:5173"
)
OSCAR_CORS_METHODS = "GET, PUT, POST, DELETE, PATCH, HEAD"
OSCAR_CORS_HEADERS = "Authorization, Content-Type"
