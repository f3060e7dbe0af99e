"""Standard DNS servers (RFC 2136 dynamic updates, TSIG-signed).  Needs the ``dns`` extra:
``pip install multicloud-failover[dns]``."""

from __future__ import annotations

try:
    import dns.version  # noqa: F401  (imported to fail early with a helpful message)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "providers.dns needs dnspython, which is not installed: pip install multicloud-failover[dns]"
    ) from exc

from providers.dns.rfc2136 import TSIG_ALGORITHMS, Rfc2136Zone

__all__ = ["TSIG_ALGORITHMS", "Rfc2136Zone"]
