"""The parsed-config cache: same text, same document, and PyYAML not imported on a hit."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

from faassupervisor.config import yaml_cache

PROBE = (
    "import sys\n"
    "from faassupervisor.config.settings import RuntimeSettings\n"
    "s = RuntimeSettings.from_environ(dict(__import__('os').environ))\n"
    "print(s.service.name, s.service.log_level, 'yaml' in sys.modules)\n"
)


def _probe(env):
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          timeout=30).stdout.split()


def test_second_start_skips_pyyaml(sandbox, tmp_path):
    env = dict(sandbox.env, FAAS_SUPERVISOR_CACHE_DIR=str(tmp_path / "cache"),
               FUNCTION_CONFIG=base64.b64encode(b"name: cached\nlog_level: DEBUG\n").decode())
    assert _probe(env) == ["cached", "DEBUG", "True"]
    assert _probe(env) == ["cached", "DEBUG", "False"]
    env["FUNCTION_CONFIG"] = base64.b64encode(b"name: changed\n").decode()
    assert _probe(env) == ["changed", "INFO", "True"]


def test_cache_dir_open_to_others_is_not_used(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    calls = []
    for _ in range(2):
        yaml_cache.load(b"a: 1", lambda text: calls.append(text) or {"a": 1}, cache)
    assert len(calls) == 2 and list(cache.iterdir()) == []


def test_documents_json_cannot_keep_are_not_cached(tmp_path):
    calls = []
    for _ in range(2):
        document = yaml_cache.load(b"1: one", lambda text: calls.append(text) or {1: "one"}, tmp_path / "c")
        assert document == {1: "one"}
    assert len(calls) == 2


def test_same_checksum_different_text_is_a_miss(tmp_path):
    cache = tmp_path / "c"
    yaml_cache.load(b"a: 1", lambda text: {"a": 1}, cache)
    entry = next(cache.iterdir())
    entry.write_text('["a: 2", {"a": 999}]')  # a forged entry whose text does not match
    assert yaml_cache.load(b"a: 1", lambda text: {"a": 1}, cache) == {"a": 1}


def test_a_process_parses_each_config_once_and_never_caches_a_bad_one(tmp_path):
    # The fork server's children inherit what it parsed while warming up.
    import pytest

    from faassupervisor.config.loader import load_service
    from faassupervisor.errors import BadConfig

    first = load_service(b"name: memo\nlog_level: DEBUG\n", "FUNCTION_CONFIG", cache_dir=tmp_path)
    again = load_service(b"name: memo\nlog_level: DEBUG\n", "FUNCTION_CONFIG", cache_dir=tmp_path)
    other = load_service(b"name: memo\nlog_level: ERROR\n", "FUNCTION_CONFIG", cache_dir=tmp_path)
    assert again is first and first.log_level == "DEBUG" and other.log_level == "ERROR"
    for _ in range(2):
        with pytest.raises(BadConfig, match="file_stage_in"):
            load_service(b"name: memo\nfile_stage_in: maybe\n", "FUNCTION_CONFIG", cache_dir=tmp_path)
