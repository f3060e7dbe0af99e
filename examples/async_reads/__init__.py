"""Files served from S3, Azure Blob and GCS at once through the async facade.

    python -m examples.async_reads --local

starts moto, Azurite and fake-gcs-server and serves ``/files/KEY`` on
http://127.0.0.1:8000 with ``async def`` handlers over one `failover.aio.FailoverStorage`:
hedged reads, hard attempt deadlines, streamed downloads, truthful 404s.  `create_app`
builds the FastAPI app over any async `FailoverStorage`.  See README.md beside this file.
"""

from examples.async_reads.app import create_app

__all__ = ["create_app"]
