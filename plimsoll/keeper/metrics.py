"""The keeper's observability: Prometheus metrics and a health endpoint, served over HTTP on a thread.

``GET /metrics``: the Prometheus text format (prometheus-client). ``GET /health``: a JSON object; status 200 while
the keeper is healthy (it has heard a new head within its watchdog time), 503 otherwise.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class KeeperMetrics:
    """The keeper's metrics, in a registry of their own.

    Attributes (Prometheus names in brackets):
        head: newest block heard from the node [plimsoll_keeper_head_block].
        processed: last block worked on [plimsoll_keeper_processed_block].
        behind: head − processed, blocks [plimsoll_keeper_blocks_behind].
        vaults: vaults in the index [plimsoll_keeper_vaults_tracked].
        leader: 1 while this keeper leads, 0 on standby [plimsoll_keeper_leader].
        liquidated: vaults liquidated by mined transactions [plimsoll_keeper_liquidated_vaults_total].
        margin_calls: margin calls mined [plimsoll_keeper_margin_calls_total].
        reverted: transactions mined with status 0 [plimsoll_keeper_reverted_total].
        gas_wei: gas spent, wei (gasUsed × effectiveGasPrice of every mined transaction)
            [plimsoll_keeper_gas_spent_wei_total].
        pnl_pusd: profit before gas, pUSD: collateral value seized − pUSD paid, as planned at the decision block,
            summed over mined liquidations (may fall: a write-off pays less than it costs) [plimsoll_keeper_pnl_pusd].
        block_errors: blocks whose work failed [plimsoll_keeper_block_errors_total].
        latency: seconds from hearing a new head to the node accepting the transaction decided at it
            [plimsoll_keeper_head_to_broadcast_seconds].
        reconciled_block: block of the last margin reconciliation [plimsoll_keeper_reconcile_block].
        mismatches: mismatches it found (0: everything reconciles) [plimsoll_keeper_reconcile_mismatches].
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.head = Gauge("plimsoll_keeper_head_block", "Newest block heard from the node", registry=r)
        self.processed = Gauge("plimsoll_keeper_processed_block", "Last block worked on", registry=r)
        self.behind = Gauge("plimsoll_keeper_blocks_behind", "Head minus the last block worked on", registry=r)
        self.vaults = Gauge("plimsoll_keeper_vaults_tracked", "Vaults in the index (may have debt)", registry=r)
        self.leader = Gauge("plimsoll_keeper_leader", "1 while this keeper leads, 0 on standby", registry=r)
        self.liquidated = Counter("plimsoll_keeper_liquidated_vaults", "Vaults liquidated (mined)", registry=r)
        self.margin_calls = Counter("plimsoll_keeper_margin_calls", "Margin calls mined", registry=r)
        self.reverted = Counter("plimsoll_keeper_reverted", "Transactions mined with status 0", registry=r)
        self.gas_wei = Counter("plimsoll_keeper_gas_spent_wei", "Gas spent, wei", registry=r)
        self.pnl_pusd = Gauge("plimsoll_keeper_pnl_pusd", "Collateral value seized minus pUSD paid (before gas)",
                              registry=r)
        self.block_errors = Counter("plimsoll_keeper_block_errors", "Blocks whose work failed", registry=r)
        self.latency = Histogram(
            "plimsoll_keeper_head_to_broadcast_seconds", "New head heard to transaction accepted by the node",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0), registry=r,
        )
        self.reconciled_block = Gauge("plimsoll_keeper_reconcile_block", "Block of the last reconciliation",
                                      registry=r)
        self.mismatches = Gauge("plimsoll_keeper_reconcile_mismatches", "Mismatches the last reconciliation found",
                                registry=r)
        #: monotonic time of the last new head (None before the first).
        self.last_head_at: float | None = None
        self.started_at = time.monotonic()
        self._state = {"head": 0, "processed": 0, "leader": False, "vaults": 0}

    def heard_head(self, number: int) -> None:
        """A new head arrived."""
        self.last_head_at = time.monotonic()
        self._state["head"] = number
        self.head.set(number)

    def worked(self, number: int, leading: bool, vaults: int) -> None:
        """Block ``number`` is done; this keeper leads or not; ``vaults`` in its index."""
        self._state.update(processed=number, leader=leading, vaults=vaults)
        self.processed.set(number)
        self.behind.set(max(0, self._state["head"] - number))
        self.leader.set(int(leading))
        self.vaults.set(vaults)

    def health(self, watchdog: float) -> tuple[bool, dict]:
        """(healthy, details): healthy while a new head was heard within ``watchdog`` seconds (or, before the
        first head, since start)."""
        since = time.monotonic() - (self.last_head_at if self.last_head_at is not None else self.started_at)
        ok = since <= watchdog
        return ok, {"status": "ok" if ok else "stalled", "seconds_since_head": round(since, 3), **self._state}


def serve(metrics: KeeperMetrics, host: str, port: int, watchdog: float) -> ThreadingHTTPServer:
    """Serve ``/metrics`` and ``/health`` at host:port on a daemon thread; returns the server (``shutdown()`` it).

    Raises:
        OSError: the port cannot be bound.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/health":
                ok, details = metrics.health(watchdog)
                body, status, kind = json.dumps(details).encode(), 200 if ok else 503, "application/json"
            else:
                body, status, kind = b"not found: try /metrics or /health\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # scrapes are not keeper events
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="keeper-metrics").start()
    return server
