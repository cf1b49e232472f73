"""Moving files between the invocation's temp dirs and storage providers.

Which object to fetch and which outputs go where is decided here, once, for
every provider: a provider only ever sees plain `download`/`upload` calls.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Tuple

from faassupervisor.config.service import ServiceConfig, StoragePath
from faassupervisor.errors import StorageFailure
from faassupervisor.events.storage import StorageEvent, match_input
from faassupervisor.paths import safe_join, safe_relative
from faassupervisor.storage.registry import ProviderSet

log = logging.getLogger(__name__)


def event_input_path(event: StorageEvent, input_dir: Path) -> Path:
    """Where the event's object lands: its base name, sanitised, inside the input dir."""
    return safe_join(input_dir, safe_relative(event.key).name)


def fetch_event_object(event: StorageEvent, service: ServiceConfig, providers: ProviderSet, dest: Path) -> None:
    ref, _entry = match_input(service, event)
    provider = providers.get(ref)
    log.info("downloading %s/%s from %s", event.bucket, event.key, ref)
    try:
        provider.download(event.bucket, event.key, dest)
    except BaseException:
        dest.unlink(missing_ok=True)  # never hand the script half an object
        raise


def plan_uploads(output_dir: Path, outputs) -> List[Tuple[StoragePath, Path, str, str]]:
    """(output entry, local file, bucket, key) for every file each entry's filters select."""
    files = sorted(p for p in output_dir.rglob("*") if p.is_file())
    plan = []
    for entry in outputs:
        for path in files:
            relative = path.relative_to(output_dir).as_posix()
            if not entry.matches(relative):
                continue
            key = f"{entry.folder}/{relative}" if entry.folder else relative
            plan.append((entry, path, entry.bucket, key))
    return plan


def upload_outputs(output_dir: Path, service: ServiceConfig, providers: ProviderSet) -> int:
    """Upload every selected output; StorageFailure listing every file that did not arrive."""
    failures = []
    plan = plan_uploads(output_dir, service.output)
    for entry, path, bucket, key in plan:
        try:
            providers.get(entry.provider).upload(path, bucket, key)
            log.info("uploaded %s to %s %s/%s", path.name, entry.provider, bucket, key)
        except StorageFailure as err:
            failures.append(f"{path.relative_to(output_dir)} -> {entry.provider}:{bucket}/{key} ({err})")
    if failures:
        raise StorageFailure(f"{len(failures)} of {len(plan)} uploads failed: " + "; ".join(failures))
    return len(plan)
