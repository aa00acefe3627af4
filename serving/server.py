"""Run the stock MLflow model server on a registered model, and know when it is ready.

``mlflow models serve --env-manager local`` serves in the current virtualenv and execs ``uvicorn`` from
PATH, so the venv's ``bin`` (where this interpreter lives) is put first on PATH. Start-up takes 10-25 s
here (imports + model load in every worker): callers poll ``GET /ping`` with ``wait_ready``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001
READY_TIMEOUT_S = 120.0
MAX_DEFAULT_WORKERS = 8
_POLL_S = 0.25


def default_workers() -> int:
    """One uvicorn worker per CPU core (at most 8; each worker holds its own copy of the model).

    crmlab models predict small requests on one thread, so a request uses one core and one worker per
    core keeps every core busy without the workers competing; more workers only add memory.
    """
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def bin_dir() -> Path:
    """The directory of this interpreter's console scripts (``mlflow``, ``uvicorn``)."""
    return Path(sys.executable).parent


def serve_command(model_uri: str, port: int = DEFAULT_PORT, workers: int | None = None, timeout: int = 30,
                  host: str = DEFAULT_HOST) -> list[str]:
    """The ``mlflow models serve`` command line (local env manager, loopback by default)."""
    workers = default_workers() if workers is None else workers
    if workers < 1 or timeout < 1:
        raise ValueError(f"workers and timeout must be at least 1 (got workers={workers}, timeout={timeout})")
    exe = bin_dir() / "mlflow"
    return [str(exe) if exe.exists() else "mlflow", "models", "serve", "-m", model_uri,
            "--env-manager", "local", "-h", host, "-p", str(port), "--workers", str(workers),
            "--timeout", str(timeout)]


def server_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the server: venv ``bin`` first on PATH, the tracking store, no telemetry."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(bin_dir()), env.get("PATH", "")])
    env["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    if settings.registry_uri:
        env["MLFLOW_REGISTRY_URI"] = settings.registry_uri
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    return env


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running model server in its own process group; ``stop`` ends the group (uvicorn + workers)."""

    process: subprocess.Popen
    url: str
    log_path: Path
    command: list[str] = field(default_factory=list)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_s: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=grace_s)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(model_uri: str, *, settings: Settings, port: int | None = None, workers: int | None = None,
                 timeout: int = 30, host: str = DEFAULT_HOST, log_path: str | Path | None = None,
                 ready_timeout: float = READY_TIMEOUT_S) -> ServerProcess:
    """Start ``mlflow models serve`` in a new process group and return once ``/ping`` answers 200."""
    port = port or free_port(host)
    command = serve_command(model_uri, port, workers, timeout, host)
    log_path = Path(log_path) if log_path else Path(tempfile.gettempdir()) / f"crmlab-serve-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=server_env(settings), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = ServerProcess(process, f"http://{host}:{port}", log_path, command)
    try:
        wait_ready(server.url, ready_timeout, process=process)
    except BaseException as err:
        tail = server.log_tail()
        server.stop()
        if isinstance(err, Exception):
            raise RuntimeError(f"{err}\n--- server log ({log_path}) ---\n{tail}") from None
        raise
    return server


def wait_ready(url: str, timeout: float = READY_TIMEOUT_S, *,
               process: subprocess.Popen | None = None) -> float:
    """Poll ``GET {url}/ping`` until it answers 200; returns the seconds waited.

    Fails early when ``process`` exits, and with ``TimeoutError`` after ``timeout`` seconds.
    """
    import requests

    start = time.monotonic()
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the model server exited with code {process.returncode} before answering "
                               f"{url}/ping")
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return time.monotonic() - start
        except requests.RequestException:
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"the model server at {url} did not answer /ping within {timeout:.0f} s")
        time.sleep(_POLL_S)
