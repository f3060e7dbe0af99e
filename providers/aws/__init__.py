"""AWS adapters (boto3).  Needs the ``aws`` extra: ``pip install multicloud-failover[aws]``."""

from __future__ import annotations

try:
    import boto3  # noqa: F401  (imported to fail early with a helpful message)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "failover.providers.aws needs boto3, which is not installed: pip install multicloud-failover[aws]"
    ) from exc

from failover.providers.aws._client import map_errors
from failover.providers.aws.ec2 import EC2Compute
from failover.providers.aws.route53 import Route53Zone
from failover.providers.aws.s3 import S3Store

__all__ = ["EC2Compute", "Route53Zone", "S3Store", "map_errors"]
