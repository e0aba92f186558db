"""A real Label Studio server for the integration tests (session fixture `label_studio`).

`label-studio` is installed with pip into a virtual env of its own (its dependencies clash with ours), in the
git-ignored `.cache/label-studio/venv`, reused while its version matches. The server starts on a free loopback port
with a fresh data dir and a preset admin and legacy token (both must be set at the first start of a data dir), and
is stopped at the end of the session. Where it cannot be installed or started the tests are skipped with the reason;
with REQUIRE_LABEL_STUDIO=1 (CI) that is a failure."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.required import unavailable

VERSION = "1.23.2"
REPO_ROOT = Path(__file__).resolve().parents[1]
HOME = REPO_ROOT / ".cache" / "label-studio"
VENV = HOME / "venv"
ADMIN_EMAIL = "admin@example.com"
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a test server's preset token, not a secret
INSTALL_TIMEOUT = 1200
START_TIMEOUT = 300


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    admin_email: str

    def client(self):
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=self.token)


class Unavailable(Exception):
    pass


def install(report) -> Path:
    """The `label-studio` executable of the test venv, installed first if needed (one installer at a time)."""
    executable = VENV / "bin" / "label-studio"
    marker = VENV / f".installed-{VERSION}"
    HOME.mkdir(parents=True, exist_ok=True)
    with open(HOME / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return executable
        started = time.monotonic()
        log = HOME / "install.log"
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        steps = ([sys.executable, "-m", "venv", "--clear", str(VENV)], [*pip, f"label-studio=={VERSION}"])
        with open(log, "w") as out:
            for step in steps:
                try:
                    done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT)
                except (OSError, subprocess.TimeoutExpired) as error:
                    raise Unavailable(f"cannot install label-studio=={VERSION}: {error}") from error
                if done.returncode != 0:
                    tail = [line for line in log.read_text().splitlines() if not line.startswith("WARNING: Location")]
                    raise Unavailable(
                        f"cannot install label-studio=={VERSION} with pip (exit {done.returncode}): "
                        + " | ".join(tail[-3:])
                    )
        marker.touch()
        report(f"installed label-studio {VERSION} into {VENV} in {time.monotonic() - started:.0f} s")
    return executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def start(executable: Path, data_dir: Path, report) -> tuple[subprocess.Popen, Server]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    env |= {
        "LABEL_STUDIO_USERNAME": ADMIN_EMAIL,
        "LABEL_STUDIO_PASSWORD": "test-server-password",
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    command = [str(executable), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
    log = data_dir / "server.log"
    started = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir / "data")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() - started > START_TIMEOUT:
            stop(process)
            tail = log.read_text(errors="replace").splitlines()[-5:]
            raise Unavailable(f"Label Studio did not become healthy at {url}: " + " | ".join(tail))
        time.sleep(0.5)
    report(f"Label Studio {VERSION} healthy at {url} after {time.monotonic() - started:.0f} s (first start)")
    return process, Server(url, TOKEN, ADMIN_EMAIL)


def stop(process: subprocess.Popen) -> None:
    """Stop the server and its children: it leads a process group of its own (start_new_session)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def label_studio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    plugins = request.config.pluginmanager

    def report(message: str) -> None:  # timings in the test log: where a slow run spent its time
        terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
        if terminal is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write_line(f"[label-studio] {message}")

    try:
        process, server = start(install(report), tmp_path_factory.mktemp("label-studio"), report)
    except Unavailable as error:
        unavailable("LABEL_STUDIO", str(error))
    yield server
    stop(process)
