"""Settings: defaults, file, environment, and errors that name the key, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from zentrale.config.settings import Settings, SettingsError, env_overrides, load_settings

EXAMPLE = Path(__file__).parents[3] / "config" / "zentrale.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zentrale.yaml"
    path.write_text(text)
    return path


def test_example_file_is_valid_and_matches_defaults() -> None:
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_the_example_file_describes_every_section() -> None:
    tree = YAML(typ="safe").load(EXAMPLE.read_text())
    assert set(tree) == set(Settings.model_fields)


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "ari:\n  url: http://pbx:8088/ari/\n  app: node-b\nnode: b\n")
    settings = load_settings(path, environ={})
    assert settings.ari.url == "http://pbx:8088/ari"  # trailing slash dropped
    assert (settings.ari.app, settings.node) == ("node-b", "b")
    assert settings.logging.level == "info"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "logging:\n  level: warning\n")
    env = {
        "ZENTRALE_LOGGING__LEVEL": "debug",
        "ZENTRALE_ARI__PASSWORD": "s3cret",
        "ZENTRALE_ARI__REQUEST_TIMEOUT": "2.5",
        "OTHER": "x",
    }
    settings = load_settings(path, environ=env)
    assert settings.logging.level == "debug"
    assert settings.ari.secret().get_secret_value() == "s3cret"
    assert settings.ari.request_timeout == 2.5


def test_env_overrides_nest_on_double_underscore() -> None:
    tree = env_overrides({"ZENTRALE_A__B_C": "1", "ZENTRALE_TOP": "2", "ZENTRALE_CONFIG": "x"})
    assert tree == {"a": {"b_c": "1"}, "top": "2"}


def test_bad_value_names_key_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "ari:\n  url: http://x/ari\n  ping_interval: -3\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:3:3: ari.ping_interval: ")
    assert "greater than 0" in problem


def test_unknown_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "logging:\n  level: info\n  colour: yes\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert caught.value.problems == [
        f"{path}:3:3: logging.colour: unknown setting (check the spelling; see "
        "config/zentrale.yaml for every key)"
    ]


def test_several_problems_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "ari:\n  url: ftp://x\nlogging:\n  level: loud\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}:2:3: ari.url: must start with http://")
    assert problems[1].startswith(f"{path}:4:3: logging.level: Input should be")


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(None, environ={"ZENTRALE_SANDBOX__HTTP_PORT": "99999"})
    (problem,) = caught.value.problems
    assert problem.startswith("sandbox.http_port: Input should be less than or equal to 65535")
    assert problem.endswith("(from environment variable ZENTRALE_SANDBOX__HTTP_PORT)")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "ari:\n  url: [unclosed\nnode: x\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert caught.value.problems[0].startswith(f"{path}:3:")
    assert "not valid YAML" in caught.value.problems[0]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"nope\.yaml: cannot read the settings file"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r":1:1: the settings file must be a mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"), environ={})


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing\n"), environ={}) == Settings()


def test_secrets_never_in_repr_or_dump(tmp_path: Path) -> None:
    env = {
        "ZENTRALE_ARI__PASSWORD": "hunter2-pw",
        "ZENTRALE_DATABASE__URL": "postgresql+asyncpg://z:dbpass99@db/z",
    }
    settings = load_settings(None, environ=env)
    shown = repr(settings) + str(settings) + str(settings.model_dump(mode="json"))
    assert "hunter2-pw" not in shown
    assert "dbpass99" not in shown


def test_missing_password_names_both_ways_to_set_it() -> None:
    with pytest.raises(SettingsError, match=r"ZENTRALE_ARI__PASSWORD.*password_file"):
        Settings().ari.secret()


def test_password_file_is_read_and_a_missing_one_named(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    ok = load_settings(None, environ={"ZENTRALE_ARI__PASSWORD_FILE": str(secret)})
    assert ok.ari.secret().get_secret_value() == "from-file"
    gone = load_settings(None, environ={"ZENTRALE_ARI__PASSWORD_FILE": str(tmp_path / "no")})
    with pytest.raises(SettingsError, match=r"ari.password_file: cannot read .*/no"):
        gone.ari.secret()
