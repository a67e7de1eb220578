"""Secrets: every password may come from an environment variable or a file (systemd credentials among
them) instead of the config; the errors name the key and the variable or file, never the secret; and a
config that holds a password others can read is warned about by `oee config check` and `oee engine`."""

from __future__ import annotations

import grp
import os
import pwd
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import ConfigError, EdgeConfig
from oee_tui.config.edit import ConfigDocument
from oee_tui.config.file_warnings import config_warnings
from oee_tui.drivers.broker_source import BrokerSource
from oee_tui.drivers.opcua.opcua_source import OpcUaSource
from oee_tui.drivers.registry import KINDS, load_config, parse_config

SECRET = "pl4nt-S3cret"  # must appear in no error message
VARIABLE = "OEE_TEST_SECRET_PASSWORD"

# One source of each kind that has a password, and the edge node: `{login}` is replaced by how each
# gives its password.
SOURCES = """
[[sources]]
name = "ua"
kind = "opcua"
endpoint = "opc.tcp://192.0.2.60:4840/"
username = "oee"
{login}

[[sources]]
name = "uns"
kind = "sparkplug"
host = "192.0.2.50"
username = "oee"
{login}

[[sources]]
name = "json"
kind = "mqtt"
host = "192.0.2.51"
username = "oee"
{login}

[edge]
username = "oee"
{login}
"""
KEYS = ("sources[ua]", "sources[uns]", "sources[json]", "edge")


def plant(login: str) -> str:
    return SAMPLE_CONFIG.replace("\n[[sources]]\n", SOURCES.format(login=login) + "\n[[sources]]\n", 1)


def passwords(text: str) -> list[str | None]:
    config = parse_config(text, "plant.toml")
    sources = [config.source(name) for name in ("ua", "uns", "json")]
    assert isinstance(sources[0], OpcUaSource) and isinstance(sources[1], BrokerSource)
    assert isinstance(sources[2], BrokerSource) and isinstance(config.edge, EdgeConfig)
    return [source.password for source in (*sources, config.edge)]  # type: ignore[attr-defined]


def failure(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "plant.toml")
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.value)
    return caught.value


# ---------------------------------------------------------------- where a password comes from


def test_a_password_in_the_file_is_read_as_before() -> None:
    assert passwords(plant(f'password = "{SECRET}"')) == [SECRET] * 4


def test_every_password_can_come_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    text = plant(f'password_env = "{VARIABLE}"')
    assert passwords(text) == [SECRET] * 4
    assert parse_config(text).secrets_in_file == ()


def test_every_password_can_come_from_a_file_less_its_trailing_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "plc-password"
    secret_file.write_text(SECRET + "\n")
    assert passwords(plant(f'password_file = "{secret_file}"')) == [SECRET] * 4
    secret_file.write_text(SECRET + "\r\n")
    assert passwords(plant(f'password_file = "{secret_file}"')) == [SECRET] * 4
    secret_file.write_text(f" {SECRET} \n\n")  # only one newline goes: the rest is the password's own
    assert passwords(plant(f'password_file = "{secret_file}"')) == [f" {SECRET} \n"] * 4


def test_percent_d_is_the_systemd_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "plc1").write_text(SECRET)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert passwords(plant('password_file = "%d/plc1"')) == [SECRET] * 4


def test_each_source_may_take_its_password_its_own_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "from-env")
    (tmp_path / "pw").write_text("from-file\n")
    text = plant("{login}")
    for login in (f'password_env = "{VARIABLE}"', f'password_file = "{tmp_path / "pw"}"', 'password = "inline"'):
        text = text.replace("{login}", login, 1)
    text = text.replace("{login}", 'password = "edge-inline"')
    assert passwords(text) == ["from-env", "from-file", "inline", "edge-inline"]
    assert parse_config(text).secrets_in_file == ("sources[json].password", "edge.password")


# ---------------------------------------------------------------- errors name the key, never the secret


def test_a_missing_variable_names_the_key_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    error = failure(plant(f'password_env = "{VARIABLE}"'))
    assert error.key == "sources[ua].password_env"
    assert f"the environment variable {VARIABLE} is not set" in str(error)
    monkeypatch.setenv(VARIABLE, "")
    assert "is empty" in str(failure(plant(f'password_env = "{VARIABLE}"')))


@pytest.mark.parametrize(
    ("content", "said"),
    [(None, "does not exist"), ("", "is empty"), ("\n", "is empty"), (b"\xff\xfe" + SECRET.encode(), "not UTF-8"),
     ("x" * 70_000, "larger than 64 KiB")],
)
def test_an_unusable_file_names_the_key_and_the_file(tmp_path: Path, content: str | bytes | None, said: str) -> None:
    secret_file = tmp_path / "plc-password"
    if isinstance(content, bytes):
        secret_file.write_bytes(content)
    elif content is not None:
        secret_file.write_text(content)
    error = failure(plant(f'password_file = "{secret_file}"'))
    assert error.key == "sources[ua].password_file"
    assert str(secret_file) in str(error) and said in str(error)


