"""Moving files between the invocation's temp dirs and storage providers.

Which object to fetch and which outputs go where is decided here, once, for
every provider: a provider only ever sees plain `size`/`download`/`upload`
calls. The care that keeps data from being lost lives here too, so that every
provider gets it:

- uploads run in parallel on a bounded pool, largest files first, with at most
  `LARGE_FILE_SLOTS` multipart-sized files at a time (memory stays bounded:
  see `faassupervisor.storage.provider.PART_SIZE`);
- transient failures are retried by `faassupervisor.storage.retry`'s policy;
- every upload is proven before it is reported as done (the PUT's ETag equal
  to the file's MD5, else the stored size from a HEAD), every download checked
  against the object's size before the script sees it; a download lands in a
  partial file renamed into place, so a failed one leaves nothing behind;
- long transfers log a progress line every `PROGRESS_INTERVAL` seconds;
- a final failure is one StorageFailure listing every file that did not arrive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

from faassupervisor import logs
from faassupervisor.config.service import ServiceConfig, StoragePath
from faassupervisor.errors import BadInput, StorageFailure, SupervisorError
from faassupervisor.events.storage import StorageEvent, match_input
from faassupervisor.paths import object_key_name, output_files, safe_join, safe_relative
from faassupervisor.storage.provider import MULTIPART_THRESHOLD, MiB, StorageProvider
from faassupervisor.storage.registry import ProviderSet
from faassupervisor.storage.retry import DEFAULT_POLICY, RetryPolicy, TransientStorageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import Callable, List, Optional, Tuple

log = logging.getLogger(__name__)

UPLOAD_WORKERS = 8  # files in flight at once
LARGE_FILE_SLOTS = 2  # of which at most this many are multipart-sized
PROGRESS_INTERVAL = 10.0  # seconds between progress lines while a transfer runs

_UNKNOWN = -1  # the provider cannot tell an object's size: the transfer goes unverified


def event_input_path(event: StorageEvent, input_dir: Path) -> Path:
    """Where the event's object lands: its base name, sanitised, inside the input dir."""
    return safe_join(input_dir, safe_relative(event.key).name)


def fetch_event_object(
    event: StorageEvent,
    service: ServiceConfig,
    providers: ProviderSet,
    dest: Path,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    progress_interval: float = PROGRESS_INTERVAL,
) -> int:
    """Download the event's object into `dest` from the matching input provider; its size in bytes."""
    ref, _entry = match_input(service, event)
    provider = providers.get(ref)
    log.info("downloading %s/%s from %s", event.bucket, event.key, ref)
    started = time.monotonic()
    size = download(provider, event.bucket, event.key, dest, policy=policy, progress_interval=progress_interval)
    log.info("downloaded %s/%s (%s) in %.1f s", event.bucket, event.key, _human(size), time.monotonic() - started)
    return size


def download(
    provider: StorageProvider,
    bucket: str,
    key: str,
    dest: Path,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    progress_interval: float = PROGRESS_INTERVAL,
) -> int:
    """Fetch `bucket/key` into `dest`, size-checked and retried; nothing is left at `dest` on failure.

    The partial file's name is short and fixed-length, not `dest`'s name with a suffix: a key whose
    last component is at the file system's limit (255 bytes on ext4, legal on S3) must still fit."""
    _check_name_length(dest, key)
    partial = dest.with_name(f".download-{os.getpid()}-{threading.get_ident() % 65536}.partial")
    expected: List[Optional[int]] = [_UNKNOWN]  # None: the object is not there

    def attempt() -> int:
        expected[0] = _stored_size(provider, bucket, key)
        if expected[0] is None:
            raise provider.failure("download", bucket, key, "object not found")
        try:
            provider.download(bucket, key, partial)
            got = partial.stat().st_size
        except BaseException:
            partial.unlink(missing_ok=True)  # never hand the script half an object
            raise
        if expected[0] != _UNKNOWN and got != expected[0]:
            partial.unlink(missing_ok=True)
            raise provider.failure("download", bucket, key, f"got {got} of {expected[0]} bytes", transient=True)
        os.replace(partial, dest)
        return got

    def describe() -> str:
        done = partial.stat().st_size if partial.exists() else 0
        total = f" of {_human(expected[0])}" if expected[0] not in (None, _UNKNOWN) else ""
        return f"downloading {bucket}/{key} from {provider.ref}: {_human(done)}{total}"

    try:
        with _ProgressLog(describe, progress_interval):
            return policy.call(attempt)
    except SupervisorError:
        raise
    except Exception as err:  # a provider bug must still fail as storage, naming the object
        log.debug("unexpected error downloading %s/%s", bucket, key, exc_info=True)
        raise StorageFailure(f"{provider.ref}: cannot download {bucket}/{key}: {type(err).__name__}: {err}") from None
    finally:
        partial.unlink(missing_ok=True)


