"""nginx serving a directory on 127.0.0.1, as our own foreground subprocess, and a wrk check.

nginx sends ETag and Last-Modified for static files and answers If-None-Match /
If-Modified-Since with 304, which is what the conditional-GET figures need.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Self

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")

CONFIG = """\
daemon off;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        text/html html;
        text/plain txt;
        application/xml xml;
        application/rss+xml rss;
        application/json json;
    }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag on;
    }}
}}
"""


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if Path(path).exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Nginx:
    """`with Nginx(root) as server:` serves `root` at `server.base` until the block ends."""

    def __init__(self, root: Path, *, workers: int = 1) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx not found (looked in PATH, /usr/sbin, /usr/bin)")
        self.binary = binary
        self.root = root.resolve()
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.TemporaryDirectory(prefix="radar-bench-nginx-")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        tmp = Path(self._tmp.name)
        conf = tmp / "nginx.conf"
        conf.write_text(
            CONFIG.format(tmp=tmp, port=self.port, root=self.root, workers=self.workers)
        )
        self._process = subprocess.Popen(
            [self.binary, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"nginx exited at start: {err.strip()}")
            try:
                with urllib.request.urlopen(f"{self.base}/robots.txt", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("nginx did not answer within 10 s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._tmp.cleanup()


def wrk_requests_per_second(url: str, *, seconds: int = 3, connections: int = 16) -> float | None:
    """Requests/s wrk gets from `url` (2 threads, `connections` connections); None without wrk."""
    wrk = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
    if wrk is None:
        return None
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    return float(match.group(1)) if match else None
