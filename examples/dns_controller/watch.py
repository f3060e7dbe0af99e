"""What the example prints: the controller's events, and what BIND and Route 53 really answer.

`EventPrinter` is a listener on the `DnsController`: a backend going down or up, a write
to each DNS provider, a provider's breaker opening.  `Observer` reads the record behind
the controller's back, as a resolver and an operator would: a DNS query to BIND (what
``dig`` shows) and a read of the hosted zone through the Route 53 API.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from failover.events import BreakerTransition, DnsPublished, HealthChanged
from failover.testing.bind import BindServer

from .stack import RECORD


class Terminal:
    """One line per thing that happened, stamped with the seconds since the example started."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._began = time.monotonic()
        self._lock = threading.Lock()  # the controller's thread prints too

    def say(self, text: str) -> None:
        with self._lock:
            print(f"{time.monotonic() - self._began:7.2f}s  {text}", file=self._out, flush=True)

    def show(self, text: str = "") -> None:
        """A line without a time stamp (the banner, instructions)."""
        with self._lock:
            print(text, file=self._out, flush=True)


class EventPrinter:
    """A `failover.events.Listener` that prints the events a user of the example cares about."""

    def __init__(self, terminal: Terminal, labels: Mapping[str, str]) -> None:
        self._terminal = terminal
        self._labels = dict(labels)  # endpoint address -> "backend a (127.0.0.2)"

    def on_event(self, event: object) -> None:
        if isinstance(event, HealthChanged):
            who = self._labels.get(event.target, event.target)
            state = "is up" if event.healthy else "is DOWN"
            self._terminal.say(f"{who} {state}: {event.reason}")
        elif isinstance(event, DnsPublished):
            self._terminal.say(f"{event.target:<13} {event.record} -> {', '.join(event.values)}  (written)")
        elif isinstance(event, BreakerTransition):
            self._terminal.say(f"{event.target:<13} breaker {event.old} -> {event.new} ({event.reason})")


@dataclass(frozen=True)
class Answer:
    """The record's values on each server; ``None`` where the server could not be read."""

    bind: tuple[str, ...] | None
    route53: tuple[str, ...] | None

    def __str__(self) -> str:
        return f"BIND answers {_show(self.bind)} | Route 53 holds {_show(self.route53)}"


def _show(values: tuple[str, ...] | None) -> str:
    if values is None:
        return "(no answer)"
    return ", ".join(values) or "(nothing)"


class Observer:
    """Reads `RECORD` from BIND over DNS and from moto over the Route 53 API."""

    def __init__(self, bind: BindServer, route53_client: Any, hosted_zone_id: str) -> None:
        self._bind = bind
        self._route53 = route53_client
        self._zone_id = hosted_zone_id

    def read(self) -> Answer:
        return Answer(self._from_bind(), self._from_route53())

    def _from_bind(self) -> tuple[str, ...] | None:
        import dns.exception
        import dns.message
        import dns.query

        query = dns.message.make_query(RECORD, "A")
        try:
            response = dns.query.udp(query, self._bind.host, port=self._bind.port, timeout=0.5)
        except (OSError, dns.exception.DNSException):
            return None
        return tuple(sorted(item.to_text() for rrset in response.answer for item in rrset))

    def _from_route53(self) -> tuple[str, ...] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            found = self._route53.list_resource_record_sets(
                HostedZoneId=self._zone_id, StartRecordName=RECORD, StartRecordType="A", MaxItems="1"
            )["ResourceRecordSets"]
        except (BotoCoreError, ClientError):
            return None
        sets = [s for s in found if s["Name"] == RECORD and s["Type"] == "A"]
        return tuple(sorted(r["Value"] for s in sets for r in s.get("ResourceRecords", [])))


__all__ = ["Answer", "EventPrinter", "Observer", "Terminal"]
