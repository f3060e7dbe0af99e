"""``python -m examples.dns_controller --kill-after``, run as a user runs it.

The example starts its own BIND, moto and backends; the test reads the record behind its
back, over DNS from BIND (dnspython) and over the Route 53 API from moto (boto3), while
the example kills backend a and brings it back.  Then Ctrl-C must stop every process.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest

from tests.integration.servers import REPO, closed_port

pytestmark = pytest.mark.integration

RECORD = "app.example.test."
A, B = "127.0.0.2", "127.0.0.3"
STARTUP_DEADLINE = 30.0  # the example's four servers, on a busy machine
MOVE_DEADLINE = 10.0  # 2 failed probes 0.25 s apart, then two writes: well under a second alone


def stray_environment() -> dict[str, str]:
    """What a user's shell may hold; the example must keep its SDKs on loopback regardless:
    a profile this machine lacks would stop boto3 (in the example and in moto), and a proxy
    would swallow the calls to moto."""
    return {
        "AWS_PROFILE": "no-such-profile",
        "HTTP_PROXY": f"http://127.0.0.1:{closed_port()}",
        "HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}",
    }


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: queue.Queue[str]
    output: list[str]

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output:\n{self.text()}")

    def text(self) -> str:
        return "".join(self.output)


def start_example(*args: str) -> Running:
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.dns_controller", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **stray_environment(), "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return Running(process, lines, output)


@pytest.fixture
def example(request: pytest.FixtureRequest) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def run(*args: str) -> Running:
        started.append(start_example(*args))
        return started[-1]

    yield run
    for running in started:  # a failed test must not leave the example's servers behind
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            try:
                running.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, f"no {pattern!r} in the example's output:\n{text}"
    return match[1]


def from_bind(port: int) -> tuple[str, ...] | None:
    try:
        response = dns.query.udp(dns.message.make_query(RECORD, "A"), "127.0.0.1", port=port, timeout=0.5)
    except (OSError, dns.exception.DNSException):
        return None
    return tuple(sorted(item.to_text() for rrset in response.answer for item in rrset))


def route53_reader(endpoint: str) -> Callable[[], tuple[str, ...] | None]:
    import boto3

    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("route53", endpoint_url=endpoint)
    zones = client.list_hosted_zones_by_name(DNSName="example.test.")["HostedZones"]
    zone_id = next(z["Id"] for z in zones if z["Name"] == "example.test.")

    def read() -> tuple[str, ...] | None:
        sets = client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        found = [s for s in sets if s["Name"] == RECORD and s["Type"] == "A"]
        return tuple(sorted(r["Value"] for s in found for r in s["ResourceRecords"])) if found else None

    return read


def both_answer(
    wanted: tuple[str, ...], bind_port: int, route53: Callable[[], Any], timeout: float, running: Running
) -> float:
    """Seconds until BIND and Route 53 both hold ``wanted``."""
    began = time.monotonic()
    seen: tuple[Any, Any] = (None, None)
    while time.monotonic() - began < timeout:
        seen = (from_bind(bind_port), route53())
        if seen == (wanted, wanted):
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"BIND and Route 53 hold {seen}, not {wanted}, after {timeout} s:\n{running.text()}")


@pytest.mark.parametrize(
    ("mode", "published", "after_kill"),
    [("failover", (A,), (B,)), ("multivalue", (A, B), (B,))],
    ids=["failover", "multivalue"],
)
def test_the_record_moves_on_bind_and_route53_when_a_backend_dies_and_comes_back(
    example: Callable[..., Running], mode: str, published: tuple[str, ...], after_kill: tuple[str, ...]
) -> None:
    running = example(
        "--mode", mode, "--kill-after", "1", "--down-for", "1", "--interval", "0.25", "--failback-after", "0.5"
    )
    running.wait_for_line(r"^stop:\s+Ctrl-C", STARTUP_DEADLINE)  # the banner is out
    banner = running.text()
    bind_port = int(found(r"dig @127\.0\.0\.1 -p (\d+) app\.example\.test A", banner))
    moto_endpoint = found(r"moto at (http://127\.0\.0\.1:\d+)", banner)
    route53 = route53_reader(moto_endpoint)
    pids = [int(pid) for pid in re.findall(r"kill -9 (\d+) \([ab]\)", banner)]
    assert len(pids) == 2, banner

    both_answer(published, bind_port, route53, STARTUP_DEADLINE, running)
    running.wait_for_line(r"killing backend a", MOVE_DEADLINE)
    both_answer(after_kill, bind_port, route53, MOVE_DEADLINE, running)
    pids.append(int(running.wait_for_line(r"backend a is running again \(pid (\d+)\)", MOVE_DEADLINE)[1]))
    both_answer(published, bind_port, route53, MOVE_DEADLINE, running)
    running.wait_for_line(r"scenario done", MOVE_DEADLINE)

    running.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert running.process.wait(timeout=15) == 0, running.text()
    assert "stopped: controller, backends, BIND and moto" in running.text()
    assert from_bind(bind_port) is None, "BIND still answers after Ctrl-C"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(moto_endpoint.rsplit(":", 1)[1])), timeout=1.0).close()
    for pid in pids:  # both backends, and a's second process
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
