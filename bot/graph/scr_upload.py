"""The Single Central Register into SharePoint: once a week the training register is uploaded to the provider's
document library (policy 4.2: "recorded and added to the Single Central Register", kept in SharePoint).

A small file goes up in one request, `PUT /drives/{drive}/items/root:/{path}:/content`, after one read of the
site's default library. Graph.call retries throttling (Retry-After honoured) and fetches a fresh token when Graph
refuses one. Which week was uploaded is kept in the case store, so one instance uploads it, once; a failure is
tried again on a later pass.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.drive import Drive
from msgraph.generated.models.drive_item import DriveItem
from msgraph.generated.sites.item.drive.drive_request_builder import DriveRequestBuilder
from msgraph.graph_service_client import GraphServiceClient

from bot.edge.background import Periodic, start_up_grace
from bot.graph.client import Graph, GraphError
from storage import training
from storage.db import Database
from storage.types import utcnow

log = logging.getLogger(__name__)


# A simple upload takes files up to 250 MB; the register is a few hundred kilobytes at most.
SIMPLE_UPLOAD_LIMIT: Final = 250 * 1024 * 1024
RETRY_SECONDS: Final = 900.0

BuildRegister = Callable[[str], Awaitable[tuple[bytes, int]]]


def register_format(drive_path: str) -> str:
    """csv or xlsx, from the file name the provider chose."""
    return "csv" if drive_path.lower().endswith(".csv") else "xlsx"


class ScrUploader:
    def __init__(self, graph: Graph, *, site_id: str, drive_path: str) -> None:
        self._graph = graph
        self._site_id = site_id
        self._path = drive_path.strip().strip("/")
        if not self._path:
            raise ValueError("SAFESPACE_SCR_DRIVE_PATH must name a file, e.g. 'Safeguarding/SCR training.xlsx'")

    async def upload(self, content: bytes) -> DriveItem | None:
        if len(content) > SIMPLE_UPLOAD_LIMIT:
            raise GraphError("the register is too large for a simple upload")
        query = DriveRequestBuilder.DriveRequestBuilderGetQueryParameters(select=["id"])

        async def library(client: GraphServiceClient) -> Drive | None:
            return await client.sites.by_site_id(self._site_id).drive.get(RequestConfiguration(query_parameters=query))

        drive = await self._graph.call("find the SharePoint library for the register", library)
        if drive is None or not drive.id:
            raise GraphError("the SharePoint site has no document library")
        drive_id = drive.id

        async def put(client: GraphServiceClient) -> DriveItem | None:
            item = client.drives.by_drive_id(drive_id).items.by_drive_item_id(f"root:/{self._path}:")
            return await item.content.put(content)

        # Throttled uploads may wait a little longer than a turn's Graph calls: nobody is waiting on this one.
        return await self._graph.call("upload the Single Central Register", put, max_retry_after=120.0)


class ScrUploadJob:
    """Checks every `check_seconds` whether this week's register has gone up; uploads it if not."""

    def __init__(
        self,
        *,
        database: Database,
        uploader: ScrUploader,
        build: BuildRegister,
        file_format: str,
        check_seconds: float,
        lease_seconds: float = 600.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._db = database
        self._uploader = uploader
        self._build = build
        self._format = file_format
        self._lease = lease_seconds
        self.clock = clock
        self._loop = Periodic("scr-upload", self._pass, check_seconds, first_delay=start_up_grace(check_seconds))

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> int:
        await self.run_once()
        return 0

    async def run_once(self) -> bool:
        """Upload this week's register if nobody has; True when this call uploaded it."""
        now = self.clock()
        iso = now.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
        async with self._db.sessions.begin() as session:
            mine = await training.claim_upload(session=session, week=week, now=now, lease_seconds=self._lease)
        if not mine:
            return False
        rows: int | None = None
        error: str | None = None
        retry = RETRY_SECONDS
        try:
            content, rows = await self._build(self._format)
            await self._uploader.upload(content)
        except GraphError as exc:
            error = str(exc)
            retry = max(retry, exc.retry_after or 0.0)
        except Exception as exc:  # a background job must never stop the bot; the week is tried again
            log.exception("Single Central Register upload failed")
            error = f"{type(exc).__name__}"
        async with self._db.sessions.begin() as session:
            await training.finish_upload(
                session=session, week=week, now=self.clock(), rows=rows, error=error, retry_seconds=retry
            )
        if error is not None:
            log.warning("Single Central Register upload for %s failed (%s); will try again", week, error)
            return False
        log.info("Single Central Register uploaded for %s: %d rows", week, rows or 0)
        return True
