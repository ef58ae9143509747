"""Prometheus metrics of the scheduler: `radar schedule --metrics-port N`, on 127.0.0.1 only.

Optional: needs the prometheus-client package, imported only when metrics are asked for.
Each daemon has its own registry, so nothing global is shared between instances.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from radar.runs import RunOutcome

RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)
PACKAGE = "prometheus-client"


def available() -> bool:
    try:
        importlib.import_module("prometheus_client")
    except ImportError:
        return False
    return True


class Metrics:
    """Counters and gauges of runs and fetches; `serve` exposes them over HTTP."""

    def __init__(self) -> None:
        try:
            prom: Any = importlib.import_module("prometheus_client")
        except ImportError as exc:
            raise RuntimeError(f"metrics need the {PACKAGE} package") from exc
        self._prom = prom
        self.registry = prom.CollectorRegistry()
        by_source = {"labelnames": ["source"], "registry": self.registry}
        self.runs = prom.Counter(
            "radar_runs", "Runs by final status", ["source", "status"], registry=self.registry
        )
        self.failures = prom.Counter("radar_run_failures", "Runs not fully successful", **by_source)
        self.events = prom.Counter(
            "radar_events", "Events recorded", ["source", "kind"], registry=self.registry
        )
        self.items = prom.Gauge("radar_items_found", "Items found by the last run", **by_source)
        self.duration = prom.Histogram(
            "radar_run_duration_seconds", "Run duration", buckets=RUN_BUCKETS, **by_source
        )
        self.last_success = prom.Gauge(
            "radar_last_success_timestamp_seconds", "End of the last successful run", **by_source
        )
        self.responses = prom.Counter(
            "radar_fetch_responses", "HTTP responses", ["host", "code"], registry=self.registry
        )
        self.bytes = prom.Counter(
            "radar_fetch_bytes", "Body bytes received", ["host"], registry=self.registry
        )
        self._server: Any = None

    def observe_run(self, outcome: RunOutcome, seconds: float) -> None:
        source = outcome.source
        self.runs.labels(source, str(outcome.status)).inc()
        self.duration.labels(source).observe(seconds)
        if outcome.status == "skipped":  # another process ran it: nothing was seen
            return
        if not outcome.ok:
            self.failures.labels(source).inc()
            return
        self.items.labels(source).set(outcome.items)
        self.last_success.labels(source).set_to_current_time()
        for kind in ("new", "changed", "removed", "reappeared"):
            self.events.labels(source, kind).inc(getattr(outcome, kind))

    def on_response(self, url: str, status: int, headers: dict[str, str], body: bytes) -> None:
        """A scraper.fetch response hook."""
        host = urlsplit(url).hostname or "?"
        self.responses.labels(host, str(status)).inc()
        self.bytes.labels(host).inc(len(body))

    def serve(self, port: int) -> None:
        """Serve /metrics on 127.0.0.1:`port` in a daemon thread."""
        server, _thread = self._prom.start_http_server(
            port, addr="127.0.0.1", registry=self.registry
        )
        self._server = server

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
