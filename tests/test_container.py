"""The Dockerfile, read rather than built (no registry here): what it promises, and its health
check run against a stand-in for the webhook server's /healthz."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = (line.strip() for line in text.splitlines())
    return [(word.upper(), rest.strip()) for line in lines if line and not line.startswith("#")
            for word, _, rest in [line.partition(" ")]]


def env_values() -> dict[str, str]:
    values: dict[str, str] = {}
    for name, args in instructions():
        if name == "ENV":
            values.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return values


def test_the_image_is_a_regular_install_run_by_a_non_root_user() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.12-slim")
    runs = " ".join(args for name, args in steps if name == "RUN")
    assert "pip install /tmp/src" in runs and "[dev]" not in runs
    users = [args for name, args in steps if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    script = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    (cmd,) = [json.loads(args) for name, args in steps if name == "CMD"]
    assert cmd[0] in script and cmd[1:] == ["run"]


def test_the_database_is_on_the_volume_and_the_webhook_port_is_exposed() -> None:
    steps = instructions()
    env = env_values()
    (volume,) = [json.loads(args) for name, args in steps if name == "VOLUME"]
    assert env["DATABASE_URL"] == f"sqlite:///{volume[0]}/back_care.db"
    assert env["WEBHOOK_LISTEN"] == "0.0.0.0"  # reachable through a published port
    assert [args for name, args in steps if name == "EXPOSE"] == [env["WEBHOOK_PORT"]]


def test_secrets_and_data_stay_out_of_the_build_context() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") + 1:][:3] == ["!pyproject.toml", "!README.md", "!back_care_guide/"]


class Healthz(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(json.dumps({"ready": code == 200}).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def run_healthcheck(env: dict[str, str]) -> int:
    (check,) = [args for name, args in instructions() if name == "HEALTHCHECK"]
    command = json.loads(check[check.index("CMD ") + 4:])
    assert command[0] == "python"
    base = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_")}
    return subprocess.run([sys.executable, *command[1:]], env={**base, **env}, capture_output=True,
                          timeout=30).returncode


def test_the_healthcheck_asks_healthz_on_the_webhook_port(server: ThreadingHTTPServer) -> None:
    webhook = {"WEBHOOK_URL": "https://bot.example.org/telegram", "WEBHOOK_PORT": str(server.server_port)}
    Healthz.status = 200
    assert run_healthcheck(webhook) == 0
    Healthz.status = 503  # not ready yet
    assert run_healthcheck(webhook) != 0
    server.shutdown()  # nothing listening
    server.server_close()
    assert run_healthcheck(webhook) != 0
    assert run_healthcheck({}) == 0  # polling mode has no HTTP server to ask
