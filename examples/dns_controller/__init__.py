"""Example: a `DnsController` keeps ``app.example.test`` pointed at healthy backends, on a
BIND primary (RFC 2136 with TSIG) and on Route 53 (moto) at once.

    python -m examples.dns_controller --kill-after 5

Everything runs on loopback: `stack.DemoStack` starts the servers and writes the
controller's config file, `watch` prints what changes, `demo` is the main loop and the
kill scenario, `backend` is the HTTP backend process.  See README.md in this folder.
"""
