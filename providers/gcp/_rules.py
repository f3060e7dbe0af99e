"""Google Cloud rules that need no SDK, shared by the sync adapters (google-cloud-*) and the
async GCS adapter (gcloud-aio-storage): Google's error reasons, GCS's bucket names,
generation tokens and ranged answers."""

from __future__ import annotations

import re

from failover.errors import AlreadyExists, ConfigError, InvalidInput, Throttled, Unavailable
from failover.providers._errors import by_code

# Google's codes are the reasons in a JSON error (``errors[0].reason``), shared by GCS, GCE
# and Cloud DNS.  GCS says "conflict" both to a taken bucket name and to a concurrent
# change, so that 409 is told apart by the request (providers/_errors.ON_CREATE).
REASONS = by_code(
    {
        # GCE's insert of a taken name; a Cloud DNS change adding a set that exists.
        AlreadyExists: ("alreadyExists",),
        # GCE answers its API rate limits with a 403: back off, not a refused credential.
        Throttled: ("rateLimitExceeded", "userRateLimitExceeded"),
    }
)

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


def validate_bucket_name(bucket: str) -> str:
    rule = (
        "GCS bucket names are 3-63 characters (222 with dots, 63 between dots) of lowercase "
        "letters, digits, '-', '_' and '.', start and end with a letter or digit, and do not "
        "start with 'goog'"
    )
    ok = (
        isinstance(bucket, str)
        and _BUCKET.match(bucket) is not None
        and (len(bucket) <= 63 or "." in bucket)
        and all(0 < len(part) <= 63 for part in bucket.split("."))
        and not bucket.startswith("goog")
    )
    if not ok:
        raise ConfigError(f"invalid bucket name {bucket!r}: {rule}")
    return bucket


def generation_of(if_match: str) -> int:
    """The generation an ``if_match`` token names: the decimal digits the adapters put in ``etag``."""
    if not if_match.isdecimal() or not if_match.isascii() or int(if_match) <= 0:
        raise InvalidInput(
            f"if_match {if_match!r} is not a GCS generation: pass the etag head() or put() of this store returned"
        )
    return int(if_match)


def range_of(data: bytes, status: list[int], start: int, end: int, where: str) -> bytes:
    """Bytes ``[start, end)`` from a ranged download's body (``status``: its HTTP status, if seen).

    A 206 carries the range.  A 200 carries the whole object: fake-gcs-server answers a
    range that starts past the end that way, so the range is cut from it here (empty, as
    on S3 and Azure).  A 206 longer than the range asked for is a broken response.
    """
    if status and status[-1] == 206:
        if len(data) > end - start:
            raise Unavailable(
                f"get_range {where}: a 206 response of {len(data)} bytes for a {end - start}-byte range",
                operation="get_range",
            )
        return data
    if status or len(data) > end - start:
        return data[start:end]
    return data


__all__ = ["REASONS", "generation_of", "range_of", "validate_bucket_name"]
