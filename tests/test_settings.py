from pathlib import Path
from typing import Any

import pytest

from nova.settings import SettingsError, load_settings


def test_defaults_are_embedded(_isolated_settings: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == _isolated_settings
    assert settings.resolved_checkpoint_url.startswith("sqlite:///")
    assert settings.resolved_ledger_url.endswith("ledger.sqlite")
    assert settings.resolved_erp_url.endswith("erp.sqlite")
    assert not settings.model_configured


def test_env_and_dotenv_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("NOVA_MODEL_NAME=llama3.1\nNOVA_RECALL_TOP_K=7\n")
    monkeypatch.setenv("NOVA_MODEL_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = load_settings()
    assert settings.model_name == "llama3.1"
    assert settings.recall_top_k == 7
    assert settings.model_configured


def test_postgres_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_LEDGER_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert load_settings().resolved_ledger_url.startswith("postgresql://")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NOVA_LEDGER_URL", "mysql://root@db/nova", "expected a SQLAlchemy URL"),
        ("NOVA_RECALL_TOP_K", "lots", "valid integer"),
        ("NOVA_MODEL_BASE_URL", "not a url", "URL"),
        ("NOVA_LOG_LEVEL", "chatty", "DEBUG"),
    ],
)
def test_invalid_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert variable in message
    assert expected in message


def test_a_malformed_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_SERVER_API_KEYS", "sk-very-secret-value")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "sk-very-secret-value" not in str(caught.value)
    assert "NOVA_SERVER_API_KEYS" in str(caught.value)


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command of the click command tree Typer built, as its argument path."""
    from typer.core import TyperGroup

    if isinstance(command, TyperGroup):
        return [
            p for name, sub in command.commands.items() for p in _command_paths(sub, (*path, name))
        ]
    return [path]


def test_every_cli_command_turns_an_invalid_setting_into_one_line() -> None:
    from typer.main import get_command
    from typer.testing import CliRunner

    from nova.cli import app

    paths = _command_paths(get_command(app))
    assert len(paths) > 30 and ("agents", "list") in paths and ("setup",) in paths
    runner = CliRunner()
    for path in paths:
        if path == ("doctor",):
            # The doctor reports the bad setting as a row of its table (tests/test_doctor.py).
            result = runner.invoke(app, ["doctor", "--json"], env={"NOVA_RECALL_TOP_K": "abc"})
            assert result.exit_code == 1 and "NOVA_RECALL_TOP_K" in result.output
            assert "Traceback" not in result.output
            continue
        # No arguments: the settings are checked before a command parses its own.
        result = runner.invoke(app, list(path), env={"NOVA_RECALL_TOP_K": "abc"})
        text = " ".join(result.output.split())  # rich wraps at its console width
        assert result.exit_code == 2, (path, result.output, result.exception)
        assert text.startswith("error: Invalid Nova setting: NOVA_RECALL_TOP_K: "), (path, text)
        assert "'abc'" in text and "Traceback" not in text, (path, text)
        assert isinstance(result.exception, SystemExit), (path, result.exception)
        # Help needs no settings.
        help_result = runner.invoke(app, [*path, "--help"], env={"NOVA_RECALL_TOP_K": "abc"})
        assert help_result.exit_code == 0 and "Usage" in help_result.output, path
