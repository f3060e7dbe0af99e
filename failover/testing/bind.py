"""A real BIND 9 primary on 127.0.0.1, for RFC 2136 tests and the DNS controller example.

`BindServer` writes its whole configuration into its own temporary directory (nothing from
/etc/bind is read): one primary zone, ``example.test.`` by default, whose updates and
transfers need a TSIG key made by ``tsig-keygen``.  For error tests it also serves, unless
``error_cases=False``, a second key that may do nothing and a zone that fails to load.
Like `failover.testing.servers.LocalServer` it binds 127.0.0.1 on a free port and logs to a
file; ``kill()`` is a SIGKILL and ``restart()`` comes back on the same port with the zone as
it was first written (the journal is deleted).  Needs Debian's ``bind9`` and ``bind9-utils``
(``named``, ``tsig-keygen``) and dnspython.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from failover.testing.servers import START_TIMEOUT, LocalServer, ServerError

DEFAULT_ZONE = "example.test."
KEY_NAME = "failover-test-key"
# A key the server knows but grants nothing: its signed updates are answered REFUSED.
READONLY_KEY_NAME = "failover-readonly-key"
# A zone whose file does not exist: named serves it as SERVFAIL, a server in trouble.
BROKEN_ZONE = "broken.test."

# Only SOA and NS, both at the apex: the contract suite expects every other name to be its own.
_ZONE_FILE = """\
$TTL 300
@   IN SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 60
@   IN NS  ns1.example.net.
"""

_OPTIONS = """\
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
// No rndc channel: the packaged default would listen on 127.0.0.1:953 and read /etc/bind.
controls {{ }};
include "{dir}/tsig.key";
zone "{zone}" {{
    type primary;
    file "{dir}/zone.db";
    allow-update {{ key "{key}"; }};
    allow-transfer {{ key "{key}"; }};
}};
"""

_ERROR_CASES = """\
include "{dir}/readonly.key";
zone "{broken}" {{
    type primary;
    file "{dir}/missing.db";
    allow-update {{ key "{key}"; }};
}};
"""


def _tool(name: str) -> str:
    # Debian installs both in /usr/sbin, which is not on every user's PATH.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        raise ServerError(f"{name} is not installed (Debian bind9 / bind9-utils): run .ci/install")
    return found


class BindServer(LocalServer):
    """``named -g -4 -c CONF`` serving one primary zone on 127.0.0.1:``port``.

    Process control (start, readiness loop, kill, stop, log) is `LocalServer`'s; BIND
    adds its config and TSIG keys, a fresh zone file on every start, and readiness by
    an SOA query instead of HTTP.  ``tsig_secret`` is the update key's secret: pass it
    to an `Rfc2136Zone`, never to a log (the repr leaves it out).
    """

    def __init__(
        self, zone: str = DEFAULT_ZONE, *, error_cases: bool = True, start_timeout: float = START_TIMEOUT
    ) -> None:
        super().__init__("bind", self._command, start_timeout=start_timeout)
        try:
            self._configure(zone, error_cases)
        except BaseException:
            self.close()  # the folder, the log and the spawner thread: nothing left behind
            raise

    def _configure(self, zone: str, error_cases: bool) -> None:
        self.zone = zone if zone.endswith(".") else zone + "."
        self.key_name = KEY_NAME
        self.key_algorithm = "hmac-sha256"
        self.conf_path = self.workdir / "named.conf"
        self.tsig_secret = self._make_key(self.key_name, "tsig.key")
        conf = _OPTIONS.format(dir=self.workdir, port=self.port, zone=self.zone, key=self.key_name)
        self.readonly_key_name: str | None = None
        self.readonly_secret: str | None = None
        if error_cases:
            self.readonly_key_name = READONLY_KEY_NAME
            self.readonly_secret = self._make_key(self.readonly_key_name, "readonly.key")
            conf += _ERROR_CASES.format(dir=self.workdir, broken=BROKEN_ZONE, key=self.key_name)
        self.conf_path.write_text(conf)

    def _command(self, port: int, workdir: Path) -> list[str]:
        # No -u: named started by root stays root (checked: Debian's 9.18 does not drop
        # privileges without -u), so it can write the journal in our root-owned temp dir;
        # started by another user it runs as that user, who owns the dir.
        return [_tool("named"), "-g", "-4", "-c", str(self.conf_path)]

    def _make_key(self, name: str, file: str) -> str:
        try:
            out = subprocess.run(
                [_tool("tsig-keygen"), "-a", "hmac-sha256", name],
                check=True,
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServerError(f"tsig-keygen failed: {exc}") from exc
        (self.workdir / file).write_text(out)
        found = re.search(r'secret\s+"([^"]+)"', out)
        if found is None:
            raise ServerError("tsig-keygen printed no secret")
        return found.group(1)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_zone(self) -> None:
        # A fresh zone each start: the journal would otherwise replay the last run's updates.
        for stale in self.workdir.glob("zone.db*"):
            stale.unlink()
        (self.workdir / "zone.db").write_text(_ZONE_FILE)

    def start(self) -> None:
        if not self.running():
            self._write_zone()
        super().start()

    def _answers(self) -> bool:
        import dns.exception
        import dns.message
        import dns.query
        import dns.rcode

        query = dns.message.make_query(self.zone, "SOA")
        try:
            response = dns.query.tcp(query, self.host, port=self.port, timeout=1.0)
        except (OSError, dns.exception.DNSException):
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def clear_zone(self) -> None:
        """Delete every record set except the apex SOA and NS, in one signed update."""
        import dns.query
        import dns.rcode
        import dns.rdatatype
        import dns.tsig
        import dns.update
        import dns.xfr
        import dns.zone

        key = dns.tsig.Key(self.key_name, self.tsig_secret, self.key_algorithm)
        zone = dns.zone.Zone(self.zone, relativize=False)
        query, _ = dns.xfr.make_query(zone, serial=None, keyring=key, keyname=key.name)
        dns.query.inbound_xfr(self.host, zone, query, port=self.port, timeout=5.0)
        update = dns.update.UpdateMessage(self.zone, keyring=key, keyname=key.name)
        for name, rdataset in zone.iterate_rdatasets():
            if name != zone.origin:
                update.delete(name)
            elif rdataset.rdtype not in (dns.rdatatype.SOA, dns.rdatatype.NS):
                update.delete(name, rdataset.rdtype)
        if update.update:
            response = dns.query.tcp(update, self.host, port=self.port, timeout=5.0)
            if response.rcode() != dns.rcode.NOERROR:
                raise ServerError(f"could not clear {self.zone}: {dns.rcode.to_text(response.rcode())}")

    def __repr__(self) -> str:
        # Never the TSIG secret.
        state = "running" if self.running() else "stopped"
        return f"<bind {self.zone} {self.endpoint} {state}>"


__all__ = ["BROKEN_ZONE", "DEFAULT_ZONE", "KEY_NAME", "READONLY_KEY_NAME", "BindServer"]
