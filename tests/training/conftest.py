"""The fake Graph server for the training tests: a SharePoint site for the register, and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.rig.fake_graph import CLIENT_ID, CLIENT_SECRET, TENANT, FakeGraph, Tls, make_tls

SITE = "qualitrain.sharepoint.com,1111,2222"
DRIVE = "b!safeguarding-master"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def fake(tls: Tls) -> AsyncIterator[FakeGraph]:
    graph = await FakeGraph(tls).start()
    graph.add_site(SITE, DRIVE)
    yield graph
    await graph.stop()


def graph_settings(fake: FakeGraph) -> dict[str, Any]:
    return {
        "graph_tenant_id": TENANT,
        "graph_client_id": CLIENT_ID,
        "graph_client_secret": CLIENT_SECRET,
        "graph_base_url": fake.graph_url,
        "graph_authority": fake.authority,
        "graph_ca_bundle": str(fake.tls.ca_path),
    }
