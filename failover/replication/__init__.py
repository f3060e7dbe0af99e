"""Replicated writes that lose nothing: the write modes, the durable repair journal, the
repairer and its drainer thread, versions (last writer wins), writes still in flight,
restored-target detection, anti-entropy and reconcile.

::

    FailoverStorage(targets, writes=replication.Primary(journal="failover-journal.sqlite"))
"""

from failover.replication.modes import DEFAULT_JOURNAL, All, Primary, Quorum, Replication, WriteMode
from failover.replication.reconcile import Divergence, ReconcileReport, reconcile

__all__ = [
    "DEFAULT_JOURNAL",
    "All",
    "Divergence",
    "Primary",
    "Quorum",
    "ReconcileReport",
    "Replication",
    "WriteMode",
    "reconcile",
]