def _check_name_length(dest: Path, key: str) -> None:
    """BadInput, naming the limit, when `dest`'s name is longer than its file system allows."""
    size = len(os.fsencode(dest.name))
    try:
        limit = os.pathconf(dest.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if size > limit:
        raise BadInput(
            f"object key {logs.shorten(key)!r}: its last component is {size} bytes, longer than"
            f" this file system allows for a file name ({limit} bytes)"
        )


MAX_KEY_BYTES = 1024  # S3's (and MinIO's) longest object key


def _key_for(relative: str, folder: str) -> str:
    """The object key of output `relative` under `folder`: UTF-8, as keys must be (a file name
    that is not is escaped, and the log says so); StorageFailure, in one line, when too long."""
    name = object_key_name(relative)
    if name != relative:
        log.warning("output %r uploaded as %r: object keys must be UTF-8", relative, name)
    key = f"{folder}/{name}" if folder else name
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise StorageFailure(
            f"output {logs.shorten(key)!r} cannot be uploaded: its key is {size} bytes, longer than"
            f" object stores allow ({MAX_KEY_BYTES} bytes)"
        )
    return key


def plan_uploads(
    output_dir: Path, outputs, files: Optional[List[Path]] = None
) -> List[Tuple[StoragePath, Path, str, str]]:
    """(output entry, local file, bucket, key) for every file each entry's filters select.

    `files`: the output dir's listing (`faassupervisor.paths.output_files`) when the caller
    already has it, so that what is uploaded is exactly what was answered; None: listed here.
    """
    if files is None:
        files = output_files(output_dir)
    plan = []
    for entry in outputs:
        for path in files:
            relative = path.relative_to(output_dir).as_posix()
            if not entry.matches(relative):
                continue
            key = _key_for(relative, entry.folder)
            plan.append((entry, path, entry.bucket, key))
    return plan


def upload_outputs(
    output_dir: Path,
    service: ServiceConfig,
    providers: ProviderSet,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    workers: int = UPLOAD_WORKERS,
    progress_interval: float = PROGRESS_INTERVAL,
    files: Optional[List[Path]] = None,
) -> int:
    """Upload every selected output (of `files`, if listed already); StorageFailure listing
    every file that did not arrive."""
    plan = plan_uploads(output_dir, service.output, files)
    if not plan:
        return 0
    # Providers are built here, in one thread: ProviderSet is not thread-safe.
    jobs = [
        _Upload(providers.get(entry.provider), path, path.relative_to(output_dir).as_posix(), bucket, key)
        for entry, path, bucket, key in plan
    ]
    jobs.sort(key=lambda job: job.size, reverse=True)  # the longest first: the pool drains evenly
    progress = _UploadProgress(jobs)
    log.info(
        "uploading %d file(s), %s, to %s",
        len(jobs),
        _human(progress.total_bytes),
        ", ".join(sorted({job.provider.ref for job in jobs})),
    )
    large_slots = threading.BoundedSemaphore(LARGE_FILE_SLOTS)
    failures: List[str] = []

    def run(job: "_Upload") -> None:
        slot = large_slots if job.size >= MULTIPART_THRESHOLD else contextlib.nullcontext()
        progress.started(job)
        try:
            with slot:
                _upload_verified(job, policy)
        except SupervisorError as err:
            failures.append(f"{job.relative} ({err})")
            log.error("%s", err)
        except Exception as err:  # a provider bug must still be reported against its file
            failures.append(f"{job.relative} ({job.provider.ref}: {type(err).__name__}: {err})")
            log.error("uploading %s to %s failed", job.relative, job.provider.ref, exc_info=True)
        else:
            log.info("uploaded %s to %s %s/%s (%s)", job.relative, job.provider.ref, job.bucket, job.key, _human(job.size))
        finally:
            progress.finished(job)

    from concurrent.futures import ThreadPoolExecutor  # deferred: tests/test_supervisor_startup.py

    with _ProgressLog(progress.describe, progress_interval):
        pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="upload")
        finished = False
        try:
            for future in [pool.submit(run, job) for job in jobs]:
                future.result()  # `run` handles its own errors; this only waits
            finished = True
        finally:
            # Interrupted (SIGTERM): start nothing new; uploads in flight end on their own timeouts.
            pool.shutdown(wait=finished, cancel_futures=True)
    if failures:
        raise StorageFailure(
            f"{len(failures)} of {len(jobs)} uploads did not arrive: " + "; ".join(sorted(failures))
        )
    log.info("uploaded %d file(s), %s, in %.1f s", len(jobs), _human(progress.total_bytes), progress.elapsed())
    return len(jobs)


