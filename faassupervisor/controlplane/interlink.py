"""`interlink_node_name`: the pod placed on an interLink virtual node (pkg/types/interlink.go).

OSCAR pins the pod to the node (`kubernetes.io/hostname`), tolerates the
virtual node's taint and uses the cluster's DNS; its Jobs run with
`restartPolicy: OnFailure` and start the supervisor through the shell with the
event base64-encoded in `EVENT` (`echo $EVENT | base64 -d | supervisor`), since
the remote runtime passes variables through a shell. The runtime is always
copied in by the init container: a virtual node cannot mount the cluster's PVC.
"""

from __future__ import annotations

import base64
from typing import Any, Dict, List, Tuple

from faassupervisor.controlplane import layout

NODE_SELECTOR_KEY = "kubernetes.io/hostname"
TOLERATION_KEY = "virtual-node.interlink/no-schedule"
JOB_RESTART_POLICY = "OnFailure"


def place_on_node(spec: Dict[str, Any], node: str) -> None:
    spec["nodeSelector"] = {NODE_SELECTOR_KEY: node}
    spec["tolerations"] = [{"key": TOLERATION_KEY, "operator": "Exists"}]
    spec["dnsPolicy"] = "ClusterFirst"


def job_command(event: str) -> Tuple[List[str], str]:
    """The container command and the `EVENT` value of an interLink Job."""
    encoded = base64.b64encode(event.encode()).decode()
    return ["/bin/sh", "-c", f"echo $EVENT | base64 -d | {layout.SUPERVISOR}"], encoded
