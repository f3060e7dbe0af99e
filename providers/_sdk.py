"""The optional SDKs: the error that names the extra installing a missing one.

Each cloud SDK comes with an extra of its own (``pip install 'multicloud-failover[gcs]'``),
so a storage user never installs, or imports, a compute SDK.  Every module that imports
an SDK does so inside one guard::

    try:
        from google.cloud import storage
    except ImportError as exc:
        raise missing_sdk(__name__, "gcs", exc) from exc

and each cloud package's ``__init__`` resolves its names lazily (`failover.lazy`): importing
``GCSStore`` from ``failover.providers.gcp`` loads ``gcs.py`` and its SDK, nothing else.
"""

from __future__ import annotations

DISTRIBUTION = "multicloud-failover"


def install_command(extra: str) -> str:
    """The command that installs ``extra``, quoted for a shell (brackets are glob characters)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_sdk(needed_by: str, extra: str, exc: ImportError) -> ImportError:
    """The error to raise when ``needed_by`` (a module, or what a call builds) cannot import
    the SDK that ``extra`` installs: one line that keeps Python's own message."""
    return ImportError(f"{needed_by} needs the {extra!r} extra ({exc}): {install_command(extra)}", name=exc.name)


__all__ = ["DISTRIBUTION", "install_command", "missing_sdk"]
