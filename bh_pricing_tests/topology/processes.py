"""Processes on loopback for the topology tests: start, wait until ready, stop, show the log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ServiceError(RuntimeError):
    """A service did not start, or died; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    """True when GET ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


class Service:
    """One long-running process in its own session, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        cwd: Path | None = None,
        port: int = 0,
    ) -> None:
        self.name = name
        self.port = port
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> Service:
        """Start the process (its output appends to the log file)."""
        if self.running:
            raise ServiceError(f"{self.name} is already running")
        with open(self.log_path, "ab") as log:
            log.write(f"\n==> {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` until it holds; fail early with the log if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise ServiceError(f"{self.name} exited before {what}\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.5)
        raise ServiceError(f"{self.name}: no {what} after {timeout:.0f}s\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``timeout``."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(10)
        # Children (run workers, uvicorn workers) share the group and must not outlive it.
        self._signal_group(signal.SIGKILL)
        self.popen = None

    def kill(self) -> None:
        """SIGKILL the process group at once, as a crash would."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait(10)
        self.popen = None

    def _signal_group(self, signum: int) -> None:
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            return

    def log_tail(self, chars: int = 6000) -> str:
        """The end of the log, headed by its path."""
        if not self.log_path.exists():
            return f"--- {self.name}: no log at {self.log_path}"
        text = self.log_path.read_text(errors="replace")
        return f"--- {self.name} ({self.log_path}, last {chars} chars)\n{text[-chars:]}"
