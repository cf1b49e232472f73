"""The config model: both document forms, overrides, and one-line errors naming the field."""

from __future__ import annotations

import base64

import pytest

from faassupervisor.config.loader import load_service
from faassupervisor.config.service import ProviderRef, ServiceConfig
from faassupervisor.config.settings import RuntimeSettings
from faassupervisor.errors import BadConfig

FDL = b"""
functions:
  oscar:
  - my-cluster:
      name: plants-sync
      image: deephdc/deep-oc-plants-classification-tf
      memory: 2Gi
      cpu: '1.0'
      log_level: CRITICAL
      script: plants-sync.sh
      environment:
        variables: {MODEL: resnet}
      output:
      - storage_provider: minio.default
        path: plants-sync/output
  - other-cluster:
      name: second
      script: s.sh
      input:
      - storage_provider: s3.aws
        path: in-bucket
storage_providers:
  s3:
    aws: {access_key: AK, secret_key: SK, region: us-east-1}
"""


def test_fdl_first_service_by_default():
    service = load_service(FDL, "fdl.yaml")
    assert service.name == "plants-sync"
    assert service.log_level == "CRITICAL"
    assert service.environment == {"MODEL": "resnet"}
    assert service.output[0].provider == ProviderRef("minio", "default")
    assert (service.output[0].bucket, service.output[0].folder) == ("plants-sync", "output")


def test_fdl_select_by_name_merges_top_level_providers():
    service = load_service(FDL, "fdl.yaml", service_name="second")
    assert service.storage_providers["s3"]["aws"]["region"] == "us-east-1"
    assert service.input[0].folder == ""


def test_fdl_unknown_service():
    with pytest.raises(BadConfig, match="no service 'nope'"):
        load_service(FDL, "fdl.yaml", service_name="nope")


def test_function_config_mapping_with_capital_variables():
    service = load_service(b"name: x\nenvironment:\n  Variables: {A: 1, B: true}\n", "f")
    assert service.environment == {"A": "1", "B": "true"}


@pytest.mark.parametrize(
    "text, fragment",
    [
        (b"file_stage_in: maybe", "file_stage_in: expected true or false"),
        (b"input: {a: 1}", "input: expected a list"),
        (b"output: [{path: b, storage_provider: ''}]", "output[0].storage_provider"),
        (b"environment: {Variables: {'1BAD': x}}", "environment.Variables: '1BAD' is not a valid name"),
        (b"storage_providers: {minio: [1]}", "storage_providers.minio: expected a mapping"),
        (b"synchronous: {min_scale: lots}", "synchronous.min_scale: expected an integer"),
        (b"- just\n- a list", "function_config.yaml: expected a mapping"),
    ],
)
def test_errors_name_the_field(text, fragment):
    with pytest.raises(BadConfig) as err:
        load_service(text, "function_config.yaml")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_settings_from_environment(tmp_path):
    (tmp_path / "function_config.yaml").write_text("name: from-file\nlog_level: DEBUG\n")
    (tmp_path / "script.sh").write_text("echo hi\n")
    env = {"FAAS_SUPERVISOR_CONFIG_DIR": str(tmp_path), "LOG_LEVEL": "warn", "FILE_STAGE_IN": "true"}
    settings = RuntimeSettings.from_environ(env)
    assert settings.service.name == "from-file"
    assert settings.service.log_level == "WARNING"
    assert settings.service.file_stage_in is True
    assert settings.script.path == str(tmp_path / "script.sh")  # absolute (tmp_path is), a str


def test_variables_win_over_files(tmp_path):
    (tmp_path / "function_config.yaml").write_text("name: from-file\n")
    env = {
        "FAAS_SUPERVISOR_CONFIG_DIR": str(tmp_path),
        "FUNCTION_CONFIG": base64.b64encode(b"name: from-variable\n").decode(),
        "SCRIPT": base64.b64encode(b"echo hi\n").decode(),
        "EVENT": '{"a": 1}',
    }
    settings = RuntimeSettings.from_environ(env)
    assert settings.service.name == "from-variable"
    assert settings.script.content == b"echo hi\n"
    assert settings.event == b'{"a": 1}'


def test_no_config_at_all_is_a_plain_service(tmp_path):
    settings = RuntimeSettings.from_environ({"FAAS_SUPERVISOR_CONFIG_DIR": str(tmp_path)})
    assert settings.service == ServiceConfig()
    assert settings.script is None


def test_bad_override_names_the_variable(tmp_path):
    with pytest.raises(BadConfig, match="^FILE_STAGE_IN: expected true or false"):
        RuntimeSettings.from_environ({"FAAS_SUPERVISOR_CONFIG_DIR": str(tmp_path), "FILE_STAGE_IN": "chatty"})


def test_an_unknown_log_level_override_is_info_with_a_warning_naming_the_variable(tmp_path):
    settings = RuntimeSettings.from_environ({"FAAS_SUPERVISOR_CONFIG_DIR": str(tmp_path), "LOG_LEVEL": "chatty"})
    assert settings.service.log_level == "INFO"
    assert settings.service.warnings == (
        "LOG_LEVEL: unknown level 'chatty', using INFO (expected one of NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL)",
    )
