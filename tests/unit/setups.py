"""Set-up files on in-memory providers, shared by the tests of the commands and of the file."""

from __future__ import annotations

# Two storage targets and one DNS zone: enough for a failover and for two facades.
STORAGE_AND_DNS = """
[[storage.targets]]
name = "mem:a"
provider = "memory"

[[storage.targets]]
name = "mem:b"
provider = "memory"
priority = 1

[[dns.targets]]
name = "mem:dns"
provider = "memory_dns"
zone = "example.com."
"""

__all__ = ["STORAGE_AND_DNS"]
