"""The composition root: the only place that builds things. Everything else takes collaborators as arguments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import web
from botbuilder.core import ConversationState, StatePropertyAccessor, TurnContext

from bot import __version__
from bot.answers import Answers
from bot.config import Settings, retention_schedule
from bot.edge.adapter import SafeSpaceAdapter
from bot.edge.card_actions import CardActionRouter
from bot.edge.conversation_log import ConversationLogMiddleware
from bot.edge.conversation_refs import ReferenceRecorder
from bot.edge.health import degraded_reason
from bot.edge.http import MAX_BODY_BYTES, messages_handler
from bot.edge.metrics import Metrics, MetricsServer, backlog_collector
from bot.edge.pause_turns import PauseTurns
from bot.edge.people import People
from bot.edge.personal_chats import PersonalChats
from bot.edge.proactive import Messenger
from bot.edge.sql_storage import SqlStorage
from bot.edge.turn_observer import TurnObserver
from bot.graph.client import Graph, graph_config
from bot.graph.mail import GraphMailNotifier
from bot.graph.people import GraphPeople
from bot.graph.roles import GraphRoleDirectory
from bot.graph.scr_upload import ScrUploader, ScrUploadJob, register_format
from bot.learning.live_quiz import LiveQuizService
from bot.learning.quiz_results import QuizResultRecorder
from bot.learning.signposting import MyReports, OnlineSafety, Signposting
from bot.safeguarding.case_actions import CaseActions
from bot.safeguarding.case_cards import CaseCards
from bot.safeguarding.channel import SafeguardingChannels
from bot.safeguarding.delivery import DeliveryWorker
from bot.safeguarding.follow_ups import FollowUps
from bot.safeguarding.monthly_report import MonthlyReports
from bot.safeguarding.notifier import LogNotifier, Notifier
from bot.safeguarding.records import CaseRecords
from bot.safeguarding.reminders import Reminders
from bot.safeguarding.report_intake import ReportIntake
from bot.safeguarding.retention import DailyRetention
from bot.safeguarding.safety_net import READING, SafetyNet
from bot.safeguarding.staff_form import StaffForm
from bot.safeguarding.urgent_drafts import UrgentDrafts
from bot.teams_bot import GroupCommand, TeamsBot
from bot.training.records import TrainingService
from bot.training.reminders import TrainingReminders
from bot.training.staff import StaffPopulation
from bot.voice.debates import DebateService
from bot.voice.surveys import SurveyService, survey_flows
from content.common import ContentError
from content.debate_values import DebateValues
from content.directory import Directory
from content.indicators import Indicators
from content.quiz_bank import QuestionBank
from content.routing import ROUTING_FILE, Routing
from content.surveys import SurveyBook
from content.texts import Texts
from content.training import TrainingCourses
from dialogs.flow import Flow
from dialogs.pauses import Pauses
from dialogs.quiz_dialog import QUIZ, QuizDialog
from dialogs.report_worry_dialog import DISCARD, REPORT_WORRY, RESUME, ReportWorryDialog
from dialogs.roles import Role, RoleDirectory, StaticRoleDirectory
from dialogs.router import Router
from dialogs.urgent_drafts import UrgentWatch
from storage.batch_writer import LogBatcher
from storage.db import Database, describe, open_database, ping
from storage.log_redaction import install_log_redaction
from storage.migrate import migrate
from understanding.lexicon import TRIAGE_FILE, Severity, Triage
from understanding.reader import Understanding

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    log_writer: LogBatcher
    state_storage: SqlStorage
    adapter: SafeSpaceAdapter
    bot: TeamsBot
    delivery: DeliveryWorker
    reminders: Reminders
    channels: SafeguardingChannels
    understanding: Understanding
    notifier: LogNotifier  # the log, always; alert e-mail escalates to it
    live_quiz: LiveQuizService
    graph: Graph | None = None
    graph_roles: GraphRoleDirectory | None = None
    graph_people: GraphPeople | None = None
    alert_mail: GraphMailNotifier | None = None
    pauses: PauseTurns | None = None
    training: TrainingService | None = None
    training_reminders: TrainingReminders | None = None
    scr_upload: ScrUploadJob | None = None
    surveys: SurveyService | None = None
    debates: DebateService | None = None
    monthly_report: MonthlyReports | None = None  # issue 11: the directors' report on the first working day
    retention: DailyRetention | None = None  # the daily retention run (issue 11)
    metrics: Metrics | None = None
    metrics_server: MetricsServer | None = None  # serving only when SAFESPACE_METRICS_PORT is set
    urgent_drafts: UrgentDrafts | None = None


SERVICES = web.AppKey("services", Services)

ONLINE_SAFETY = "online_safety"
WHO_CAN_I_TALK_TO = "who_can_i_talk_to"
MY_REPORTS = "my_reports"
TRAINING = "training"
RECORDS_FLOWS = ("open_cases", "my_cases", "case_history", "directors_report")  # issue 11, DSOs and directors


def _topic_id(directory: Directory, text: str) -> str | None:
    topic = directory.find_topic(text)
    return topic.id if topic is not None else None


def build_flows(
    *,
    texts: Texts,
    routing: Routing,
    directory: Directory,
    bank: QuestionBank,
    intake: ReportIntake,
    staff_form: StaffForm,
    quiz_recorder: QuizResultRecorder,
    my_reports: MyReports,
    parked_reports: StatePropertyAccessor | None = None,
    pauses: Pauses | None = None,
    training: TrainingService | None = None,
    records: CaseRecords | None = None,
    urgent_watch: UrgentWatch | None = None,
) -> list[Flow]:
    """Every feature a person can start, in menu order. The words that start each come from routing.yaml."""

    def words(flow_id: str) -> tuple[str, ...]:
        entry = routing.flows.get(flow_id)
        return entry.phrases if entry else ()

    def patterns(flow_id: str) -> tuple[str, ...]:
        entry = routing.flows.get(flow_id)
        return entry.patterns if entry else ()

    signposting = Signposting(directory, texts)
    online = OnlineSafety(directory, texts)
    report = ReportWorryDialog(
        texts, directory, intake.abandoned, parked=parked_reports, pauses=pauses, urgent_watch=urgent_watch
    )
    flows = [
        Flow(
            id=REPORT_WORRY,
            dialog=report,
            menu_label=texts.get("report.menu"),
            command="report",
            on_complete=intake.completed,
            start_override=staff_form.offer,
            words=words(REPORT_WORRY),
            patterns=patterns(REPORT_WORRY),
            # The unfinished-report card's buttons.
            commands=((texts.get("report.resume_command"), RESUME), (texts.get("report.discard_command"), DISCARD)),
            handles_interruptions=True,
            menu_notice=report.parked_notice,
        ),
        Flow(
            id=ONLINE_SAFETY,
            dialog=None,
            menu_label=texts.get("online_safety.menu"),
            command="online safety",
            start_override=online.show,
            words=words(ONLINE_SAFETY),
            patterns=patterns(ONLINE_SAFETY),
        ),
        Flow(
            id=QUIZ,
            dialog=QuizDialog(bank, texts),
            menu_label=texts.get("quiz.menu"),
            command="quiz",
            on_complete=quiz_recorder,
            words=words(QUIZ),
            patterns=patterns(QUIZ),
        ),
        Flow(
            id=WHO_CAN_I_TALK_TO,
            dialog=None,
            menu_label=texts.get("signposting.menu"),
            command="who can i talk to",
            start_override=signposting.who_can_i_talk_to,
            words=words(WHO_CAN_I_TALK_TO),
            patterns=patterns(WHO_CAN_I_TALK_TO),
            commands=signposting.button_commands(),
            supportive=True,
        ),
        Flow(
            id=MY_REPORTS,
            dialog=None,
            menu_label=texts.get("my_reports.menu"),
            command="my reports",
            start_override=my_reports.show,
            in_menu=False,
            words=words(MY_REPORTS),
            patterns=patterns(MY_REPORTS),
        ),
    ]
    if training is not None:
        # Staff and associates only: in their menu, and refused kindly (and logged) for anyone else who types it.
        flows.append(
            Flow(
                id=TRAINING,
                dialog=None,
                menu_label=texts.get("training.menu"),
                command="training status",
                roles=frozenset({Role.STAFF}),
                start_override=training.start,
                refuse=training.refuse,
                words=words(TRAINING),
                patterns=patterns(TRAINING),
            )
        )
    if records is not None:
        # The safeguarding team's records: listed in help only for them; anyone else typing one is told they
        # can't, and the attempt is recorded (Flow.on_refused).
        starts = (records.open_cases_flow, records.my_cases_flow, records.case_flow, records.report_flow)
        for flow_id, start in zip(RECORDS_FLOWS, starts, strict=True):
            flows.append(
                Flow(
                    id=flow_id,
                    dialog=None,
                    menu_label=texts.get(f"records.menu.{flow_id}"),
                    command=texts.get(f"records.commands.{flow_id}"),
                    start_override=start,
                    roles=frozenset({Role.DSO, Role.DIRECTOR}),
                    in_menu=False,
                    words=words(flow_id),
                    patterns=patterns(flow_id),
                    on_refused=records.refused,
                )
            )
    return flows


def group_commands(routing: Routing, handlers: Mapping[str, GroupCommand]) -> dict[str, GroupCommand]:
    """Each phrase of routing.yaml's group_commands with its command's handler. A command there with no handler, or
    a handler with no phrases, stops start-up: a typo must not quietly switch a command off."""
    differ = sorted(set(routing.group_commands) ^ set(handlers))
    if differ:
        raise ContentError(f"{ROUTING_FILE}: group_commands and the bot's handlers differ on {', '.join(differ)}")
    return {phrase: handlers[command] for command, phrases in routing.group_commands.items() for phrase in phrases}


def build_services(settings: Settings, database: Database) -> Services:
    """Content, storage, state, the adapter, then the features and the bot: dependency order."""
    texts = Texts.load(settings.content_dir)
    bank = QuestionBank.load(settings.content_dir)
    directory = Directory.load(settings.content_dir)
    triage = Triage.load(settings.content_dir / TRIAGE_FILE)
    # The model files are checked (SHA-256) and loaded once per process, however many apps a test starts.
    understanding = Understanding.shared(triage, {e.id for e in directory.entries()}, settings.content_dir)
    routing = Routing.load(settings.content_dir)
    indicators = Indicators.load(settings.content_dir)
    sessionmaker = database.sessions
    state_storage = SqlStorage(sessionmaker, database.read_engine)
    conversation_state = ConversationState(state_storage)
    static_roles = StaticRoleDirectory(
        dso_ids=settings.dso_ids,
        director_ids=settings.director_ids,
        staff_ids=settings.staff_ids,
        trainer_ids=settings.trainer_ids,
    )
    config = graph_config(settings)
    graph = Graph(config) if config is not None else None
    groups = {
        Role.DSO: settings.dso_group_id,
        Role.DIRECTOR: settings.director_group_id,
        Role.STAFF: settings.staff_group_id,
        Role.TRAINER: settings.trainer_group_id,
    }
    roles: RoleDirectory = static_roles
    graph_roles = None
    if graph is not None and any(groups.values()):
        graph_roles = GraphRoleDirectory(
            graph, groups=groups, fallback=static_roles, ttl_seconds=settings.role_cache_seconds
        )
        roles = graph_roles
    elif any(groups.values()):
        log.warning("Entra group ids are set but Microsoft Graph is not configured: roles come from the ID lists")
    people = People()
    graph_people = GraphPeople(graph, people) if graph is not None else None
    log_notifier = LogNotifier()
    notifier: Notifier = log_notifier
    alert_mail = None
    if graph is not None and settings.alert_mailbox and settings.alert_recipients:
        alert_mail = GraphMailNotifier(
            graph=graph,
            database=database,
            mailbox=settings.alert_mailbox,
            recipients=sorted(settings.alert_recipients),
            escalate_to=log_notifier,
        )
        notifier = alert_mail
    elif settings.alert_mailbox:
        log.warning("SAFESPACE_ALERT_MAILBOX is set without Graph or SAFESPACE_ALERT_RECIPIENTS: alerts go to the log")
    adapter = SafeSpaceAdapter(settings, texts, conversation_state, directory)
    # Outermost, so each turn's time and outcome cover everything below it (issue 12, /metrics and the log).
    metrics = Metrics()
    metrics.add_collector(backlog_collector(database))
    TurnObserver(metrics).install(adapter)
    log_writer = LogBatcher(database.engine)
    adapter.use(ConversationLogMiddleware(log_writer))

    messenger = Messenger(adapter, settings.app_id)
    personal_chats = PersonalChats(sessionmaker, messenger)
    case_cards = CaseCards(texts, settings.dso_ids, people, indicators)
    delivery = DeliveryWorker(
        database=database,
        messenger=messenger,
        cards=case_cards,
        roles=roles,
        notifier=notifier,
        chats=personal_chats,
        poll_seconds=settings.delivery_poll_seconds,
        lease_seconds=settings.delivery_lease_seconds,
    )
    intake = ReportIntake(database, texts, delivery)
    pauses = PauseTurns(adapter, settings.app_id, settings.report_pause_seconds)
    urgent_drafts = UrgentDrafts(
        database=database,
        adapter=adapter,
        app_id=settings.app_id,
        minutes=settings.urgent_draft_minutes,
        check_seconds=settings.urgent_draft_check_seconds,
    )
    staff_form = StaffForm(roles=roles, texts=texts, indicators=indicators, intake=intake)
    card_actions = CardActionRouter()
    CaseActions(
        database=database,
        roles=roles,
        texts=texts,
        cards=case_cards,
        delivery=delivery,
        people=people,
        chats=personal_chats,
    ).register(card_actions)
    staff_form.register(card_actions)
    live_quiz = LiveQuizService(
        database=database, roles=roles, texts=texts, bank=bank, messenger=messenger, delivery=delivery, people=people
    )
    live_quiz.register(card_actions)
    courses = TrainingCourses.load(settings.content_dir)
    training = TrainingService(
        database=database,
        roles=roles,
        texts=texts,
        courses=courses,
        people=people,
        staff=StaffPopulation(
            database=database,
            roles=roles,
            people=people,
            by_email=graph_people.id_for if graph_people is not None else None,
            warm_names=graph_people.warm if graph_people is not None else None,
        ),
        delivery=delivery,
    )
    training.register(card_actions)
    training_reminders = TrainingReminders(
        database=database,
        roles=roles,
        texts=texts,
        courses=courses,
        service=training,
        delivery=delivery,
        check_seconds=settings.training_check_seconds,
    )
    scr_upload = None
    if graph is not None and settings.scr_site_id and settings.scr_drive_path:
        scr_upload = ScrUploadJob(
            database=database,
            uploader=ScrUploader(graph, site_id=settings.scr_site_id, drive_path=settings.scr_drive_path),
            build=training.register_file,
            file_format=register_format(settings.scr_drive_path),
            check_seconds=settings.training_check_seconds,
        )
    elif settings.scr_site_id or settings.scr_drive_path:
        log.warning("SAFESPACE_SCR_SITE_ID and SAFESPACE_SCR_DRIVE_PATH both need Graph: the register is not uploaded")
    reminders = Reminders(
        database=database,
        roles=roles,
        texts=texts,
        delivery=delivery,
        notifier=notifier,
        people=people,
        ack_minutes=settings.ack_minutes,
        urgent_ack_minutes=settings.urgent_ack_minutes,
        check_seconds=settings.reminder_check_seconds,
    )
    safeguarding_channels = SafeguardingChannels(
        database=database,
        roles=roles,
        texts=texts,
        delivery=delivery,
        people=people,
        messenger=messenger,
        cards=case_cards,
        recheck_seconds=settings.channel_recheck_seconds,
        trust_seconds=settings.channel_trust_seconds,
    )
    safety_net = SafetyNet(
        understanding=understanding,
        directory=directory,
        texts=texts,
        intake=intake,
        database=database,
        delivery=delivery,
        metrics=metrics,
    )

    # Learner voice (bot/voice/): pulse surveys in learners' 1:1 chats, debate polls in session chats. A survey
    # comment sent from a card is read by the safety net in that turn; a typed one was read already, as every
    # message is, and the survey asks what the reading was.
    async def survey_comment_at_risk(context: TurnContext, text: str) -> bool:
        reading = await safety_net.check(context, text)
        return reading.severity is Severity.HIGH

    def typed_at_risk(context: TurnContext) -> bool | None:
        reading = context.turn_state.get(READING)
        return None if reading is None else reading.severity is Severity.HIGH

    surveys = SurveyService(
        database=database,
        roles=roles,
        texts=texts,
        book=SurveyBook.load(settings.content_dir),
        delivery=delivery,
        safety_check=survey_comment_at_risk,
        typed_check=typed_at_risk,
        learner_groups=settings.learner_groups,
        secret=settings.voice_secret,
        check_seconds=settings.survey_check_seconds,
    )
    surveys.register(card_actions)
    debates = DebateService(
        database=database,
        roles=roles,
        texts=texts,
        values=DebateValues.load(settings.content_dir),
        messenger=messenger,
        delivery=delivery,
        secret=settings.voice_secret,
    )
    debates.register(card_actions)

    def route_words(flow_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        entry = routing.flows.get(flow_id)
        return (entry.phrases, entry.patterns) if entry else ((), ())

    records = CaseRecords(
        database=database,
        roles=roles,
        texts=texts,
        channels=safeguarding_channels,
        chats=personal_chats,
        delivery=delivery,
        ack_minutes=settings.ack_minutes,
        urgent_ack_minutes=settings.urgent_ack_minutes,
        terms=settings.terms,
    )
    records.register(card_actions)
    monthly_report = MonthlyReports(
        database=database,
        roles=roles,
        texts=texts,
        records=records,
        delivery=delivery,
        check_seconds=settings.report_check_seconds,
        closed_days=settings.closed_days,
    )
    bot = TeamsBot(
        conversation_state=conversation_state,
        texts=texts,
        roles=roles,
        references=ReferenceRecorder(sessionmaker),
        people=people,
        flows=build_flows(
            texts=texts,
            routing=routing,
            directory=directory,
            bank=bank,
            intake=intake,
            staff_form=staff_form,
            quiz_recorder=QuizResultRecorder(sessionmaker, bank),
            my_reports=MyReports(database, texts),
            parked_reports=conversation_state.create_property("ParkedReport"),
            pauses=pauses,
            training=training,
            records=records,
            urgent_watch=urgent_drafts,
        )
        + survey_flows(surveys, texts, route_words),
        router=Router(topic_flow=ONLINE_SAFETY, find_topic=lambda text: _topic_id(directory, text)),
        answers=Answers(understanding, directory, texts),
        safety_net=safety_net,
        card_actions=card_actions,
        group_commands=group_commands(
            routing,
            {
                "start_quiz": live_quiz.start,
                "end_quiz": live_quiz.end_command,
                "stop_quiz": live_quiz.stop_command,
                "debate": debates.start,
                "open_cases": records.open_cases,
                "my_cases": records.my_cases,
                "case_history": records.case_command,
                "directors_report": records.report_command,
            },
        ),
        channels=safeguarding_channels,
        follow_ups=FollowUps(database=database, intake=intake, texts=texts),
    )
    pauses.bind(bot.on_pause)
    retention = None
    if settings.retention_daily:
        retention = DailyRetention(
            database=database, schedule=retention_schedule(settings), check_seconds=settings.retention_check_seconds
        )
    urgent_drafts.bind(bot.on_pause)
    return Services(
        settings=settings,
        database=database,
        log_writer=log_writer,
        state_storage=state_storage,
        adapter=adapter,
        bot=bot,
        delivery=delivery,
        reminders=reminders,
        channels=safeguarding_channels,
        understanding=understanding,
        notifier=log_notifier,
        live_quiz=live_quiz,
        graph=graph,
        graph_roles=graph_roles,
        graph_people=graph_people,
        alert_mail=alert_mail,
        pauses=pauses,
        training=training,
        training_reminders=training_reminders,
        scr_upload=scr_upload,
        surveys=surveys,
        debates=debates,
        monthly_report=monthly_report,
        retention=retention,
        metrics=metrics,
        metrics_server=(
            MetricsServer(metrics, settings.metrics_host, settings.metrics_port)
            if settings.metrics_port is not None
            else None
        ),
        urgent_drafts=urgent_drafts,
    )


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    # The kind only: a file path or host name tells an unauthenticated caller about the machine.
    database = services.database.engine.url.get_backend_name()
    if not await ping(services.database.engine):
        return web.json_response({"status": "unavailable", "database": database, "version": __version__}, status=503)
    reason = degraded_reason(services.settings, graph_roles=services.graph_roles is not None)
    if reason is not None:
        # 200 all the same: a load balancer must keep an instance that can still take reports; monitoring reads
        # the status.
        return web.json_response({"status": "degraded", "reason": reason, "database": database, "version": __version__})
    return web.json_response({"status": "ok", "database": database, "version": __version__})


async def warm_graph(services: Services) -> None:
    """Roles and the safeguarding team's names from Graph before the first turn needs them; failures only log."""
    if services.graph_roles is None:
        return
    await services.graph_roles.refresh()
    if services.graph_people is not None:
        team = await services.graph_roles.members(Role.DSO) | await services.graph_roles.members(Role.DIRECTOR)
        await services.graph_people.warm(team)


