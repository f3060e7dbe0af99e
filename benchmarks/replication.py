"""Latency of a replicated write: each cloud alone, then All and Quorum(2) over all three.

    python -m benchmarks.replication [--writes 200] [--size 4096] [--delay-ms 20 ...]
        [--out benchmarks/results/replication.json]

The three local servers (moto S3, Azurite, fake-gcs-server) are started here on loopback
ports, and every variant runs in this one process, interleaved write by write, because
these machines are noisy: compare the ratios, not the milliseconds across runs.

* single: a `FailoverStorage` over one cloud (no replication): that cloud's latency;
* All: every write to all three at once, acknowledged when all took it;
* Quorum(2): to the two preferred at once; the third is journaled and repaired;
* All, one after another: the same write path with its sends made in turn (the way
  replicated writes were sent before they went out at once), for the side-by-side;
* Primary: one cloud plus the journal, which every replicated write pays (two SQLite
  commits; with the default ``sync="full"`` the intent's is fsynced before the first
  send, the settle's is not waited for).

A write sent to the targets one after another would cost the sum of the singles; sent at
once it costs the slowest (All) or the slower of two (Quorum).  Goal: All's median
<= 1.2x the slowest single cloud's median.

Every variant runs twice: on the servers as they are ("local"), and with each server
behind a `failover.testing.proxy.TcpProxy` that holds every chunk of a request for
``--delay-ms`` (default 20; repeat the flag for more settings, 0 for none).  On the
local servers a write is mostly CPU, and three servers and the client share two
cores, so writes sent at once still queue for them; behind the delay a write is
mostly waiting, as across regions, and the fan-out's concurrency shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from failover.config import parse
from failover.replication.fanout import FanOut
from failover.testing.proxy import TcpProxy
from failover.testing.servers import (
    LocalServer,
    azurite_connection_string,
    azurite_server,
    fake_gcs_server,
    moto,
    raw_blob_service,
    raw_gcs_client,
    raw_s3_client,
)

TARGETS = {
    "aws:local": """
[[storage.targets]]
name = "aws:local"
provider = "s3"
region = "us-east-1"
bucket = "{bucket}"
endpoint = "{moto}"
[storage.targets.credentials]
kind = "aws_keys"
access_key_id_env = "AWS_ACCESS_KEY_ID"
secret_access_key_env = "AWS_SECRET_ACCESS_KEY"
""",
    "azure:local": """
[[storage.targets]]
name = "azure:local"
provider = "azure_blob"
priority = 1
container = "{bucket}"
credentials = {{ kind = "connection_string", connection_string_env = "BENCH_AZURITE" }}
""",
    "gcp:local": """
[[storage.targets]]
name = "gcp:local"
provider = "gcs"
priority = 2
bucket = "{bucket}"
endpoint = "{gcs}"
credentials = {{ kind = "anonymous" }}
""",
}
REPLICATION = """
[storage.replication]
mode = "{mode}"
{quorum}
journal = "{journal}"
"""


def start_servers() -> dict[str, LocalServer]:
    servers = {"moto": moto(), "azurite": azurite_server(), "gcs": fake_gcs_server()}
    for server in servers.values():
        server.start()
    return servers


def make_bucket(servers: dict[str, LocalServer]) -> str:
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    raw_s3_client(servers["moto"]).create_bucket(Bucket=bucket)
    raw_blob_service(servers["azurite"]).create_container(bucket)
    raw_gcs_client(servers["gcs"]).create_bucket(bucket)
    return bucket


def setup_text(names: list[str], endpoints: dict[str, str], bucket: str, mode: str | None, folder: Path) -> str:
    values = {"bucket": bucket, "moto": endpoints["moto"], "gcs": endpoints["gcs"]}
    text = "".join(TARGETS[name].format(**values) for name in names)
    if mode is not None:
        quorum = "quorum = 2" if mode == "quorum" else ""
        folder.mkdir(exist_ok=True)
        journal = folder / f"{mode}.sqlite"
        text += REPLICATION.format(mode=mode, quorum=quorum, journal=journal)
    return text


class InTurn(FanOut):
    """The fan-out with each send made before the next starts."""

    def _submit(self, target: str, op: str, call: Callable[[Any], Any], landed: dict[str, Any]) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            landed[target] = self._send(target, op, call)
            done.set_result(landed[target])
        except Exception as exc:
            done.set_exception(exc)
        return done


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(writes: int, size: int, delays: list[float]) -> dict[str, Any]:
    """The variants on the servers as they are, then once per delay in ``delays`` (seconds)
    with every server behind a `TcpProxy` holding each chunk of a request that long."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    servers = start_servers()
    try:
        bucket = make_bucket(servers)
        with tempfile.TemporaryDirectory(prefix="bench-replication-") as journals:
            local = Path(journals) / "local"
            results = {"local": measure(variants_on(servers, {}, bucket, local), writes, size)}
            for delay in delays:
                with ExitStack() as stack:
                    proxies = {name: stack.enter_context(TcpProxy(s.port)) for name, s in servers.items()}
                    for proxy in proxies.values():
                        proxy.delay(delay)
                    folder = Path(journals) / f"delayed-{delay * 1000:g}ms"
                    variants = variants_on(servers, proxies, bucket, folder)
                    results[f"delayed_{delay * 1000:g}ms"] = measure(variants, writes, size)
        return results
    finally:
        for server in servers.values():
            server.close()