def test_a_directory_is_no_password_file(tmp_path: Path) -> None:
    error = failure(plant(f'password_file = "{tmp_path}"'))
    assert error.key == "sources[ua].password_file" and "is a directory" in str(error)


def test_an_unreadable_file_names_the_user_that_cannot_read_it(tmp_path: Path) -> None:
    secret_file = tmp_path / "plc-password"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    tmp_path.chmod(0o755)
    text = plant(f'password_file = "{secret_file}"')
    if os.geteuid() == 0:
        message = _error_as_nobody(text)
    else:
        secret_file.chmod(0)
        message = str(failure(text))
    # The same file is named by every source of the template and the edge: each is reported (issue 14, item 19).
    assert message.startswith("4 problems in plant.toml:\n")
    assert message.splitlines()[1].startswith(f"  sources[ua].password_file = '{secret_file}': the file {secret_file} "
                                              "cannot be read by this user (uid ")
    assert "Permission denied" in message and SECRET not in message


def _error_as_nobody(text: str) -> str:
    """The config error the reader gives when run as `nobody`, whom a 0600 file of root's refuses: a forked
    child drops to that user (root reads every file) and sends the error's text back."""
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is what the parent asserts
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            parse_config(text, "plant.toml")
            message = "no error"
        except ConfigError as exc:
            message = str(exc)
        except BaseException as exc:
            message = f"unexpected: {exc!r}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(child, 0)
    return message


def test_percent_d_outside_systemd_says_what_it_stands_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    error = failure(plant('password_file = "%d/plc1"'))
    assert error.key == "sources[ua].password_file"
    assert "$CREDENTIALS_DIRECTORY, which is not set" in str(error) and "LoadCredential=" in str(error)


def test_two_ways_at_once_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    error = failure(plant(f'password = "{SECRET}"\npassword_env = "{VARIABLE}"'))
    assert error.key == "sources[ua].password_env" and "give only one of password, password_env" in str(error)
    error = failure(plant(f'password_env = "{VARIABLE}"\npassword_file = "{tmp_path}/x"'))
    assert error.key == "sources[ua].password_file"


def test_a_password_of_the_wrong_type_is_not_shown() -> None:
    error = failure(plant("password = 4711"))
    assert error.key == "sources[ua].password" and "4711" not in str(error) and "<hidden>" in str(error)


def test_a_password_alone_still_needs_its_user_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    error = failure(plant(f'password_env = "{VARIABLE}"').replace('username = "oee"\n', "", 1))
    assert error.key == "sources[ua].username" and "needed when a password is given" in str(error)


