"""Settings come from the environment; the embedded default fills what it can safely."""

import stat

from core import create_app
from core.config import SETTINGS, settings_from_env
from core.crypto.keys import decode_master_key


def test_embedded_default_generates_its_secrets_once(tmp_path, capsys):
    instance = tmp_path / "instance"
    first = create_app(instance_path=str(instance))
    assert "no CELLULE_MASTER_KEY set" in capsys.readouterr().err
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'cellule.db'}"
    assert first.config["REDIS_URL"] is None
    key_file = instance / "master_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(decode_master_key(first.config["CELLULE_MASTER_KEY"])) == 32
    second = create_app(instance_path=str(instance))
    assert "no CELLULE_MASTER_KEY set" not in capsys.readouterr().err
    assert second.config["CELLULE_MASTER_KEY"] == first.config["CELLULE_MASTER_KEY"]
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_environment_variables_are_read(tmp_path):
    settings = settings_from_env(
        str(tmp_path),
        {
            "DATABASE_URL": "postgresql://app@db/cellule",
            "DATABASE_MIGRATION_URL": "postgres://owner@db/cellule",
            "REDIS_URL": "redis://cache:6379/0",
            "CELLULE_BASE_DOMAIN": "Cellule.Example.org",
            "CELLULE_PREVIOUS_MASTER_KEYS": "a,b",
            "CELLULE_TENANT_DIRECTORY": "on",
        },
    )
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db/cellule"
    assert settings["DATABASE_MIGRATION_URL"] == "postgresql+psycopg://owner@db/cellule"
    assert settings["REDIS_URL"] == "redis://cache:6379/0"
    assert settings["CELLULE_BASE_DOMAIN"] == "cellule.example.org"
    assert settings["CELLULE_PREVIOUS_MASTER_KEYS"] == ["a", "b"]
    assert settings["CELLULE_TENANT_DIRECTORY"] is True
    assert not (tmp_path / "master_key").exists()


def test_readme_documents_every_setting():
    from core import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    for name, _default, _what in SETTINGS:
        assert f"| `{name}` |" in readme, name


def test_readme_opens_with_the_two_commands_ci_runs():
    from core import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text().splitlines()
    assert readme[0] == "```sh"
    assert readme[1:3] == ["make run", "make test"]
    assert readme[3] == "```"
    assert "\nmake test\n" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_outside_sqlite_the_master_key_must_be_given(tmp_path):
    import pytest

    with pytest.raises(RuntimeError, match="SECRET_KEY and CELLULE_MASTER_KEY must be set"):
        create_app(
            {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@127.0.0.1/none"},
            instance_path=str(tmp_path),
        )
    assert not (tmp_path / "master_key").exists()


def test_a_count_that_is_not_a_number_is_refused_by_its_name(tmp_path):
    import pytest

    with pytest.raises(RuntimeError, match="CELLULE_STAFF_IDLE_MINUTES must be a number"):
        settings_from_env(str(tmp_path), {"CELLULE_STAFF_IDLE_MINUTES": "twenty"})
