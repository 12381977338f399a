"""A PostgreSQL server of our own, in a temporary directory on a free port, that a benchmark may stop and restart.

Never the machine's shared server: initdb and pg_ctl (on PATH) make a fresh cluster, run as the `postgres` user when
this process is root (PostgreSQL refuses to run as root), listening on 127.0.0.1 only, trust authentication.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="safespace-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")

    def url(self, database: str = "safespace") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *args] if self._as_postgres else list(args)
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd=self.root)

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args, check=check)

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-instructions", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=200"
        self._ctl("-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: sessions are ended and the server shuts down cleanly; immediate: like a crash (recovery on start)."""
        self._ctl("-m", mode, "stop", check=False)

    def restart(self, down_seconds: float, mode: str = "fast") -> tuple[float, float]:
        """Stop, stay down, start again; returns (when it went down, when it answered again) as monotonic times."""
        self.stop(mode)
        down = time.monotonic()
        time.sleep(down_seconds)
        self.start()
        return down, time.monotonic()

    def create_database(self, name: str = "safespace") -> str:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
