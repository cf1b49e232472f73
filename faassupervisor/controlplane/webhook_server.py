"""`faas-supervisor inject`: the admission webhook's Flask app served by gunicorn over TLS.

The API server only talks HTTPS to webhooks, so TLS is not optional here: the
certificate and key come from files (a Secret mounted by the Deployment that
`render-webhook` prints).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict

from faassupervisor.controlplane.webhook import WebhookSettings, create_app
from faassupervisor.errors import BadConfig


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    port: int
    tls_cert: Path
    tls_key: Path
    host: str = "0.0.0.0"
    workers: int = 2

    def check(self) -> None:
        for field, path in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key)):
            if not path.is_file():
                raise BadConfig(f"{field}: {path} is not a file")
        if not 0 < self.port < 65536:
            raise BadConfig(f"--port: {self.port} is not a port number")
        if self.workers < 1:
            raise BadConfig(f"--workers: must be at least 1, got {self.workers}")


def serve(server: ServerSettings, webhook: WebhookSettings) -> None:
    """Serve until SIGTERM (gunicorn's arbiter handles signals and worker restarts)."""
    from gunicorn.app.base import BaseApplication  # deferred: only this command needs a server

    server.check()
    app = create_app(webhook)
    options: Dict[str, Any] = {
        "bind": f"{server.host}:{server.port}",
        "certfile": str(server.tls_cert),
        "keyfile": str(server.tls_key),
        "workers": server.workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
    }

    class WebhookApplication(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn >= 25.1 opens a control socket under $HOME, which a
                # non-root pod may not be able to write; the webhook needs none.
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return app

    WebhookApplication().run()