def variants_on(
    servers: dict[str, LocalServer], proxies: dict[str, TcpProxy], bucket: str, folder: Path
) -> dict[str, str]:
    """Each variant's setup, reaching each server directly or through its proxy, with its
    journal in ``folder``."""
    endpoints = {name: (proxies[name] if proxies else server).endpoint for name, server in servers.items()}
    azurite = azurite_connection_string(servers["azurite"])
    if proxies:
        azurite = azurite.replace(servers["azurite"].endpoint, endpoints["azurite"])
    os.environ["BENCH_AZURITE"] = azurite
    return {
        **{name: setup_text([name], endpoints, bucket, None, folder) for name in TARGETS},
        "primary": setup_text(list(TARGETS), endpoints, bucket, "primary", folder),
        "all": setup_text(list(TARGETS), endpoints, bucket, "all", folder),
        "all_in_turn": setup_text(list(TARGETS), endpoints, bucket, "all", folder / "turn"),
        "quorum_2": setup_text(list(TARGETS), endpoints, bucket, "quorum", folder),
    }


def measure(variants: dict[str, str], writes: int, size: int) -> dict[str, Any]:
    setups = {name: parse(text) for name, text in variants.items()}
    in_turn = setups["all_in_turn"].storage
    assert in_turn is not None and in_turn.replication is not None
    in_turn.replication.fanout = InTurn(in_turn.replication.on)
    puts: dict[str, Callable[[str, bytes], Any]] = {}
    for name, setup in setups.items():
        assert setup.storage is not None
        puts[name] = setup.storage.put
    data = os.urandom(size)
    samples: dict[str, list[float]] = {name: [] for name in setups}
    try:
        for i in range(writes + 10):
            for name, put in puts.items():  # interleaved: a disturbance hits every variant alike
                started = time.perf_counter()
                put(f"bench/{name}/{i}", data)
                if i >= 10:  # the first writes open connections
                    samples[name].append((time.perf_counter() - started) * 1000)
    finally:
        for setup in setups.values():
            setup.close()
    return summarize(samples)


def summarize(samples: dict[str, list[float]]) -> dict[str, Any]:
    rows = {
        name: {"p50_ms": statistics.median(v), "p99_ms": percentile(v, 0.99), "writes": len(v)}
        for name, v in samples.items()
    }
    singles = [rows[name]["p50_ms"] for name in TARGETS]
    slowest = max(singles)
    return {
        "variants": rows,
        "ratios": {
            "all_p50_vs_slowest_single": rows["all"]["p50_ms"] / slowest,
            "all_p50_vs_sum_of_singles": rows["all"]["p50_ms"] / sum(singles),
            "quorum_2_p50_vs_slowest_single": rows["quorum_2"]["p50_ms"] / slowest,
            "all_p50_vs_all_in_turn": rows["all"]["p50_ms"] / rows["all_in_turn"]["p50_ms"],
            "all_p50_vs_primary": rows["all"]["p50_ms"] / rows["primary"]["p50_ms"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/replication.json"))
    parser.add_argument("--delay-ms", type=float, action="append", help="also behind proxies this slow (default 20)")
    args = parser.parse_args(argv)
    delays = [ms / 1000 for ms in (args.delay_ms if args.delay_ms is not None else [20.0]) if ms > 0]
    results = run(args.writes, args.size, delays)
    for setting, result in results.items():
        print(setting)
        for name, row in result["variants"].items():
            print(f"  {name:<14} p50 {row['p50_ms']:7.2f} ms   p99 {row['p99_ms']:7.2f} ms")
        for name, ratio in result["ratios"].items():
            print(f"  {name:<34} {ratio:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"writes": args.writes, "size": args.size, **results}, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
