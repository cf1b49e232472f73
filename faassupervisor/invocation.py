"""One invocation end to end: input in, script run, outputs up, response out.

All state of an invocation lives in one private (0700) temporary directory
(`input/`, `output/`, and beside them the script's captured output and a
response zip), removed in every outcome: success, failure, bad input,
timeout, or a SIGTERM from the watchdog. Under the watchdog's fork server the
directory is lent instead (`InvocationOptions.work_dir`): the watchdog clears
it after the invocation, whatever its outcome, and lends it again.

`run_invocation` is where every failure becomes its exit status, for the
`supervisor` command, the fork server and `faas-supervisor run` alike.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

from faassupervisor import logs, mime, response, workdir
from faassupervisor.config.settings import RuntimeSettings, missing_script_message
from faassupervisor.errors import BadConfig, EnvironmentFailure, ExitStatus, ScriptFailed, SupervisorError, Terminated
from faassupervisor.events.staging import stage_input
from faassupervisor.logs import LogCapture
from faassupervisor.paths import output_files
from faassupervisor.script import ScriptResult, run_script
from faassupervisor.storage.provider import ProviderContext
from faassupervisor.storage.registry import ProviderSet
from faassupervisor.records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: tests/test_supervisor_startup.py
    from typing import BinaryIO, Callable, Dict, List, Mapping, Optional

    from faassupervisor.events.body import Reader
    from faassupervisor.events.storage import StorageEvent
    from faassupervisor.response import Writer

log = logging.getLogger(__name__)


@record
class InvocationOptions:
    """How the caller wants this invocation run (CLI flags, or the watchdog's fork server)."""

    logs_in_response: bool = True  # False: logs go only to the container log
    timeout: Optional[float] = None  # seconds before the script's whole tree is killed
    on_content_type: Optional[Callable[[str], None]] = None  # told the Content-Type before the body
    content_type: Optional[str] = None  # the body's Content-Type; None: the request's (Http_Content_Type)
    raw_response: Optional[bool] = None  # None: decided by the request's Accept header
    signals_handled: bool = False  # True: SIGTERM/SIGINT already raise Terminated (the fork server's children)
    # A private (0700) directory lent by the caller, who clears it afterwards (`workdir.clear`):
    # the invocation works there, reusing the input/ and output/ it may already hold, and
    # removes nothing itself. None: make a work dir under TMPDIR and remove it at the end.
    work_dir: Optional[str] = None


def run_invocation(
    settings_factory: Callable[[], RuntimeSettings],
    environ: Mapping[str, str],
    stdin: Optional[Reader],
    stdout: BinaryIO,
    options: InvocationOptions,
) -> int:
    """Run one invocation, turning every failure into its exit status and a one-line answer."""
    wrote = _Tracking(stdout)
    logs.configure("INFO", capture=False)  # until the service's log_level is known
    try:
        settings = settings_factory()
        captured = logs.configure(settings.service.log_level, capture=options.logs_in_response)
        for warning in settings.service.warnings:
            log.warning("%s", warning)
        return int(Invocation(settings, environ, options, captured).run(stdin, wrote))
    except SupervisorError as err:
        log.error("%s", err)
        _answer(wrote, options, f"error: {err}\n")
        return int(err.exit_status)
    except Terminated as why:
        log.error("terminated by %s: invocation abandoned", why)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        log.error("the client went away before the response was written")
        return int(ExitStatus.SCRIPT_FAILED)


def _answer(out: "_Tracking", options: InvocationOptions, text: str) -> None:
    """The one-line error as the response body, unless a response had already started."""
    if out.started:
        return
    if options.on_content_type is not None:
        options.on_content_type("text/plain; charset=utf-8")
    try:
        out.write(text.encode("utf-8", "backslashreplace"))  # a file name that is not UTF-8 may be quoted
        out.flush()
    except (BrokenPipeError, ValueError):
        pass


class _Tracking:
    """Knows whether any response byte was written (an error must not be appended to a file)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.started = False

    def write(self, data: bytes) -> int:
        if data:
            self.started = True
        return self._stream.write(data)

    def flush(self) -> None:
        self._stream.flush()


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
        # The storage event this invocation processes, once the input is staged.
        self.event: Optional[StorageEvent] = None

    def run(self, stdin: Optional[Reader], stdout: Writer) -> ExitStatus:
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

    def _in_tmpdir(self, parent: str, private: str, stdin: Optional[Reader], stdout: Writer) -> ExitStatus:
        """`_run_in`, with a read-only or full TMPDIR said in one line, naming it."""
        try:
            return self._run_in(private, stdin, stdout)
        except OSError as err:
            fault = workdir.environment_fault(err, parent)
            if fault is None:
                raise
            raise EnvironmentFailure(fault) from None

    def _run_in(self, private: str, stdin: Optional[Reader], stdout: Writer) -> ExitStatus:
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
        content_type = self.options.content_type or self.environ.get("Http_Content_Type")
        staged = stage_input(stdin, self.settings.event, content_type, input_dir, self.service, self.providers)
        self.event = staged.event
        script_env.update(staged.variables)
        script = self._script_path(private)
        assert self.settings.script is not None  # `run` refused a missing script
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

            # The one listing of the outputs: what is answered is what is uploaded (logs its own summary).
            transfer.upload_outputs(Path(output_dir), self._output_service(), self.providers, files=files)
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

    def _script_environment(self, input_dir: str, output_dir: str) -> Dict[str, str]:
        env = dict(self.environ)
        env.update(self.service.environment)
        env.update(self.service.secrets)
        env["TMP_INPUT_DIR"] = input_dir
        env["TMP_OUTPUT_DIR"] = output_dir
        return env

    def _script_path(self, private: str) -> str:
        source = self.settings.script
        assert source is not None  # `run` refused a missing script
        if source.path is not None:
            return source.path
        assert source.content is not None  # from_environ: a script without a path has its content
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

    def _respond(self, answer: response.Response, stdout: Writer, result: ScriptResult) -> ExitStatus:
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
