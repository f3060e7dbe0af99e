"""The example's main loop: watch the record, obey the user's commands, play the kill scenario.

Everything happens on the main thread, one short tick at a time: take a command typed on
stdin (``a`` or ``b``: kill that backend, or start it again), read what BIND and Route 53
answer and print it when it changes.  The ``--kill-after`` scenario is a script over the
same ticks: wait for the record, kill backend ``a``, wait for the record to move on both
servers, bring ``a`` back, wait for the record to come back.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TextIO

from .stack import RECORD, Backend, DemoStack
from .watch import Answer, Observer, Terminal

TICK = 0.2  # seconds between two reads of the servers
# A step of the scenario that takes longer than this (plus the failback wait) has failed.
STEP_DEADLINE = 30.0


def read_commands(stream: TextIO) -> queue.Queue[str]:
    """Lines typed on ``stream``, read by a daemon thread (it ends at end of input)."""
    commands: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            commands.put(line.strip().lower())

    threading.Thread(target=read, name="example-stdin", daemon=True).start()
    return commands


class Demo:
    def __init__(self, stack: DemoStack, terminal: Terminal, stop: threading.Event, commands: queue.Queue[str]) -> None:
        if stack.bind is None:
            raise RuntimeError("Demo needs a started DemoStack")
        self.stack, self.terminal, self.stop, self.commands = stack, terminal, stop, commands
        self.observer = Observer(stack.bind, stack.route53_client(), stack.hosted_zone_id)
        self.seen: Answer | None = None
        self.ok = True  # False once a scenario step missed its deadline

    # ------------------------------------------------------------ the loop

    def run(self, kill_after: float | None, down_for: float) -> bool:
        """Until ``stop`` is set (Ctrl-C); True unless the scenario failed a step."""
        if kill_after is not None:
            self.scenario(kill_after, down_for)
        while not self.stop.is_set():
            self.tick()
        return self.ok

    def tick(self) -> None:
        try:
            command = self.commands.get(timeout=TICK)
        except queue.Empty:
            pass
        else:
            self.obey(command)
        answer = self.observer.read()
        if answer != self.seen:
            self.seen = answer
            self.terminal.say(f"now: {answer}")

    def obey(self, command: str) -> None:
        backend = self.stack.backends.get(command)
        if backend is not None:
            self.toggle(backend)
        elif command:
            names = " or ".join(self.stack.backends)
            self.terminal.say(f"unknown command {command!r}: type {names} and Enter, Ctrl-C to stop")

    def toggle(self, backend: Backend) -> None:
        if backend.running():
            self.terminal.say(f"killing backend {backend.label} (kill -9 {backend.pid})")
            backend.kill()
        else:
            backend.start()
            self.terminal.say(f"backend {backend.label} is running again (pid {backend.pid})")

    # ------------------------------------------------------------ the scenario

    def expected(self) -> tuple[str, ...]:
        """What the record should hold with the backends that run now."""
        up = [b.address for b in self.stack.backends.values() if b.running()]  # in priority order
        if self.stack.settings.mode == "multivalue":
            return tuple(sorted(up))
        return tuple(up[:1])

    def scenario(self, kill_after: float, down_for: float) -> None:
        victim = self.stack.backends["a"]
        if self._step(self.expected(), "published on both servers") is None:
            return
        self.pause(kill_after)
        if self.stop.is_set():
            return
        self.toggle(victim)
        if self._step(self.expected(), "moved on both servers", "after the kill") is None:
            return
        self.pause(down_for)
        if self.stop.is_set():
            return
        self.toggle(victim)
        if self._step(self.expected(), "back on both servers", "after the restart") is not None:
            self.terminal.say("scenario done; type a or b and Enter to kill or restart a backend, Ctrl-C to stop")

    def _step(self, wanted: tuple[str, ...], what: str, since: str = "") -> float | None:
        deadline = STEP_DEADLINE + self.stack.settings.failback_after
        took = self.wait_for(wanted, deadline)
        record = f"{RECORD} A -> {', '.join(wanted)}"
        if took is not None:
            self.terminal.say(f"{record}: {what}, {took:.1f} s {since or 'after start-up'}")
        elif not self.stop.is_set():
            self.ok = False
            self.terminal.say(f"FAILED: {record} not {what} within {deadline:.0f} s ({self.seen})")
        return took

    def wait_for(self, wanted: tuple[str, ...], timeout: float) -> float | None:
        """Seconds until both servers answer ``wanted``; None after ``timeout`` or on stop."""
        began = time.monotonic()
        while not self.stop.is_set():
            self.tick()
            if self.seen == Answer(wanted, wanted):
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                return None
        return None

    def pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < end:
            self.tick()


__all__ = ["Demo", "read_commands"]
