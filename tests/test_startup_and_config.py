"""Start-up refuses unsafe or broken configuration with a clear message, and configuration is read right."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import InsecureHostError, Settings, check_startup_safety
from content.common import DEFAULT_CONTENT_DIR
from dialogs.roles import Role, StaticRoleDirectory
from tests.rig.bot_server import ROOT


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "MicrosoftAppId": "", **env}
    return subprocess.run(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60, check=False
    )


def test_local_mode_refuses_a_public_host(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, HOST="0.0.0.0", PORT="1")
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_local_mode_allows_a_public_host_only_when_told() -> None:
    with pytest.raises(InsecureHostError):
        check_startup_safety(Settings(_env_file=None, host="10.1.2.3"))
    check_startup_safety(Settings(_env_file=None, host="10.1.2.3", allow_insecure=True))
    check_startup_safety(Settings(_env_file=None, host="10.1.2.3", app_id="some-app-id"))
    check_startup_safety(Settings(_env_file=None, host="::1"))
    check_startup_safety(Settings(_env_file=None, host="localhost"))


def test_unusable_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = _run_bot(tmp_path, DATABASE_URL="mysql://root@127.0.0.1/test", PORT="1")
    assert result.returncode == 2
    assert "DATABASE_URL must be sqlite or postgresql" in result.stderr


def test_a_broken_content_file_stops_start_up_naming_file_and_line(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    quiz = content / "quiz" / "democracy.yaml"
    text = quiz.read_text()
    quiz.write_text(text.replace("answer: 1", "answer: 9", 1))
    broken_line = next(n for n, line in enumerate(text.splitlines(), 1) if "answer: 1" in line)
    result = _run_bot(tmp_path, SAFESPACE_CONTENT_DIR=str(content), PORT="1")
    assert result.returncode == 2
    assert f"democracy.yaml:{broken_line}" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_read_botbuilder_names_and_id_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MicrosoftAppId", "app-1")
    monkeypatch.setenv("MicrosoftAppPassword", "pw")
    monkeypatch.setenv("MicrosoftAppType", "SingleTenant")
    monkeypatch.setenv("MicrosoftAppTenantId", "tenant-1")
    monkeypatch.setenv("SAFESPACE_DSO_IDS", " AAA-1 , bbb-2,, ")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    settings = Settings(_env_file=None)
    assert (settings.app_id, settings.app_password, settings.app_type, settings.app_tenant_id) == (
        "app-1",
        "pw",
        "SingleTenant",
        "tenant-1",
    )
    assert settings.dso_ids == frozenset({"aaa-1", "bbb-2"})
    assert not settings.local_mode


async def test_static_roles() -> None:
    roles = StaticRoleDirectory(
        dso_ids=frozenset({"D"}),
        director_ids=frozenset({"x"}),
        trainer_ids=frozenset({"t"}),
        staff_ids=frozenset({"s"}),
    )
    assert await roles.roles_of("d") == {Role.DSO, Role.STAFF}
    assert await roles.roles_of("X") == {Role.DIRECTOR, Role.STAFF}
    assert await roles.roles_of("t") == {Role.TRAINER, Role.STAFF}
    assert await roles.roles_of("s") == {Role.STAFF}
    assert await roles.roles_of("someone") == {Role.LEARNER}
    assert await roles.roles_of(None) == {Role.LEARNER}
    assert await roles.roles_of("") == {Role.LEARNER}


def test_database_urls_get_the_async_driver_and_asyncpg_ssl_name() -> None:
    from storage.db import async_url

    assert async_url("sqlite:///./data/x.db").drivername == "sqlite+aiosqlite"
    pg = async_url("postgresql://u:p@db.example:5432/safespace?sslmode=require")
    assert pg.drivername == "postgresql+asyncpg"
    assert dict(pg.query) == {"ssl": "require"}
    assert async_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
