"""The composition root: the only place that builds things. Everything else takes collaborators as arguments."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from botbuilder.core import ConversationState

from bot import __version__
from bot.adapter import SafeSpaceAdapter
from bot.card_actions import CardActionRouter
from bot.config import Settings
from bot.conversation_log import ConversationLogMiddleware
from bot.conversation_refs import ReferenceRecorder
from bot.http import messages_handler
from bot.quiz_results import QuizResultRecorder
from bot.roles import StaticRoleDirectory
from bot.sql_storage import SqlStorage
from bot.teams_bot import TeamsBot
from content.quiz_bank import QuestionBank
from content.texts import Texts
from dialogs.flow import Flow
from dialogs.quiz_dialog import QUIZ, QuizDialog
from storage.batch_writer import LogBatcher
from storage.db import Database, describe, open_database, ping
from storage.migrate import migrate

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    log_writer: LogBatcher
    adapter: SafeSpaceAdapter
    bot: TeamsBot


SERVICES = web.AppKey("services", Services)


def quiz_flow(texts: Texts, bank: QuestionBank, recorder: QuizResultRecorder) -> Flow:
    return Flow(
        id=QUIZ,
        dialog=QuizDialog(bank, texts),
        menu_label=texts.get("quiz.menu"),
        command="quiz",
        words=("british values quiz", "british values", "quiz me", "take a quiz", "try another quiz"),
        on_complete=recorder,
    )


def build_services(settings: Settings, database: Database) -> Services:
    """Storage, then state, then dialogs and the bot, then the adapter: dependency order."""
    texts = Texts.load(settings.content_dir)
    bank = QuestionBank.load(settings.content_dir)
    sessionmaker = database.sessions
    conversation_state = ConversationState(SqlStorage(sessionmaker, database.read_engine))
    roles = StaticRoleDirectory(
        dso_ids=settings.dso_ids,
        director_ids=settings.director_ids,
        staff_ids=settings.staff_ids,
        trainer_ids=settings.trainer_ids,
    )
    bot = TeamsBot(
        conversation_state=conversation_state,
        texts=texts,
        roles=roles,
        references=ReferenceRecorder(sessionmaker),
        flows=[quiz_flow(texts, bank, QuizResultRecorder(sessionmaker, bank))],
        card_actions=CardActionRouter(),
    )
    adapter = SafeSpaceAdapter(settings, texts, conversation_state)
    log_writer = LogBatcher(sessionmaker)
    adapter.use(ConversationLogMiddleware(log_writer))
    return Services(settings=settings, database=database, log_writer=log_writer, adapter=adapter, bot=bot)


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    database = describe(services.database.engine)
    if await ping(services.database.engine):
        return web.json_response({"status": "ok", "database": database, "version": __version__})
    return web.json_response({"status": "unavailable", "database": database, "version": __version__}, status=503)


def create_app(settings: Settings) -> web.Application:
    """Content is loaded and checked here, before anything listens: a bad file stops start-up."""
    database = open_database(settings.database_url)
    services = build_services(settings, database)
    app = web.Application()
    app[SERVICES] = services

    async def database_context(app: web.Application) -> AsyncIterator[None]:
        await migrate(database.engine)
        log.info("case store ready: %s", describe(database.engine))
        yield
        await services.log_writer.close()
        await database.dispose()

    app.cleanup_ctx.append(database_context)
    app.router.add_post("/api/messages", messages_handler(services.adapter, services.bot))
    app.router.add_get("/healthz", healthz)
    return app