class _Upload:
    """One file going to one output entry's provider."""

    def __init__(self, provider: StorageProvider, path: Path, relative: str, bucket: str, key: str):
        self.provider = provider
        self.path = path
        self.relative = relative
        self.bucket = bucket
        self.key = key
        self.size = path.stat().st_size


def _upload_verified(job: _Upload, policy: RetryPolicy) -> None:
    """Upload, then prove the stored object is the file; a mismatch is retried like any transient failure.

    The proof is the ETag the PUT answered with when it is the file's MD5 (no
    extra request), else the stored size from a HEAD: multipart uploads,
    encrypted buckets and non-S3 providers take that path.
    """
    provider, bucket, key = job.provider, job.bucket, job.key

    def attempt() -> None:
        etag = provider.upload(job.path, bucket, key)
        if isinstance(etag, str) and _is_md5_of(etag, job.path):
            return
        stored = _stored_size(provider, bucket, key)
        if stored == _UNKNOWN:
            return
        if stored is None:
            raise provider.failure("upload", bucket, key, "object missing right after upload", transient=True)
        if stored != job.size:
            raise provider.failure(
                "upload", bucket, key, f"stored {stored} bytes, the file has {job.size}", transient=True
            )

    policy.call(attempt)


def _is_md5_of(etag: str, path: Path) -> bool:
    """Whether an ETag is the MD5 of the file (multipart and encrypted uploads' ETags are not)."""
    etag = etag.strip('"').lower()
    if len(etag) != 32 or "-" in etag:
        return False
    import hashlib  # deferred: tests/test_supervisor_startup.py

    digest = hashlib.md5(usedforsecurity=False)  # an integrity check, not security
    with open(path, "rb") as src:
        for block in iter(lambda: src.read(1024 * 1024), b""):
            digest.update(block)  # hashlib releases the GIL: other uploads go on meanwhile
    return digest.hexdigest() == etag


def _stored_size(provider: StorageProvider, bucket: str, key: str) -> Optional[int]:
    try:
        return provider.size(bucket, key)
    except NotImplementedError:
        log.debug("%s cannot report object sizes: transfer of %s/%s not verified", provider.ref, bucket, key)
        return _UNKNOWN


class _UploadProgress:
    """Counts for the progress line: files and bytes done, files in flight."""

    def __init__(self, jobs: List[_Upload]):
        self.total_files = len(jobs)
        self.total_bytes = sum(job.size for job in jobs)
        self._done_files = 0
        self._done_bytes = 0
        self._in_flight: List[str] = []
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def started(self, job: _Upload) -> None:
        with self._lock:
            self._in_flight.append(job.relative)

    def finished(self, job: _Upload) -> None:
        with self._lock:
            self._in_flight.remove(job.relative)
            self._done_files += 1
            self._done_bytes += job.size

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def describe(self) -> str:
        with self._lock:
            flying = ", ".join(self._in_flight[:3]) + (" ..." if len(self._in_flight) > 3 else "")
            return (
                f"uploading: {self._done_files} of {self.total_files} files done "
                f"({_human(self._done_bytes)} of {_human(self.total_bytes)}) after {self.elapsed():.0f} s"
                + (f"; in flight: {flying}" if flying else "")
            )


class _ProgressLog:
    """Logs `describe()` every `interval` seconds until the block ends: silent for short transfers."""

    def __init__(self, describe: Callable[[], str], interval: float):
        self._describe = describe
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transfer-progress", daemon=True)

    def __enter__(self) -> "_ProgressLog":
        if self._interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                log.info("%s", self._describe())
            except Exception:  # noqa: BLE001 - a progress line must never break a transfer
                log.debug("progress line failed", exc_info=True)


def _human(size: Optional[int]) -> str:
    if size is None or size < 0:
        return "? bytes"
    if size < 1024 * 1024:
        return f"{size} bytes" if size < 1024 else f"{size / 1024:.1f} KiB"
    return f"{size / MiB:.1f} MiB"


__all__ = [
    "TransientStorageError",
    "download",
    "event_input_path",
    "fetch_event_object",
    "plan_uploads",
    "upload_outputs",
]
