"""One invocation end to end: input in, script run, outputs up, response out.

All state of an invocation lives in one private (0700) temporary directory
(`input/`, `output/`, and beside them the script's captured output and a
response zip), removed in every outcome: success, failure, bad input,
timeout, or a SIGTERM from the watchdog. Under the watchdog's fork server the
directory is lent instead (`InvocationOptions.work_dir`): the watchdog clears
it after the invocation, whatever its outcome, and lends it again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from faassupervisor import mime, response, workdir
from faassupervisor.config.settings import RuntimeSettings, missing_script_message
from faassupervisor.errors import BadConfig, EnvironmentFailure, ExitStatus, ScriptFailed
from faassupervisor.events.body import DecodedBody, decode_body
from faassupervisor.logs import LogCapture
from faassupervisor.paths import output_files
from faassupervisor.script import ScriptResult, run_script
from faassupervisor.storage.provider import ProviderContext
from faassupervisor.storage.registry import ProviderSet
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import BinaryIO, Callable, Dict, List, Mapping, Optional

log = logging.getLogger(__name__)

_EVENT_SNIFF_LIMIT = 64 * 1024  # storage events are small; bigger JSON bodies are plain input
# A MinIO/S3/Onedata event has "Records", a delegated one "storage_provider", a dCache one
# "subscription", a Rucio one "event_type"; a key spelled with \u escapes could hide any of
# them, so a body with escapes is always parsed.
_EVENT_MARKERS = (b"Records", b"storage_provider", b"subscription", b"event_type", b"\\u")


@record
class InvocationOptions:
    """How the caller wants this invocation run (CLI flags, or the watchdog's fork server)."""

    logs_in_response: bool = True  # False: logs go only to the container log
    timeout: Optional[float] = None  # seconds before the script's whole tree is killed
    on_content_type: Optional[Callable[[str], None]] = None  # told the Content-Type before the body
    raw_response: Optional[bool] = None  # None: decided by the request's Accept header
    signals_handled: bool = False  # True: SIGTERM/SIGINT already raise Terminated (the fork server's children)
    # A private (0700) directory lent by the caller, who clears it afterwards (`workdir.clear`):
    # the invocation works there, reusing the input/ and output/ it may already hold, and
    # removes nothing itself. None: make a work dir under TMPDIR and remove it at the end.
    work_dir: Optional[str] = None


class Invocation:
    def __init__(
        self,
        settings: RuntimeSettings,
        environ: Mapping[str, str],
        options: InvocationOptions,
        captured: Optional[LogCapture] = None,
    ):
        self.settings = settings
        self.service = settings.service
        self.environ = environ
        self.options = options
        self.captured = captured
        self.providers = ProviderSet(self.service, ProviderContext(settings.storage_dir, settings.secrets_dir))
        self.event = None  # the storage event this invocation processes, once the input is staged

    def run(self, stdin: BinaryIO, stdout: BinaryIO) -> ExitStatus:
        if self.settings.script is None:
            raise BadConfig(missing_script_message(self.settings))
        self.providers.validate()  # bad credentials fail before any work is done
        if self.options.work_dir is not None:
            return self._in_tmpdir(os.path.dirname(self.options.work_dir), self.options.work_dir, stdin, stdout)
        parent = self.settings.temp_root or workdir.DEFAULT_PARENT
        try:
            private = workdir.make(parent)
        except OSError as err:
            raise EnvironmentFailure(workdir.environment_fault(err, parent, making=True)) from None
        try:
            return self._in_tmpdir(parent, private, stdin, stdout)
        finally:
            workdir.remove(private)

    def _in_tmpdir(self, parent: str, private: str, stdin: BinaryIO, stdout: BinaryIO) -> ExitStatus:
        """`_run_in`, with a read-only or full TMPDIR said in one line, naming it."""
        try:
            return self._run_in(private, stdin, stdout)
        except OSError as err:
            fault = workdir.environment_fault(err, parent)
            if fault is None:
                raise
            raise EnvironmentFailure(fault) from None

    def _run_in(self, private: str, stdin: BinaryIO, stdout: BinaryIO) -> ExitStatus:
        # Paths as strings on the request's way: see `faassupervisor.config.settings`.
        # The work dir itself holds our own files: one mkdir fewer per invocation (each costs
        # a millisecond or two on a busy disk, and the fork server runs hundreds per second).
        input_dir = os.path.join(private, workdir.INPUT_DIR)
        output_dir = os.path.join(private, workdir.OUTPUT_DIR)
        for folder in (input_dir, output_dir):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                if self.options.work_dir is None:
                    raise
                # Kept by the lender's `workdir.clear`: empty, plain and private.
        script_env = self._script_environment(input_dir, output_dir)
        script_env.update(self._stage_input(stdin, input_dir))
        script = self._script_path(private)
        log.info("running %s", self.settings.script.description)
        script_output = os.path.join(private, ".script-output")
        before = os.stat(private)
        result = run_script(script, script_env, input_dir, script_output, self.options.timeout)
        _check_same_dir(private, before)
        if not result.ok:
            log.error("%s%s", result.describe(), self._kept_back(output_dir))
            return self._respond(response.Response(parts=self._log_parts(script_output)), stdout, result)
        files = output_files(output_dir)
        if self.service.output and files:
            from faassupervisor.storage import transfer  # deferred: only invocations with outputs upload

            transfer.upload_outputs(Path(output_dir), self._output_service(), self.providers)  # logs its own summary
        if self.event is not None:
            # As OSCAR's FaaS Supervisor: a storage event's outputs went to storage, and what it
            # answers is the Job's log (or /job's), so it answers with the logs, not the file.
            log.info("storage event: %d output file(s), responding with the logs", len(files))
            return self._respond(response.Response(parts=self._log_parts(script_output)), stdout, result)
        return self._respond(self._success_response(files, output_dir, private, script_output), stdout, result)

    def _kept_back(self, output_dir: str) -> str:
        """The failure line's tail when outputs exist: a failed script uploads nothing, and says how much."""
        if not self.service.output:
            return ""
        count = len(output_files(output_dir))
        return f"; {count} output file(s) kept back: a failed script uploads nothing" if count else ""

    def _output_service(self):
        """The service whose `output` this invocation uploads to (a user bucket's event redirects MinIO's)."""
        if self.event is None or not self.event.user_bucket:
            return self.service
        from faassupervisor.events.storage import user_outputs

        return self.service.with_overrides(output=user_outputs(self.service, self.event))

    def _stage_input(self, stdin: BinaryIO, input_dir: str) -> Dict[str, str]:
        """Decode the body (or fetch the event's object); the variables that tell the script where it is."""
        stream = _stdin_or_event(stdin, self.settings.event)
        decoded = decode_body(stream, self.environ.get("Http_Content_Type"), input_dir)
        log.debug("decoded %s body: %d bytes", decoded.kind, decoded.size)
        event = _as_storage_event(decoded)
        if event is None:
            # A body we validated as JSON needs no libmagic (its import and database
            # load are ~10 ms of every start): it *is* application/json.
            return self._input_variables(decoded.path, "application/json" if decoded.kind == "json" else None)
        from faassupervisor.events.storage import resolve
        from faassupervisor.storage import transfer  # deferred: only storage events download

        os.unlink(decoded.path)
        event = self.event = resolve(self.service, event, self.providers.is_defined)
        log.info("%s event for %s/%s", event.source, event.bucket, event.key)
        dest = transfer.event_input_path(event, Path(input_dir))
        variables = {
            "STORAGE_OBJECT_KEY": event.object_key,
            "EVENT_TIME": event.time,
            "EVENT": event.raw.decode("utf-8", "replace"),
        }
        if self.service.file_stage_in:
            log.info("file_stage_in: the script fetches %s itself", event.key)
            variables["INPUT_FILE_PATH"] = str(dest)
            return variables
        transfer.fetch_event_object(event, self.service, self.providers, dest)
        variables.update(self._input_variables(dest))
        return variables

    def _input_variables(self, path, known_type: Optional[str] = None) -> Dict[str, str]:
        kind = known_type or mime.detect(path)
        path = mime.with_extension(os.fspath(path), kind)
        return {"INPUT_FILE_PATH": path, "INPUT_FILE_MIME": kind}

    def _script_environment(self, input_dir: str, output_dir: str) -> Dict[str, str]:
        env = dict(self.environ)
        env.update(self.service.environment)
        env.update(self.service.secrets)
        env["TMP_INPUT_DIR"] = input_dir
        env["TMP_OUTPUT_DIR"] = output_dir
        return env

    def _script_path(self, private: str) -> str:
        source = self.settings.script
        if source.path is not None:
            return source.path
        path = os.path.join(private, ".script.sh")
        with open(path, "wb") as handle:
            handle.write(source.content)
        os.chmod(path, 0o700)
        return path

    def _log_parts(self, script_output: str) -> tuple:
        lines = self.captured.text() if (self.captured and self.options.logs_in_response) else b""
        return (lines, script_output) if lines else (script_output,)

    def _success_response(
        self, files: List[Path], output_dir: str, private: str, script_output: str
    ) -> response.Response:
        raw = self.options.raw_response
        if raw is None:
            raw = response.wants_raw(self.environ.get("Http_Accept"))
        if len(files) == 1:
            log.info("responding with %s", files[0].relative_to(output_dir))
            return response.Response(file=files[0], raw=raw, mime=mime.detect(files[0]) if raw else response.TEXT)
        if files:
            log.info("responding with a zip of %d files", len(files))
            archive = response.build_zip(files, output_dir, os.path.join(private, ".response.zip"))
            return response.Response(file=archive, raw=raw, mime="application/zip")
        log.info("no output files: responding with the logs")
        return response.Response(parts=self._log_parts(script_output))

    def _respond(self, answer: response.Response, stdout: BinaryIO, result: ScriptResult) -> ExitStatus:
        if self.options.on_content_type is not None:
            self.options.on_content_type(answer.content_type)
        answer.write_to(stdout)
        return ExitStatus.SUCCESS if result.ok else ExitStatus.SCRIPT_FAILED


def _check_same_dir(path: str, before: os.stat_result) -> None:
    """The work dir is still the one we made, not a link or a directory the script put in its
    place (its outputs are listed, answered and uploaded from there: nothing outside may be)."""
    try:
        after = os.lstat(path)
    except OSError:
        after = None
    if after is None or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        raise ScriptFailed(f"the script replaced its work directory {path}: its outputs are refused")


class _Prefixed:
    """A stream with bytes already read put back in front (to peek at stdin)."""

    def __init__(self, head: bytes, rest: Optional[BinaryIO]):
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        if self._rest is None:
            if 0 <= size < len(head):
                head, self._head = head[:size], head[size:]
            return head
        if size < 0:
            return head + self._rest.read()
        if size < len(head):
            head, self._head = head[:size], head[size:]
            return head
        return head + self._rest.read(size - len(head)) if size > len(head) else head


def _stdin_or_event(stdin: Optional[BinaryIO], event: Optional[bytes]):
    """Standard input, unless it is a terminal or empty and `EVENT` is set (Kubernetes Jobs)."""
    if stdin is None or (hasattr(stdin, "isatty") and stdin.isatty()):
        return _Prefixed(event or b"", None)
    head = stdin.read(1)
    if not head and event:
        return _Prefixed(event, None)
    return _Prefixed(head, stdin)


def _as_storage_event(decoded: DecodedBody):
    """The StorageEvent a small JSON body describes, or None for a plain JSON input."""
    if decoded.kind != "json" or decoded.size > _EVENT_SNIFF_LIMIT:
        return None
    if not any(marker in decoded.head for marker in _EVENT_MARKERS):
        return None  # no event's key is there: skip parsing it and importing the event parser
    from faassupervisor.events.storage import parse_storage_event  # deferred: most bodies are not events

    try:
        document = json.loads(decoded.head)
    except (ValueError, RecursionError):  # deeply nested arrays are valid JSON, but no event
        return None
    return parse_storage_event(document, decoded.head)
