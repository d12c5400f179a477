"""Debian's nginx as a static file server for tests (the shared answers of issue 15): started
on a free loopback port with a config written here, in the foreground, as the current user."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port


class Nginx:
    """Debian's nginx on a free loopback port, serving `root`, its config written here."""

    def __init__(self, root: Path, work: Path) -> None:
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
            pytest.fail("nginx is not installed: run `make system` (Debian package nginx-light)")
        self.port = free_port()
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        temp = " ".join(f"{kind}_temp_path {work}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
        (work / "nginx.conf").write_text(
            f"daemon off; master_process off; pid {work}/nginx.pid; error_log {work}/error.log;\n"
            f"events {{}}\nhttp {{ access_log {work}/access.log; {temp}\n"
            f"  default_type application/json;\n"
            f"  server {{ listen 127.0.0.1:{self.port}; root {root}; etag on; }} }}\n")
        self.proc = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-c", str(self.work / "nginx.conf"), "-p", str(self.work),
                                      "-e", str(self.work / "error.log")], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    pytest.fail(f"nginx did not start: {self.proc.stderr.read().decode(errors='replace')}")
                time.sleep(0.05)
        pytest.fail("nginx did not listen within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def requests(self) -> list[str]:
        log = self.work / "access.log"
        return log.read_text().splitlines() if log.exists() else []
