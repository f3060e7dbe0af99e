"""An upload/download web service whose files live on S3, Azure Blob and GCS at once.

    python -m examples.object_service --local

starts moto, Azurite and fake-gcs-server, and serves ``/objects/KEY`` on
http://127.0.0.1:8000 over one `failover.FailoverStorage` with replicated writes; a cloud
taken down (``POST /chaos/TARGET/down``) is failed over, and repaired from the journal
when it is back.  `create_app` builds the FastAPI app over any `FailoverStorage`.  See
README.md beside this file.
"""

from examples.object_service.app import create_app

__all__ = ["create_app"]
