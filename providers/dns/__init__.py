"""Standard DNS servers (RFC 2136 dynamic updates, TSIG-signed), a resolver that serves stale
answers when its nameservers fail, and a DNS health probe.  Needs the ``dns`` extra
(dnspython): ``pip install 'multicloud-failover[dns]'``.

Names load on first use, like the cloud packages': the resolver does not load the
zone-transfer and update code of `Rfc2136Zone`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.lazy import lazy_exports

if TYPE_CHECKING:
    from failover.providers.dns.probe import DnsProbe
    from failover.providers.dns.resolver import Answer, ResilientResolver
    from failover.providers.dns.rfc2136 import TSIG_ALGORITHMS, Rfc2136Zone

__all__ = ["TSIG_ALGORITHMS", "Answer", "DnsProbe", "ResilientResolver", "Rfc2136Zone"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "probe": ("DnsProbe",),
        "resolver": ("Answer", "ResilientResolver"),
        "rfc2136": ("TSIG_ALGORITHMS", "Rfc2136Zone"),
    },
)
