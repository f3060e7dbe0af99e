"""Session-wide fixtures: the real local servers, shared by integration and contract tests.

Each server starts on first use, on a free 127.0.0.1 port, and stops at the end of the
session.  One that cannot start fails the tests that need it, with its log.
"""

from tests.integration.bind import bind
from tests.integration.redis_server import own_redis as own_redis
from tests.integration.redis_server import redis_server as redis_server
from tests.integration.servers import azurite, fake_gcs, loopback_env, moto_east, moto_west

__all__ = ["azurite", "bind", "fake_gcs", "loopback_env", "moto_east", "moto_west"]
