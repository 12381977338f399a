#!/usr/bin/env python3
"""Try Safe Space in the Microsoft 365 Agents Playground (Microsoft's local Teams client) with one command:

    python3 scripts/try_locally.py [--bot-port 3978] [--port 56150]

Creates or updates `.venv` the way `python3 dev.py run` does, installs the pinned playground (npm
`@microsoft/m365agentsplayground`, in tests/playground) on first use, starts Safe Space on 127.0.0.1 with the
roles of the people in `.m365agentsplayground.yml`, starts the playground, and prints the address to open.
Ctrl+C stops both. Needs Python 3.11+, Node.js 20+ and npm. Nothing leaves this machine.

Each run starts with an empty case store, data/playground.db, so no real case data belongs there. The
playground cannot give a channel fewer members than its team (everyone in the config is in every channel), so
Safe Space would rightly refuse `register safeguarding channel` in "Cases"; this script registers that channel
in the case store directly instead. Only ever for this trial store.

The playground's window always types as the config's current user, Alex Learner, a learner.

The functions below are also used by tests/test_playground_e2e.py. The top of this file needs only the
standard library, because it runs before `.venv` exists; it re-runs itself with `.venv`'s Python.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / ".m365agentsplayground.yml"
PLAYGROUND_DIR = ROOT / "tests" / "playground"
PLAYGROUND_PACKAGE = "@microsoft/m365agentsplayground"
PLAYGROUND_CLI = PLAYGROUND_DIR / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
TRIAL_DATABASE = ROOT / "data" / "playground.db"

DEFAULT_BOT_PORT = 3978
DEFAULT_PLAYGROUND_PORT = 56150

# Who holds which role, by playground user id (`id` in .m365agentsplayground.yml). Everyone else is a learner.
ROLE_USERS: dict[str, tuple[str, ...]] = {
    "SAFESPACE_DSO_IDS": ("29:claire-lewis", "29:andrea-lagerberg"),
    "SAFESPACE_DIRECTOR_IDS": ("29:alan-bates",),
    "SAFESPACE_STAFF_IDS": ("29:sam-staff",),
    "SAFESPACE_TRAINER_IDS": ("29:tara-trainer",),
}
CASES_CHANNEL_NAME = "Cases"

# The playground listens on every network interface and has no option to change that. Preloaded into its Node
# process, this makes a `listen(port)` without a host listen on 127.0.0.1 only, so nobody else on the network
# can type into the playground (and so into the unauthenticated local bot) as any of its people.
_LOOPBACK_ONLY_JS = (
    'import net from "node:net";'
    "const listen = net.Server.prototype.listen;"
    "net.Server.prototype.listen = function (...args) {"
    ' if (typeof args[0] === "number" && (args.length === 1 || typeof args[1] === "function"))'
    ' args.splice(1, 0, "127.0.0.1");'
    " return listen.apply(this, args);"
    "};"
)
LOOPBACK_ONLY_IMPORT = "data:text/javascript," + urllib.parse.quote(_LOOPBACK_ONLY_JS)

_NPM_TIMEOUT_S = 300


def say(message: str) -> None:
    print(f"[try_locally] {message}", flush=True)


class PlaygroundSetupError(RuntimeError):
    """Node or npm is missing, or the playground could not be installed or started."""


# The playground's installation ------------------------------------------------------------------------------


def pinned_version() -> str:
    package = json.loads((PLAYGROUND_DIR / "package.json").read_text(encoding="utf-8"))
    return str(package["dependencies"][PLAYGROUND_PACKAGE])


def installed_version() -> str | None:
    manifest = PLAYGROUND_CLI.parent / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialise `npm ci` between processes (parallel test runs); a no-op where fcntl does not exist."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    digest = hashlib.sha256(str(PLAYGROUND_DIR).encode()).hexdigest()[:16]
    name = f"safe-space-playground-{digest}.lock"
    with open(Path(tempfile.gettempdir()) / name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_playground() -> Path:
    """Return the playground's cli.js, running `npm ci` in tests/playground first if it is missing or stale."""
    if shutil.which("node") is None:
        raise PlaygroundSetupError("Node.js 20+ is needed for the Agents Playground (https://nodejs.org)")
    pinned = pinned_version()
    if installed_version() == pinned:
        return PLAYGROUND_CLI
    npm = shutil.which("npm")
    if npm is None:
        raise PlaygroundSetupError("npm is needed to install the Agents Playground (it comes with Node.js)")
    with _install_lock():
        if installed_version() != pinned:
            say(f"installing {PLAYGROUND_PACKAGE} {pinned} into tests/playground (npm ci)")
            try:
                proc = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=PLAYGROUND_DIR,
                    capture_output=True,
                    text=True,
                    timeout=_NPM_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise PlaygroundSetupError(f"`npm ci` in {PLAYGROUND_DIR} timed out") from exc
            if proc.returncode != 0:
                raise PlaygroundSetupError(f"`npm ci` in {PLAYGROUND_DIR} failed:\n{proc.stderr.strip()}")
    if installed_version() != pinned:
        raise PlaygroundSetupError(f"`npm ci` installed {PLAYGROUND_PACKAGE} {installed_version()}, not {pinned}")
    return PLAYGROUND_CLI


