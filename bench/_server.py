"""A server the benchmarks start: its process and log, its readiness, its memory, its stop."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psutil


class Server:
    """A process started with its output in a log file, serving HTTP on loopback `port`.

    With `ready_path`, the constructor waits until that path answers 200 and keeps the
    seconds it took in `ready_s`.
    """

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int,
                 ready_path: str | None = "/readyz", timeout: float = 600) -> None:  # fmt: skip
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = Path(tempfile.gettempdir()) / f"locvlm-bench-{name}-{port}.log"
        self.began = time.monotonic()
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.ready_s = None if ready_path is None else self.wait(ready_path, timeout)

    def wait(self, path: str, timeout: float = 600, poll_s: float = 0.2) -> float:
        """Seconds from the start until `path` first answers 200.

        Raises:
            RuntimeError: the process exited, or `timeout` passed (with the log's tail).
        """
        while True:
            try:
                if httpx.get(self.url + path, timeout=5).status_code == 200:
                    return round(time.monotonic() - self.began, 2)
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() - self.began > timeout:
                tail = self.log.read_text()[-3000:]
                raise RuntimeError(f"{self.name}: {path} never answered 200 ({self.log}):\n{tail}")
            time.sleep(poll_s)

    def rss_mib(self) -> tuple[float, float]:
        """Resident memory of the process and of all its descendants together, MiB."""
        root = psutil.Process(self.proc.pid)
        children = 0
        for child in root.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.NoSuchProcess:  # exited between the listing and the reading
                continue
        mib = 1024 * 1024
        return round(root.memory_info().rss / mib, 1), round(children / mib, 1)

    def stop(self, timeout: float = 90) -> None:
        """SIGTERM (a server drains), wait, then kill whatever of its family is left."""
        family = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(True)]
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        finally:
            _, alive = psutil.wait_procs(family, timeout=15)
            for process in alive:
                process.kill()