def test_the_reference_keys_are_the_kinds_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # Modbus has no login: a password_env there is a mistake, named like any unknown key.
    text = SAMPLE_CONFIG.replace("unit_id = 1\n", f'unit_id = 1\npassword_env = "{VARIABLE}"\n', 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == "sources[plc1].password_env" and "known keys" in str(caught.value)
    for name in ("opcua", "sparkplug", "mqtt"):
        assert {"password", "password_env", "password_file"} <= KINDS[name].keys


# ---------------------------------------------------------------- who may read the file


def write_plant(tmp_path: Path, login: str, mode: int) -> Path:
    path = tmp_path / "oee.toml"
    path.write_text(plant(login))
    path.chmod(mode)
    return path


def test_a_readable_file_with_passwords_is_warned_about_with_the_fix(tmp_path: Path) -> None:
    path = write_plant(tmp_path, f'password = "{SECRET}"', 0o644)
    warnings = config_warnings(load_config(path))
    assert len(warnings) == 1
    warning = warnings[0]
    assert str(path) in warning and "mode 0644" in warning and "every user" in warning and "its group" in warning
    assert ", ".join(f"{key}.password" for key in KEYS) in warning
    assert f"chmod 600 {path}" in warning and "password_file" in warning and SECRET not in warning
    path.chmod(0o604)
    assert "every user" in config_warnings(load_config(path))[0]
    path.chmod(0o640)
    assert "its group" in config_warnings(load_config(path))[0]
    assert "every user" not in config_warnings(load_config(path))[0]


def test_no_warning_for_a_private_file_or_one_without_passwords(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_warnings(load_config(write_plant(tmp_path, f'password = "{SECRET}"', 0o600))) == []
    monkeypatch.setenv(VARIABLE, SECRET)
    assert config_warnings(load_config(write_plant(tmp_path, f'password_env = "{VARIABLE}"', 0o644))) == []
    assert config_warnings(parse_config(plant(f'password = "{SECRET}"'))) == []  # no file: nothing to say


def test_a_pin_hash_others_can_read_is_warned_about(tmp_path: Path) -> None:
    from oee_tui.config.pins import MIN_PIN_ITERATIONS, hash_pin

    pin = hash_pin("4711", iterations=MIN_PIN_ITERATIONS).text
    path = tmp_path / "oee.toml"
    path.write_text(SAMPLE_CONFIG + f'\n[[access.people]]\naccount = "line3"\nname = "Maria Lopez"\npin = "{pin}"\n')
    path.chmod(0o644)
    assert "access.people[Maria Lopez].pin" in config_warnings(load_config(path))[0]


def test_a_file_others_can_change_is_warned_about(tmp_path: Path) -> None:
    path = write_plant(tmp_path, "", 0o666)
    warnings = config_warnings(load_config(path))
    assert len(warnings) == 1 and "can be changed by its group" in warnings[0] and "every user" in warnings[0]
    assert f"chmod go-w {path}" in warnings[0]


def test_a_private_key_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    keys = {name: tmp_path / f"{name}.key" for name in ("tls", "user")}
    for key_file in keys.values():
        key_file.write_text("-----BEGIN PRIVATE KEY-----\n")
    user_login = f'user_certificate = "u.der"\nuser_private_key = "{keys["user"]}"\n'
    text = plant("").replace('username = "oee"\n', user_login, 1)
    text = text.replace('username = "oee"\n', f'tls_cert_file = "c.pem"\ntls_key_file = "{keys["tls"]}"\n', 1)
    path = tmp_path / "oee.toml"
    path.write_text(text)
    path.chmod(0o600)
    keys["tls"].chmod(0o640)
    keys["user"].chmod(0o600)
    config = load_config(path)
    my_group = grp.getgrgid(keys["tls"].stat().st_gid).gr_name
    assert ("sources[ua].user_private_key", str(keys["user"])) in config.private_key_files
    assert config_warnings(config) == [
        f"the private key file {keys['tls']} (sources[uns].tls_key_file) is readable by its group {my_group} "
        f"(mode 0640): run `chmod 600 {keys['tls']}` as the engine's user"]
    keys["user"].chmod(0o604)
    assert f"the private key file {keys['user']} (sources[ua].user_private_key) is readable by every user" in \
        config_warnings(config)[0]  # in file order
    keys["tls"].unlink()  # a missing key is the connection's problem, said with the source
    assert len(config_warnings(config)) == 1


def test_config_check_prints_the_warning_and_still_succeeds(tmp_path: Path) -> None:
    path = write_plant(tmp_path, f'password = "{SECRET}"', 0o644)
    run = [sys.executable, "-m", "oee_tui", "--config", str(path), "config", "check"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: ok:")
    assert done.stderr.startswith(f"oee config check: warning: {path} holds secrets in plain text ")
    assert SECRET not in done.stdout + done.stderr
    path.chmod(0o600)
    quiet = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_engine_logs_the_warning_at_start(tmp_path: Path) -> None:
    path = tmp_path / "oee.toml"
    # [edge] is off, and its password is still a secret in the file.
    path.write_text(SAMPLE_CONFIG + f'\n[edge]\nusername = "edge"\npassword = "{SECRET}"\n')
    path.chmod(0o644)
    engine = subprocess.Popen([sys.executable, "-m", "oee_tui", "--config", str(path), "--data-dir",
                               str(tmp_path / "data"), "engine"], stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert engine.stderr is not None
        for line in engine.stderr:
            lines.append(line)
            if "engine running on" in line:
                running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert running.wait(timeout=60), "".join(lines)
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
        reader.join(timeout=5)
    finally:
        if engine.poll() is None:
            engine.kill()
    warning = next(line for line in lines if " WARNING oee.engine: " in line)
    assert f"{path} holds secrets in plain text (edge.password) and is readable by" in warning
    assert lines.index(warning) < next(i for i, line in enumerate(lines) if "engine running on" in line)
    assert SECRET not in "".join(lines)


# ---------------------------------------------------------------- editing keeps the references


def test_a_document_edit_keeps_password_env_and_writes_no_password(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    path = write_plant(tmp_path, f'password_env = "{VARIABLE}"', 0o600)
    document = ConfigDocument.open(path, KINDS)
    values = {**document.source("ua"), "timeout_s": 7}
    document.upsert_source(values, old_name="ua")
    document.save()
    text = path.read_text()
    assert SECRET not in text and text.count(f'password_env = "{VARIABLE}"') == 4
    source = load_config(path).source("ua")
    assert isinstance(source, OpcUaSource) and source.password == SECRET and source.timeout_s == 7
    assert path.stat().st_mode & 0o777 == 0o600  # the save kept the file private
