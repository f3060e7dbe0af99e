"""The TSIG key that signs every message of `Rfc2136Zone`: checked and decoded from what
``tsig-keygen`` prints (name, base64 secret, algorithm), and held by a wrapper whose repr
hides the secret, which dnspython's own `Key` prints.  It stands apart from the zone because
it is configuration, not DNS traffic: it is built once, before any message exists, and what
it promises (the secret never reaches a repr, an error or a log) holds whatever the zone
then sends.
"""

from __future__ import annotations

import base64
import binascii

import dns.exception
import dns.name
import dns.tsig

from failover.errors import ConfigError

TSIG_ALGORITHMS = frozenset({"hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"})


class Tsig:
    """The key, out of sight: dnspython's own `Key.__repr__` prints the secret."""

    __slots__ = ("key", "text")

    def __init__(self, key: dns.tsig.Key, text: str) -> None:
        self.key = key
        self.text = text  # the secret as given, kept only to scrub it out of error messages

    def __repr__(self) -> str:
        return f"<TSIG key {self.key.name} {self.key.algorithm}>"


def make_key(name: str, secret: str, algorithm: str) -> dns.tsig.Key:
    if not isinstance(name, str) or not name.strip("."):
        raise ConfigError("tsig_key_name is required: updates are always signed")
    if not isinstance(secret, str) or not secret:
        raise ConfigError(f"tsig_secret for key {name!r} is required: updates are always signed")
    if not isinstance(algorithm, str) or algorithm.lower().rstrip(".") not in TSIG_ALGORITHMS:
        raise ConfigError(f"tsig_algorithm must be one of {', '.join(sorted(TSIG_ALGORITHMS))}, not {algorithm!r}")
    try:
        raw = base64.b64decode(secret, validate=True)
        key_name = dns.name.from_text(name)
    except (binascii.Error, ValueError, dns.exception.DNSException):
        # Never echo the secret, even a malformed one: it may be a real key with a typo.
        raise ConfigError(f"tsig_secret for key {name!r} is not valid base64 (as tsig-keygen prints it)") from None
    if not raw:
        raise ConfigError(f"tsig_secret for key {name!r} is empty")
    return dns.tsig.Key(key_name, raw, algorithm.lower())


__all__ = ["TSIG_ALGORITHMS", "Tsig", "make_key"]
