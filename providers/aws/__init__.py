"""AWS adapters (boto3), each with its own extra: `S3Store` (``s3``), `Route53Zone`
(``route53``, which adds dnspython) and `EC2Compute` (``ec2``); ``aws`` installs all three.
`AsyncS3Store` (``s3-aio``, aiobotocore) is the async S3 adapter, for `failover.aio`.

Names load on first use: ``from failover.providers.aws import S3Store`` imports boto3
and the S3 adapter only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover.lazy import lazy_exports

if TYPE_CHECKING:
    from failover.providers.aws._client import map_errors
    from failover.providers.aws.ec2 import EC2Compute
    from failover.providers.aws.route53 import Route53Zone
    from failover.providers.aws.s3 import S3Store
    from failover.providers.aws.s3_aio import AsyncS3Store

__all__ = ["AsyncS3Store", "EC2Compute", "Route53Zone", "S3Store", "map_errors"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "_client": ("map_errors",),
        "ec2": ("EC2Compute",),
        "route53": ("Route53Zone",),
        "s3": ("S3Store",),
        "s3_aio": ("AsyncS3Store",),
    },
)
