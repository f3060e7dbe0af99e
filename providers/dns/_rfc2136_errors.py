"""How `Rfc2136Zone` reads a failure: the one place where a DNS server's response codes and
dnspython's and the socket's exceptions become `failover.errors`.  A refusal is told apart by
what was asked (a write, a zone transfer, a query), a dead or garbling server is `Unavailable`
(try another target), and every message names the zone, the server and the key, with the TSIG
secret scrubbed out.  It stands apart from the zone because it decides nothing about records
and sends nothing itself: it reads what an exchange gave back, and the zone asks it after each
one (for a refused write, through a callable that asks the server whether the key may update).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.rcode
import dns.tsig
import dns.xfr

from failover.errors import (
    InvalidInput,
    InvalidRequest,
    PermissionDenied,
    ProviderError,
    Timeout,
    Unavailable,
    Unsupported,
)
from failover.providers.dns._tsig import Tsig

_WRITES = frozenset({"upsert_record", "delete_record"})
_INVALID = frozenset({dns.rcode.FORMERR, dns.rcode.NOTZONE, dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXRRSET})


@dataclass(frozen=True)
class Scope:
    """What an error message names: the zone, the server (``host:port``) and the key; the
    key's secret is what it scrubs out."""

    zone: str
    where: str
    tsig: Tsig

    @property
    def key_name(self) -> str:
        return str(self.tsig.key.name)


def check(
    response: dns.message.Message, operation: str, what: str, scope: Scope, may_update: Callable[[], bool]
) -> None:
    """Nothing for NOERROR, else the error the response code means; a write REFUSED although
    ``may_update()`` is the server's own checks refusing the change."""
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR:
        return
    if rcode == dns.rcode.REFUSED and operation in _WRITES and may_update():
        raise InvalidRequest(
            f"{operation} {scope.zone} {what} at {scope.where}: REFUSED by the server's checks of the "
            f"change (key {scope.key_name!r} may update the zone), such as check-names or "
            "check-integrity (an in-zone name server or mail exchange without an address); its log says which",
            operation=operation,
        )
    raise rcode_error(rcode, operation, what, scope)


def rcode_error(rcode: dns.rcode.Rcode, operation: str, what: str, scope: Scope) -> ProviderError:
    msg = f"{operation} {scope.zone} {what} at {scope.where}: {dns.rcode.to_text(rcode)}"
    if rcode == dns.rcode.REFUSED and operation in _WRITES:
        return PermissionDenied(
            f"{msg} (key {scope.key_name!r} may not update the zone: allow-update or update-policy)",
            operation=operation,
        )
    if rcode == dns.rcode.REFUSED and operation == "list_records":
        return PermissionDenied(
            f"{msg} (key {scope.key_name!r} may not transfer the zone: allow-transfer)",
            operation=operation,
        )
    if rcode == dns.rcode.REFUSED:
        return PermissionDenied(
            f"{msg} (the server does not serve the zone, or refuses queries from this client)",
            operation=operation,
        )
    if rcode == dns.rcode.NOTAUTH:
        return PermissionDenied(f"{msg} (the server is not primary for the zone)", operation=operation)
    if rcode == dns.rcode.NOTIMP:
        return Unsupported(msg, operation=operation)
    if rcode in _INVALID:
        return InvalidRequest(msg, operation=operation)
    # SERVFAIL and anything unexpected: the server is in trouble, try another target.
    return Unavailable(msg, operation=operation)


@contextmanager
def errors(operation: str, what: str, scope: Scope) -> Iterator[None]:
    """The one place where dnspython and socket errors become `failover.errors`."""
    try:
        yield
    except (InvalidInput, ProviderError):
        raise
    except Exception as exc:
        mapped = translate(exc, operation, what, scope)
        if mapped is None:
            raise
        raise mapped from exc


def translate(exc: Exception, op: str, what: str, scope: Scope) -> ProviderError | None:
    # dnspython does not put secrets in messages today; scrubbing keeps it so if it ever does.
    detail = f"{type(exc).__name__}: {exc}".replace(scope.tsig.text, "REDACTED")
    msg = f"{op} {scope.zone} {what} at {scope.where}: {detail}"
    if isinstance(exc, dns.xfr.TransferError):
        return rcode_error(exc.rcode, op, what, scope)
    if isinstance(exc, (dns.tsig.PeerError, dns.tsig.BadSignature, dns.tsig.BadKey)):
        return PermissionDenied(f"{msg} (TSIG key {scope.key_name!r} rejected)", operation=op)
    if isinstance(exc, dns.tsig.BadTime):
        return PermissionDenied(f"{msg} (clocks differ by more than the TSIG fudge)", operation=op)
    if isinstance(exc, (dns.exception.Timeout, TimeoutError)):
        return Timeout(msg, operation=op)
    if isinstance(exc, (OSError, EOFError, dns.exception.DNSException)):
        # Refused, reset, closed mid-answer, garbled: this server is not answering well.
        return Unavailable(msg, operation=op)
    return None


__all__ = ["Scope", "check", "errors", "rcode_error", "translate"]