# The people and places in .m365agentsplayground.yml ---------------------------------------------------------


def read_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    import yaml  # in .venv; the top of this file runs before it exists

    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    return config


def people(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Everyone in the config, the current user first, by playground user id."""
    everyone = [config["currentUser"], *config["users"]]
    return {str(person["id"]): person for person in everyone}


def role_environment(config: dict[str, Any]) -> dict[str, str]:
    """SAFESPACE_*_IDS for the bot: the Entra object ids (aadObjectId) the playground will send for each role."""
    known = people(config)
    environment = {}
    for variable, user_ids in ROLE_USERS.items():
        missing = [user_id for user_id in user_ids if user_id not in known]
        if missing:
            raise ValueError(f"{CONFIG_PATH.name} has no user with id {', '.join(missing)} (needed for {variable})")
        environment[variable] = ",".join(str(known[user_id]["aadObjectId"]) for user_id in user_ids)
    return environment


def cases_channel(config: dict[str, Any]) -> dict[str, str]:
    for channel in config["team"]["channels"]:
        if channel["name"] == CASES_CHANNEL_NAME:
            return {"id": str(channel["id"]), "name": str(channel["name"])}
    raise ValueError(f"{CONFIG_PATH.name}: the team has no channel named {CASES_CHANNEL_NAME!r}")


def bot_environment(config: dict[str, Any], *, database_url: str, port: int) -> dict[str, str]:
    """What `python -m bot` needs to talk to the playground, overriding anything in `.env`."""
    return {
        **role_environment(config),
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # Local mode: the playground sends no Authorization header. Set here so a `.env` cannot switch it off.
        "MicrosoftAppId": "",
        "MicrosoftAppPassword": "",
        "SAFESPACE_ALLOW_INSECURE": "0",
    }


async def register_cases_channel(database_url: str, config: dict[str, Any], service_url: str) -> None:
    """Make the playground's "Cases" channel the safeguarding channel, straight in the case store.

    Safe Space refuses to register it itself, correctly: the playground puts every person in its config into
    every channel, learners included. Call this only for a trial store, after the bot has migrated it.
    """
    from storage import channels
    from storage.db import open_database

    channel = cases_channel(config)
    database = open_database(database_url)
    try:
        async with database.sessions.begin() as session:
            await channels.register_channel(
                session=session,
                conversation_id=channel["id"],
                team_id=str(config["team"]["id"]),
                channel_id=channel["id"],
                service_url=service_url,
                tenant_id=str(config["tenantId"]),
                registered_by="scripts/try_locally.py (Agents Playground trial)",
            )
    finally:
        await database.dispose()


# Starting things ----------------------------------------------------------------------------------------------


def service_url(port: int) -> str:
    """Where the bot reaches the playground's Bot Connector."""
    return f"http://127.0.0.1:{port}/_connector"


def playground_command(cli: Path, *, bot_url: str, port: int) -> list[str]:
    node = shutil.which("node") or "node"
    return [
        node,
        "--import",
        LOOPBACK_ONLY_IMPORT,
        str(cli),
        "--app-endpoint",
        bot_url,
        "--channel-id",
        "msteams",
        "--port",
        str(port),
        "--service-url",
        service_url(port),
        "--disable-telemetry",
    ]


def playground_environment(*, log_file: Path, config_path: Path = CONFIG_PATH) -> dict[str, str]:
    return {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",  # do not open a browser; the address is printed instead
        "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(config_path),
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(log_file),  # otherwise ./devTools/ in the working directory
    }


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        if os.name != "nt":  # as servers do, so connections still closing from a previous run do not count
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(url: str, expect: str | None, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PlaygroundSetupError(f"{what} stopped (exit {process.returncode}) before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://127.0.0.1 only
                body = response.read().decode("utf-8", "replace")
                if response.status == 200 and (expect is None or expect in body):
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise PlaygroundSetupError(f"{what} did not answer {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def banner(config: dict[str, Any], port: int) -> str:
    me = config["currentUser"]["name"]
    labels = {user_id: "learner" for user_id in people(config)}
    labels.update(dict.fromkeys(ROLE_USERS["SAFESPACE_DSO_IDS"], "deputy DSO"))
    labels[ROLE_USERS["SAFESPACE_DSO_IDS"][0]] = "DSO"
    labels.update(dict.fromkeys(ROLE_USERS["SAFESPACE_DIRECTOR_IDS"], "director"))
    labels.update(dict.fromkeys(ROLE_USERS["SAFESPACE_STAFF_IDS"], "staff"))
    labels.update(dict.fromkeys(ROLE_USERS["SAFESPACE_TRAINER_IDS"], "trainer"))
    cast = ", ".join(f"{person['name']} ({labels[user_id]})" for user_id, person in people(config).items())
    return f"""
  Safe Space is running in the Microsoft 365 Agents Playground:

      http://localhost:{port}

  You are {me}, a learner, in a 1:1 chat with Safe Space. Type "menu", "report", "quiz",
  "online safety" or "who can I talk to", and type your answers: in this playground version,
  tapping the answer buttons on Safe Space's cards does nothing (a playground bug; Teams is fine).
  A report you send appears as a case card in the Safeguarding team's "{CASES_CHANNEL_NAME}" channel.
  Its buttons work, but you press them as {me}, so Safe Space refuses: only the DSO, deputy and
  directors may act on a case.

  People: {cast}.
  Case store: {TRIAL_DATABASE.relative_to(ROOT)} (emptied at every start; made-up people only).
  Playground log: {(TRIAL_DATABASE.parent / "playground.log").relative_to(ROOT)}

  Press Ctrl+C to stop.
"""


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def serve(bot_port: int, playground_port: int) -> int:
    """Runs inside .venv: start the bot and the playground, wait for Ctrl+C, stop both."""
    import asyncio

    try:
        cli = ensure_playground()
    except PlaygroundSetupError as exc:
        say(str(exc))
        return 1
    for port, flag in ((bot_port, "--bot-port"), (playground_port, "--port")):
        if not port_is_free(port):
            say(f"port {port} on 127.0.0.1 is in use; stop what uses it or choose another with {flag}")
            return 1

    config = read_config()
    TRIAL_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    for stale in (TRIAL_DATABASE, *TRIAL_DATABASE.parent.glob(TRIAL_DATABASE.name + "-*")):
        stale.unlink(missing_ok=True)  # the playground forgets its conversations; cases must not outlive them
    database_url = f"sqlite:///{TRIAL_DATABASE}"
    bot_url = f"http://127.0.0.1:{bot_port}"

    bot: subprocess.Popen[bytes] | None = None
    playground: subprocess.Popen[bytes] | None = None
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops both children too
    try:
        say(f"starting Safe Space on {bot_url}")
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=ROOT,
            env={**os.environ, **bot_environment(config, database_url=database_url, port=bot_port)},
            start_new_session=True,  # Ctrl+C reaches only this script, which stops both in order
        )
        wait_until(f"{bot_url}/healthz", None, bot, "Safe Space", timeout=60)
        asyncio.run(register_cases_channel(database_url, config, service_url(playground_port)))

        say(f"starting the Agents Playground {installed_version()} on port {playground_port}")
        log_file = TRIAL_DATABASE.parent / "playground.log"
        with open(TRIAL_DATABASE.parent / "playground.out", "wb") as out:
            playground = subprocess.Popen(  # noqa: S603 - node from PATH, the pinned package
                playground_command(cli, bot_url=f"{bot_url}/api/messages", port=playground_port),
                cwd=ROOT,
                env=playground_environment(log_file=log_file),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(f"http://127.0.0.1:{playground_port}/_debug/ping", "pong", playground, "The playground", 60)
        print(banner(config, playground_port), flush=True)
        while bot.poll() is None and playground.poll() is None:
            time.sleep(0.5)
        say("Safe Space stopped" if bot.poll() is not None else "the playground stopped")
        return 1
    except KeyboardInterrupt:
        print(flush=True)
        say("stopping")
        return 0
    except PlaygroundSetupError as exc:
        say(str(exc))
        return 1
    finally:
        stop(playground)
        stop(bot)
        signal.signal(signal.SIGTERM, previous_sigterm)


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Try Safe Space in the Microsoft 365 Agents Playground.")
    parser.add_argument("--bot-port", type=int, default=DEFAULT_BOT_PORT, help="Safe Space's port (3978)")
    parser.add_argument("--port", type=int, default=DEFAULT_PLAYGROUND_PORT, help="the playground's port (56150)")
    args = parser.parse_args(argv)
    if shutil.which("node") is None:
        say("Node.js 20+ (with npm) is needed for the Agents Playground (https://nodejs.org)")
        return 1
    sys.path.insert(0, str(ROOT))
    import dev  # the repository's dev.py: the same .venv, installed the same way, as `python3 dev.py run`

    try:
        dev.ensure_venv(dev.SERVICE_LOCK)  # quick when nothing changed
    except subprocess.CalledProcessError as exc:
        say(f"failed: {' '.join(map(str, exc.cmd))} (exit {exc.returncode})")
        return exc.returncode or 1
    if not in_venv():
        python = str(dev.PYTHON)
        os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606
    return serve(args.bot_port, args.port)


if __name__ == "__main__":
    sys.exit(main())
