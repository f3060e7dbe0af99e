"""`Dashboard`: the instrument a facade takes (``instruments=[dashboard]``) and the ASGI
app that shows it (``dashboard.app``).

**Live updates by short polling.**  The page asks ``api/status`` once a second (after
each answer, so requests never pile up) rather than holding a server-sent event stream
open.  A poll is one short request: it passes any proxy or ASGI middleware that buffers
responses, needs no open connection per viewer (an idle stream holds a server worker
and delays a graceful shutdown until it is cut), recovers by itself after a restart,
and reads exactly what the JSON API returns, so there is one code path to test.  At one
status read per viewer per second, its cost is far below that of the traffic it shows.
"""

from __future__ import annotations

import hmac
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from failover.dashboard.app import Refused, build_app
from failover.dashboard.snapshot import EventRing, document, facade_view, failed_view
from failover.errors import ConfigError

MAX_EVENTS = 10_000
MIN_TOKEN = 16  # characters: a token short enough to guess is no control at all
BEARER = "bearer "


class Dashboard:
    """A live view of facades: give it to each (``instruments=[dashboard]``), or call
    `attach` for a facade already built, and serve ``dashboard.app``.

    ``controls``: serve the force-open and release endpoints (off by default); they need
    ``token``, which a request gives as ``Authorization: Bearer <token>``.  ``events``:
    how many recent events (INFO and above) the page shows.  ``time_ns``: the wall clock
    the replication backlog's age and the events' ages are measured on.
    """

    def __init__(
        self,
        controls: bool = False,
        token: str | None = None,
        events: int = 200,
        *,
        time_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(controls, bool):
            raise ConfigError(f"controls must be True or False, not {controls!r}")
        if isinstance(events, bool) or not isinstance(events, int) or not 1 <= events <= MAX_EVENTS:
            raise ConfigError(f"events must be an int from 1 to {MAX_EVENTS}, not {events!r}")
        if not callable(time_ns):
            raise ConfigError(f"time_ns must be a callable returning nanoseconds, not {time_ns!r}")
        self.controls = controls
        self._token = _check_token(token, controls)
        self._events = EventRing(events)
        self._time_ns = time_ns
        self._facades: dict[str, weakref.ref[Any]] = {}
        self._lock = threading.Lock()
        self.app = build_app(self)

    def __repr__(self) -> str:
        return f"Dashboard(controls={self.controls}, facades={sorted(self.facades)})"

    # ------------------------------------------------------------ instrument hooks

    def attach(self, facade: Any, name: str | None = None) -> None:
        """Show ``facade``, as ``name`` (by default its kind: ``storage``, then
        ``storage-2`` for a second one).  Attaching a facade again changes nothing."""
        if not callable(getattr(facade, "status", None)) or not hasattr(facade, "pool"):
            raise ConfigError(f"facade must be a failover facade (with status() and pool), not {facade!r}")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ConfigError(f"name must be a non-empty string, not {name!r}")
        with self._lock:
            live = {n: ref() for n, ref in self._facades.items()}
            if any(held is facade for held in live.values()):
                return
            if name is not None and live.get(name) is not None:
                raise ConfigError(f"name: the dashboard already shows a facade named {name!r}")
            self._facades[name or _free_name(str(getattr(facade, "kind", "facade")), live)] = weakref.ref(facade)

    def on_event(self, event: object) -> None:
        self._events.add(event)

    # ------------------------------------------------------------ reading

    @property
    def facades(self) -> dict[str, Any]:
        """The facades shown, by name (a facade that was collected is dropped)."""
        with self._lock:
            found = {name: ref() for name, ref in self._facades.items()}
        return {name: facade for name, facade in found.items() if facade is not None}

    def snapshot(self) -> dict[str, Any]:
        """What ``api/status`` returns: every facade's targets and the recent events."""
        now_ns = self._time_ns()
        views = []
        for name, facade in self.facades.items():
            try:
                views.append(facade_view(name, facade, now_ns))
            except Exception as exc:  # one broken facade must not blank the page
                views.append(failed_view(name, exc))
        now = now_ns / 1e9
        return document(views, self._events.rows(now), controls=self.controls, now=now)

    # ------------------------------------------------------------ controls

    def authorize(self, header: str | None) -> None:
        """Nothing if ``header`` carries the token, else `Refused` (the header is never
        part of the message)."""
        if not self.controls or self._token is None:
            raise Refused(403, "controls are off: start the dashboard with controls on and a token")
        if not header or not header.lower().startswith(BEARER):
            raise Refused(
                401, "a token is required: send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        given = header[len(BEARER) :].strip().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._token):
            raise Refused(403, "the token was refused")

    def act(self, action: str, facade: str | None, target: str, reason: str) -> str:
        """Run a control on the facade's target; what was done, or `Refused`."""
        name, found = self._facade_of(facade, target)
        why = f"dashboard: {reason}"
        try:
            if action == "force-open":
                found.force_open(target, why)
            elif action == "release":
                found.release(target, why)
            else:
                raise Refused(404, f"no control named {action!r}")
        except ConfigError as exc:
            raise Refused(400, exc.message) from None
        return f"{action} {name} {target} ({reason})"

    def _facade_of(self, facade: str | None, target: str) -> tuple[str, Any]:
        shown = self.facades
        if facade is not None:
            if facade not in shown:
                raise Refused(404, f"no facade named {facade!r}; shown: {', '.join(sorted(shown)) or 'none'}")
            candidates = {facade: shown[facade]}
        else:
            candidates = shown
        having = [(n, f) for n, f in candidates.items() if any(t.name == target for t in f.pool.targets)]
        if not having:
            raise Refused(404, f"no target named {target!r}")
        if len(having) > 1:
            raise Refused(400, f"target {target!r} is in several facades ({', '.join(n for n, _ in having)}): name one")
        return having[0]


def _check_token(token: object, controls: bool) -> bytes | None:
    """The token as bytes, checked; no message shows any part of it."""
    if token is None:
        if controls:
            raise ConfigError("controls=True needs a token argument (which requests send in an Authorization header)")
        return None
    if not controls:
        raise ConfigError("a token is given but controls=False: pass controls=True to serve the controls")
    if not isinstance(token, str):
        raise ConfigError(f"token must be a string, not a {type(token).__name__}")
    if len(token) < MIN_TOKEN or not (token.isascii() and token.isprintable()) or " " in token:
        raise ConfigError(f"token must be at least {MIN_TOKEN} printable ASCII characters without spaces")
    return token.encode("utf-8")


def _free_name(kind: str, live: dict[str, Any]) -> str:
    if live.get(kind) is None:
        return kind
    n = 2
    while live.get(f"{kind}-{n}") is not None:
        n += 1
    return f"{kind}-{n}"


__all__ = ["MAX_EVENTS", "MIN_TOKEN", "Dashboard"]
