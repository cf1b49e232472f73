"""The control plane's subcommands of `faas-supervisor`: render, render-job, render-webhook, inject.

`add_subcommands(subparsers)` is called by `faassupervisor.cli`; each
subcommand sets `func(args) -> int`. Options are parsed here into the typed
option objects the renderers take; nothing is passed through the environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from faassupervisor.controlplane import layout
from faassupervisor.errors import BadConfig


def add_subcommands(subparsers) -> None:
    fdl = argparse.ArgumentParser(add_help=False)
    fdl.add_argument("fdl", type=Path, metavar="FDL.yaml", help="an OSCAR FDL file (scripts relative to it)")
    fdl.add_argument("--cluster", metavar="ID", help="only the services declared for this cluster id")
    deploy = argparse.ArgumentParser(add_help=False)
    _add_deploy_options(deploy)
    watchdog = argparse.ArgumentParser(add_help=False)
    _add_watchdog_options(watchdog)

    render = subparsers.add_parser(
        "render", parents=[fdl, deploy, watchdog],
        help="print the Kubernetes/Knative objects of every service of an FDL (for kubectl apply -f -)",
    )
    visibility = render.add_mutually_exclusive_group()
    visibility.add_argument("--cluster-local", action="store_true",
                            help="Knative Services reachable only inside the cluster, as OSCAR deploys them (default)")
    visibility.add_argument("--public", action="store_true",
                            help="external Knative Services; the watchdog then asks for the token on every path")
    render.add_argument("--ingress-class", default="nginx", help="IngressClass of exposed services (default: nginx)")
    render.add_argument("--ingress-host", help="host name of exposed services' Ingress (TLS Secret of the same name)")
    render.add_argument("--cors-allow-origin", default=layout.OSCAR_CORS_ORIGINS, metavar="ORIGINS",
                        help="comma-separated origins the exposed services' Ingress allows (default: OSCAR's)")
    render.add_argument("--oscar-version", type=int, choices=(3, 4), default=4,
                        help="name exposed Deployments as this OSCAR does: 3 → <name>-dlp, 4 → <name>-dpl (default)")
    render.set_defaults(func=render_command)

    job = subparsers.add_parser(
        "render-job", parents=[fdl, deploy],
        help="print the Job that processes one storage event (asynchronous invocation)",
    )
    job.add_argument("--event", required=True, metavar="EVENT.json", help="the event (a file, or - for stdin)")
    job.add_argument("--service", help="which service of the FDL (required when it declares several)")
    job.add_argument("--ttl", type=_non_negative, default=3600, metavar="SECONDS",
                     help="delete the finished Job after this long (default: 3600)")
    job.set_defaults(func=render_job_command)

    hook = subparsers.add_parser("render-webhook", help="print the admission webhook's Deployment, Service and configuration")
    hook.add_argument("--namespace", default="faas-supervisor", help="where the webhook runs (default: faas-supervisor)")
    hook.add_argument("--image", default=layout.DEFAULT_WEBHOOK_IMAGE,
                      help=f"an image with faas-supervisor installed (default: {layout.DEFAULT_WEBHOOK_IMAGE})")
    _add_injection_options(hook)
    hook.add_argument("--tls-secret", default="faas-supervisor-webhook-tls",
                      help="Secret (type kubernetes.io/tls) holding the webhook's certificate")
    hook.add_argument("--ca-bundle", type=Path, metavar="CA.pem",
                      help="CA that signed the certificate (default: let cert-manager inject it)")
    hook.add_argument("--all-namespaces", action="store_true",
                      help="send every namespace's pods (but the system ones) to the webhook, not only"
                           " namespaces labelled faas-supervisor.io/injection=enabled")
    hook.set_defaults(func=render_webhook_command)

    inject = subparsers.add_parser("inject", parents=[watchdog],
                                   help="serve the mutating admission webhook (HTTPS) that injects the runtime")
    inject.add_argument("--port", type=int, required=True)
    inject.add_argument("--tls-cert", type=Path, required=True, metavar="CERT.pem")
    inject.add_argument("--tls-key", type=Path, required=True, metavar="KEY.pem")
    inject.add_argument("--host", default="0.0.0.0", help="address to bind (default: 0.0.0.0)")
    inject.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2)")
    _add_injection_options(inject)
    inject.set_defaults(func=inject_command)


def _add_injection_options(parser) -> None:
    parser.add_argument("--injection", choices=layout.INJECTION_MODES, default="initcontainer",
                        help="initcontainer: copy the runtime from the kit image into an emptyDir (default);"
                             f" pvc: mount OSCAR's {layout.OSCAR_PVC} read-only")
    parser.add_argument("--kit-image", default=layout.DEFAULT_KIT_IMAGE,
                        help=f"image of the init container (default: {layout.DEFAULT_KIT_IMAGE})")


def _add_deploy_options(parser) -> None:
    parser.add_argument("--namespace", help="namespace of every object (default: kubectl's current one)")
    _add_injection_options(parser)
    parser.add_argument("--minio-secret", metavar="NAME",
                        help="Secret with accessKey/secretKey mounted at /var/run/secrets/providers/minio.default"
                             f" (default: OSCAR's, {layout.OSCAR_MINIO_SECRET!r} or the event's user; or"
                             " <name>-minio rendered from the FDL's minio.default keys)")
    parser.add_argument("--minio-endpoint", default=layout.OSCAR_MINIO_ENDPOINT, metavar="URL",
                        help=f"minio.default's endpoint when the FDL has none (default: {layout.OSCAR_MINIO_ENDPOINT})")


def _add_watchdog_options(parser) -> None:
    group = parser.add_argument_group("watchdog settings of synchronous pods")
    group.add_argument("--read-timeout", type=_positive, default=300, metavar="SECONDS")
    group.add_argument("--write-timeout", type=_positive, default=300, metavar="SECONDS")
    group.add_argument("--exec-timeout", type=_non_negative, default=0, metavar="SECONDS", help="0: no limit")
    group.add_argument("--max-inflight", type=_non_negative, default=1, metavar="N",
                       help="concurrent invocations per pod (default: 1, as OSCAR)")
    group.add_argument("--healthcheck-interval", type=_non_negative, default=5, metavar="SECONDS",
                       help="how long a stopping pod answers 503 on /_/health before it exits (default: 5, as OSCAR)")


def _injection(args):
    from faassupervisor.controlplane.injection import Injection

    return Injection(mode=args.injection, kit_image=args.kit_image)


def _write(text: str) -> None:
    """Print rendered YAML; say once when it names the default kit image, which no registry serves."""
    sys.stdout.write(text)
    if f"image: {layout.DEFAULT_KIT_IMAGE}\n" in text:
        logging.getLogger(__name__).warning(
            "the kit image %s is what `make images` builds, not a published image: push it where the cluster"
            " pulls from and pass --kit-image REGISTRY/faas-supervisor-kit:TAG", layout.DEFAULT_KIT_IMAGE)


def _watchdog(args):
    from faassupervisor.controlplane.options import WatchdogSettings

    return WatchdogSettings(
        read_timeout=args.read_timeout, write_timeout=args.write_timeout,
        exec_timeout=args.exec_timeout, max_inflight=args.max_inflight,
        healthcheck_interval=args.healthcheck_interval,
    )


def _minio(args) -> dict:
    from faassupervisor.controlplane.checks import check_object_name

    if args.minio_secret is not None:
        check_object_name(args.minio_secret, "--minio-secret")
    return {"minio_secret": args.minio_secret, "minio_endpoint": args.minio_endpoint}


def render_command(args) -> int:
    from faassupervisor.controlplane.options import RenderOptions
    from faassupervisor.controlplane.render import render_fdl
    from faassupervisor.controlplane.yaml_output import dump_all

    options = RenderOptions(
        namespace=args.namespace, injection=_injection(args), watchdog=_watchdog(args), public=args.public,
        ingress_class=args.ingress_class, ingress_host=args.ingress_host, cors_allow_origin=args.cors_allow_origin,
        oscar_version=args.oscar_version, **_minio(args),
    )
    _write(dump_all(render_fdl(args.fdl, options, args.cluster)))
    return 0


def render_job_command(args) -> int:
    from faassupervisor.controlplane.job import parse_event
    from faassupervisor.controlplane.options import RenderOptions
    from faassupervisor.controlplane.render import render_job
    from faassupervisor.controlplane.yaml_output import dump_all

    if str(args.event) == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(args.event).read_bytes()
        except OSError as err:
            raise BadConfig(f"--event: cannot read {args.event}: {err.strerror}") from None
    event = parse_event(data, "--event")
    options = RenderOptions(namespace=args.namespace, injection=_injection(args), job_ttl_seconds=args.ttl,
                            **_minio(args))
    _write(dump_all([render_job(args.fdl, options, event, args.service, args.cluster)]))
    return 0


def render_webhook_command(args) -> int:
    from faassupervisor.controlplane.checks import check_object_name
    from faassupervisor.controlplane.webhook_manifests import WebhookManifestOptions, webhook_objects
    from faassupervisor.controlplane.yaml_output import dump_all

    check_object_name(args.namespace, "--namespace")
    check_object_name(args.tls_secret, "--tls-secret")
    ca_bundle = None
    if args.ca_bundle is not None:
        try:
            ca_bundle = args.ca_bundle.read_bytes()
        except OSError as err:
            raise BadConfig(f"--ca-bundle: cannot read {args.ca_bundle}: {err.strerror}") from None
        if b"-----BEGIN CERTIFICATE-----" not in ca_bundle:
            raise BadConfig(f"--ca-bundle: {args.ca_bundle} holds no PEM certificate")
    options = WebhookManifestOptions(
        namespace=args.namespace, image=args.image, injection=_injection(args), tls_secret=args.tls_secret,
        ca_bundle=ca_bundle, all_namespaces=args.all_namespaces,
    )
    sys.stdout.write(dump_all(webhook_objects(options)))
    return 0


def inject_command(args) -> int:
    from faassupervisor.controlplane.webhook import WebhookSettings
    from faassupervisor.controlplane.webhook_server import ServerSettings, serve

    server = ServerSettings(port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key, host=args.host,
                            workers=args.workers)
    serve(server, WebhookSettings(injection=_injection(args), watchdog=_watchdog(args)))
    return 0


def _non_negative(text: str) -> int:
    try:
        value = int(text.rstrip("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value
