"""Proof 5: only the allowed Microsoft 365 tenants are answered; any other is refused before any state is read."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text

from bot.config import Settings
from tests.conftest import Rig
from tests.rig.safeguarding import services
from tests.rig.teams import TENANT_ID

OTHER_TENANT = "0badc0de-1111-2222-3333-444455556666"
SECRET_WORDS = "my mate has a knife and is going to hurt someone"


def from_tenant(payload: dict[str, Any], tenant: str | None, *, channel_data: str | None = "same") -> dict[str, Any]:
    """The activity as another organisation's Teams would send it (both places Teams names the tenant)."""
    if tenant is None:
        payload["conversation"].pop("tenantId", None)
    else:
        payload["conversation"]["tenantId"] = tenant
    data_tenant = tenant if channel_data == "same" else channel_data
    if data_tenant is None:
        payload["channelData"].pop("tenant", None)
    else:
        payload["channelData"]["tenant"] = {"id": data_tenant}
    return payload


async def _counts(rig: Rig) -> dict[str, int]:
    async with services(rig).database.engine.connect() as conn:
        return {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("conversation_log", "conversation_ref", "bot_state", "safeguarding_case", "outbox")
        }


def _spy_on_state_reads(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    storage = services(rig).state_storage
    reads: list[list[str]] = []
    original = storage.read

    async def spying_read(keys: list[str]) -> dict[str, object]:
        reads.append(keys)
        return await original(keys)

    monkeypatch.setattr(storage, "read", spying_read)
    return reads


async def _assert_refused(rig: Rig, payload: dict[str, Any], reads: list[list[str]]) -> None:
    before = await _counts(rig)
    status, answer = await rig.personal(rig.cast.learner).post(payload)
    assert status == 403 and "tenant" in answer["error"]
    assert reads == [], "refused before any state was read"
    assert await _counts(rig) == before, "nothing stored: no conversation log row, no reference, no state, no case"


async def test_an_allowed_tenant_is_answered_and_any_other_refused_before_any_state_is_read(
    make_rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rig: Rig = await make_rig(tenant_ids=f"{OTHER_TENANT.replace('0badc0de', 'aaaaaaaa')}, {TENANT_ID.upper()}")
    reads = _spy_on_state_reads(rig, monkeypatch)
    chat = rig.personal(rig.cast.learner)
    caplog.set_level(logging.INFO)

    # Another organisation's Teams, with a high-risk message that would otherwise open a case.
    await _assert_refused(rig, from_tenant(chat.message(SECRET_WORDS), OTHER_TENANT), reads)
    # A card press (invoke) and a conversation update from there are refused the same way.
    await _assert_refused(
        rig, from_tenant(chat.activity("invoke", name="adaptiveCard/action", value={}), OTHER_TENANT), reads
    )
    await _assert_refused(rig, from_tenant(chat.activity("conversationUpdate", membersAdded=[]), OTHER_TENANT), reads)
    # Naming the allowed tenant in one place and another in the other is not enough; naming none is refused too.
    await _assert_refused(rig, from_tenant(chat.message(SECRET_WORDS), TENANT_ID, channel_data=OTHER_TENANT), reads)
    await _assert_refused(rig, from_tenant(chat.message(SECRET_WORDS), None, channel_data=None), reads)
    assert rig.connector.sent == [], "nobody from another tenant hears anything from the bot"

    refusals = [r.getMessage() for r in caplog.records if "tenant not allowed" in r.getMessage()]
    assert len(refusals) == 5 and OTHER_TENANT in refusals[0], "each refusal is logged, with the tenant id"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "knife" not in logged and rig.cast.learner.name not in logged, "never what was written, nor who"

    # The college's own tenant is answered as ever.
    assert await chat.say("help") == 200
    assert await chat.replies(1)
    assert reads


async def test_the_allow_list_defaults_to_the_apps_own_tenant(make_rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # MicrosoftAppTenantId (a single-tenant app's own tenant) is the allow-list when SAFESPACE_TENANT_IDS is unset.
    rig: Rig = await make_rig(app_tenant_id=TENANT_ID)
    reads = _spy_on_state_reads(rig, monkeypatch)
    chat = rig.personal(rig.cast.learner)
    await _assert_refused(rig, from_tenant(chat.message("help"), OTHER_TENANT), reads)
    assert await chat.say("help") == 200
    assert await chat.replies(1)


async def test_local_mode_with_nothing_configured_answers_any_tenant_and_none(make_rig) -> None:
    rig: Rig = await make_rig()
    chat = rig.personal(rig.cast.learner)
    assert services(rig).settings.allowed_tenants == frozenset()
    status, _ = await chat.post(from_tenant(chat.message("help"), OTHER_TENANT))
    assert status == 200
    # The Bot Framework Emulator names no tenant at all.
    payload = from_tenant(chat.message("help"), None, channel_data=None)
    payload["channelId"] = "emulator"
    status, _ = await chat.post(payload)
    assert status == 200
    await rig.connector.wait_count(2)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFESPACE_TENANT_IDS", f" {TENANT_ID.upper()} ,{OTHER_TENANT},")
    monkeypatch.setenv("MicrosoftAppTenantId", "11111111-2222-3333-4444-555555555555")
    assert Settings(_env_file=None).allowed_tenants == frozenset({TENANT_ID, OTHER_TENANT})
    monkeypatch.delenv("SAFESPACE_TENANT_IDS")
    assert Settings(_env_file=None).allowed_tenants == frozenset({"11111111-2222-3333-4444-555555555555"})
    monkeypatch.delenv("MicrosoftAppTenantId")
    assert Settings(_env_file=None).allowed_tenants == frozenset()
