"""What the test suite and the drill share to run against real servers on this machine:
the local cloud servers (`failover.testing.servers`: moto, Azurite, fake-gcs-server; all
three at once, with a bucket each and a configuration file, `failover.testing.clouds`) and a
loopback proxy that injects network faults in front of any of them
(`failover.testing.proxy`: delay, blackhole, reset, 503).

The in-memory clouds and fault injection that need no server are providers
(`failover.providers.memory`, `failover.providers.chaos`); the fake clock is
`failover.clock.FakeClock`.  Nothing here is imported by ``import failover``.
"""

__all__: list[str] = []