def create_app(settings: Settings) -> web.Application:
    """Content is loaded and checked here, before anything listens: a bad file stops start-up."""
    install_log_redaction()
    database = open_database(settings.database_url)
    services = build_services(settings, database)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICES] = services

    async def database_context(app: web.Application) -> AsyncIterator[None]:
        await migrate(database.engine)
        log.info("case store ready: %s", describe(database.engine))
        # Started only once the schema is there; anything left in the outbox by a crash is sent now.
        services.delivery.start()
        services.reminders.start()
        services.channels.start()
        services.live_quiz.start_background()
        for job in (services.training_reminders, services.scr_upload):
            if job is not None:
                job.start()
        if services.surveys is not None:
            services.surveys.start_background()
        if services.monthly_report is not None:
            services.monthly_report.start()
        if services.urgent_drafts is not None:
            services.urgent_drafts.start()
        if services.alert_mail is not None:
            services.alert_mail.start()
        if services.retention is not None:
            services.retention.start()
        warming = asyncio.create_task(warm_graph(services), name="graph-warm-up")
        if services.metrics_server is not None:
            await services.metrics_server.start()
        yield
        if services.metrics_server is not None:
            await services.metrics_server.stop()
        warming.cancel()
        if services.retention is not None:
            await services.retention.stop()
        await services.live_quiz.stop()
        for job in (services.scr_upload, services.training_reminders):
            if job is not None:
                await job.stop()
        if services.surveys is not None:
            await services.surveys.stop()
        if services.debates is not None:
            await services.debates.stop()
        if services.monthly_report is not None:
            await services.monthly_report.stop()
        if services.urgent_drafts is not None:
            await services.urgent_drafts.stop()
        await services.reminders.stop()
        await services.channels.stop()
        await services.delivery.stop()
        if services.pauses is not None:
            await services.pauses.stop()
        if services.alert_mail is not None:
            await services.alert_mail.stop()  # after the workers that raise alerts
        if services.graph is not None:
            await services.graph.close()
        await services.adapter.close()
        await services.log_writer.close()
        await services.state_storage.close()
        await database.dispose()

    app.cleanup_ctx.append(database_context)
    if (reason := degraded_reason(settings, graph_roles=services.graph_roles is not None)) is not None:
        log.error("Safe Space is degraded: %s", reason)
    app.router.add_post(
        "/api/messages",
        messages_handler(
            services.adapter, services.bot, local_mode=settings.local_mode, tenants=settings.allowed_tenants
        ),
    )
    app.router.add_get("/healthz", healthz)
    return app
