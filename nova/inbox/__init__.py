"""The owner's inbox: everything that waits for him, from every store, newest first.

``collect_inbox(InboxScope(settings))`` gathers the registered sources (``nova.inbox.sources``:
approvals, open failures, stalled pipelines, unanswered questions); ``nova inbox`` prints it
and the server serves it (``nova.server.inbox``). New kinds of items register a source with
``@inbox_source`` (``nova.inbox.registry``).
"""

from nova.inbox.model import Action, Inbox, InboxItem, InboxScope, ItemKind, SourceReport
from nova.inbox.registry import (
    InboxSource,
    SourceResult,
    collect_inbox,
    inbox_source,
    registered_sources,
)

__all__ = [
    "Action",
    "Inbox",
    "InboxItem",
    "InboxScope",
    "InboxSource",
    "ItemKind",
    "SourceReport",
    "SourceResult",
    "collect_inbox",
    "inbox_source",
    "registered_sources",
]
