"""Configuration comes from the environment only and bad values stop start-up, naming the variable."""
from __future__ import annotations

import pytest

import config


def test_defaults_are_embedded_sqlite(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    settings = config.load({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("ixdesk.db")
    assert settings.embedded_broker and not settings.production
    assert len(settings.secret_key) == 64
    assert (tmp_path / "secret_key").read_text() == settings.secret_key
    assert config.load({}).secret_key == settings.secret_key  # generated once, then kept


@pytest.mark.parametrize("env, name", [
    ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
    ({"DATABASE_URL": "postgresql://u@h:5432/"}, "DATABASE_URL"),
    ({"BROKER_URL": "kafka://x"}, "BROKER_URL"),
    ({"BROKER_URL": "redis://127.0.0.1:6379/0"}, "SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"),
    ({"MAX_UPLOAD_MB": "0"}, "MAX_UPLOAD_MB"),
    ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://"}, "SMTP_URL"),
    ({"MAIL_FROM": "not an address"}, "MAIL_FROM"),
    ({"BASE_URL": "desk.example.com"}, "BASE_URL"),
    ({"DIGEST_HOUR": "25"}, "DIGEST_HOUR"),
    ({"CATALOG_DIR": "/nonexistent/catalog"}, "CATALOG_DIR"),
    ({"DESK_TIMEZONE": "Mars/Olympus"}, "DESK_TIMEZONE"),
])
def test_invalid_values_name_the_variable(env, name, tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    with pytest.raises(config.ConfigError) as err:
        config.load(env)
    assert str(err.value).startswith(name + ":")


def test_production_requires_secret_and_secures_cookies():
    settings = config.load({"BROKER_URL": "redis://127.0.0.1:6379/0", "SECRET_KEY": "x" * 32,
                            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test", "STORAGE_DIR": "/tmp/s"})
    assert settings.production and settings.cookie_secure
    assert str(settings.storage_dir) == "/tmp/s"


def test_workers_do_not_need_the_session_secret():
    env = {"BROKER_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    with pytest.raises(config.ConfigError, match="^SECRET_KEY"):
        config.load(env)
    assert config.load(env, web=False).secret_key == ""
