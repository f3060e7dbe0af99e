"""Standard DNS servers (RFC 2136 dynamic updates, TSIG-signed), a resolver that serves stale
answers when its nameservers fail, and a DNS health probe.  Needs the ``dns`` extra:
``pip install multicloud-failover[dns]``."""

from __future__ import annotations

try:
    import dns.version  # noqa: F401  (imported to fail early with a helpful message)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "failover.providers.dns needs dnspython, which is not installed: pip install multicloud-failover[dns]"
    ) from exc

from failover.providers.dns.probe import DnsProbe
from failover.providers.dns.resolver import Answer, ResilientResolver
from failover.providers.dns.rfc2136 import TSIG_ALGORITHMS, Rfc2136Zone

__all__ = ["TSIG_ALGORITHMS", "Answer", "DnsProbe", "ResilientResolver", "Rfc2136Zone"]
