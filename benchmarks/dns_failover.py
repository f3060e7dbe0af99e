"""Time from an endpoint's death to the new answer being resolvable, on a real BIND.

    python -m benchmarks.dns_failover [--rounds 5] [--interval 0.1] [--fall 3]

A `DnsController` controller probes two loopback HTTP endpoints every ``--interval``
seconds and publishes the healthy one to BIND (RFC 2136, TSIG-signed) with a TTL of 1 s.
Each round kills the primary endpoint and polls BIND over the wire every 10 ms until
it answers with the secondary; then the primary comes back and the record returns.
Side by side, the detection time of Route 53's health checks computed from their
documented defaults (request interval 30 s, or 10 s "fast"; failure threshold 3),
to which resolvers add the record's TTL.  Writes benchmarks/results/dns_failover.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import dns.message
import dns.query

from failover import HealthConfig, Target
from failover.controllers.dns_controller import DnsController, Endpoint
from failover.health.probes import HttpProbe
from tests.integration import dns_factories
from tests.integration.bind import BindServer
from tests.integration.http_endpoint import HttpEndpoint

PRIMARY, SECONDARY = "127.0.0.31", "127.0.0.32"
ROUTE53_INTERVALS = {"standard": 30.0, "fast": 10.0}
ROUTE53_FAILURE_THRESHOLD = 3
JITTER = 0.1


def answer(bind: BindServer, name: str) -> tuple[str, ...]:
    response = dns.query.udp(dns.message.make_query(name, "A"), bind.host, port=bind.port, timeout=1.0)
    return tuple(sorted(item.to_text() for rrset in response.answer for item in rrset))


def wait_for(bind: BindServer, name: str, wanted: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if answer(bind, name) == (wanted,):
            return time.monotonic() - started
        time.sleep(0.01)
    raise RuntimeError(f"BIND did not answer {wanted} within {limit}s")


def run(rounds: int, interval: float, fall: int) -> dict[str, object]:
    bind = BindServer()
    bind.start()
    endpoints = [HttpEndpoint(), HttpEndpoint()]
    name = f"bench.{bind.zone}"
    controller = DnsController(
        name,
        "A",
        [Endpoint(PRIMARY, HttpProbe(endpoints[0].url), 0), Endpoint(SECONDARY, HttpProbe(endpoints[1].url), 1)],
        [Target("bind:local", dns_factories.rfc2136_zone(bind))],
        interval=interval,
        timeout=min(0.5, interval),
        jitter=JITTER,
        health=HealthConfig(rise=2, fall=fall),
        failback_after=0.0,
        ttl=1,
        min_ttl=0,
    )
    took: list[float] = []
    try:
        with controller:
            wait_for(bind, name, PRIMARY, 30.0)
            for _ in range(rounds):
                endpoints[0].stop()
                took.append(wait_for(bind, name, SECONDARY, 60.0))
                endpoints[0].start()
                wait_for(bind, name, PRIMARY, 60.0)
    finally:
        for endpoint in endpoints:
            endpoint.stop()
        bind.close()
    route53 = {label: every * ROUTE53_FAILURE_THRESHOLD for label, every in ROUTE53_INTERVALS.items()}
    return {
        "rounds": rounds,
        "probe_interval_s": interval,
        "fall": fall,
        "detect_and_publish_s": took,
        "median_s": statistics.median(took),
        "max_s": max(took),
        # fall probes (each up to interval x (1 + jitter) apart) and the write; the loop adds nothing
        "expected_bound_s": interval * (1 + JITTER) * fall + 0.05,
        "route53_default_detection_s": route53,
        "route53_note": "detection only; resolvers add the record TTL (commonly 60 s) on top",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--fall", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/dns_failover.json"))
    args = parser.parse_args(argv)
    report = run(args.rounds, args.interval, args.fall)
    print(f"probe interval {args.interval}s, fall {args.fall}, {args.rounds} rounds on BIND:")
    print("  endpoint death -> new answer on BIND: " + ", ".join(f"{t:.2f}s" for t in report["detect_and_publish_s"]))  # type: ignore[attr-defined]
    print(f"  median {report['median_s']:.2f}s, max {report['max_s']:.2f}s (bound ~ interval x 1.1 x fall + the write)")
    for label, seconds in report["route53_default_detection_s"].items():  # type: ignore[attr-defined]
        print(f"  Route 53 health check ({label}): {seconds:.0f}s to detect, plus the TTL")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
