"""What a submit (edits included), a decision and an undo change, written into a `ChangeSet`.

Pure functions of what the store read: the items concerned and the other versions of the
same post. Each updates the items it was given to their state after the change, so a batch
planned step by step sees its own earlier steps.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence

from moderation.changes import ChangeSet, Remember, SetDecider, Undone
from moderation.post import Post, Status
from moderation.queue import (
    MODERATION,
    PUBLIC,
    RESTORED,
    RESTORED_REASON,
    Action,
    AuditEntry,
    Decision,
    QueueItem,
    Verdict,
    plan_decision,
    plan_undo,
    replaced_by,
    restored_event,
    screen_events,
    unpin_events,
)
from moderation.shares import screen_shares
from moderation.wire import MessageType

SUPERSEDED_REASON = "a newer version of this post arrived"


def root_of(post: Post) -> str:
    """The id every version of a post is grouped under: the first version's."""
    return post.edit_of or post.id


def move(changes: ChangeSet, item: QueueItem, after: Status, actor: str, at: float,
         rule: str | None = None, reason: str | None = None) -> None:
    """Move `item` to `after` with the public events that makes: shown on approval (with the
    share count screens show), retracted on leaving it, unpinned when the pinned post leaves
    it. `item` is updated to match."""
    before = item.status
    for type_, data in screen_events(item.post, before, after, screen_shares(item.shares)):
        changes.append(PUBLIC, type_, data, at,
                       shows=item.post.id if type_ == MessageType.POST_SHOWN else None)
    for type_, data in unpin_events(item.post.id, after, changes.pinned):
        changes.set_wall("pinned", None)
        changes.both(type_, {**data, "moderator": actor}, at)
    changes.set_status(item, after, actor, at, rule, reason)


def plan_submit(changes: ChangeSet, post: Post, verdict: Verdict,
                earlier: list[QueueItem], author: str | None = None) -> QueueItem:
    """Queue a new post after the `earlier` versions of it; return its item as queued.

    A pending earlier version is rejected as superseded; an approved one is replaced when
    the new version is approved, but an edit of an approved post always waits for a
    moderator. `author`: the moderator who wrote it (an announcement).
    """
    now = changes.clock()
    if any(e.status is Status.APPROVED for e in earlier) and verdict.status is Status.APPROVED:
        # Nobody may edit an approved post into something else unseen.
        verdict = Verdict(Status.PENDING, "edit.of-approved",
                          "an edit of an approved post waits for a moderator")
    for e in earlier:
        if e.status is Status.PENDING:
            move(changes, e, Status.REJECTED, "rules", now, "edit.superseded",
                               SUPERSEDED_REASON)
            changes.audit(now, "rules", "reject", e.post.id, Status.PENDING, Status.REJECTED,
                          "edit.superseded")
            changes.append(MODERATION, MessageType.QUEUE_DECIDED, {
                "id": e.post.id, "status": Status.REJECTED.value, "action": "reject",
                "moderator": "rules", "rule": "edit.superseded",
            }, now)
    item = QueueItem(post=post, status=Status.PENDING, rule=verdict.rule,
                     reason=verdict.reason, received_at=now, updated_at=now)
    data = post.to_dict()
    changes.insert(item, root_of(post), data)
    if verdict.status is not Status.PENDING:
        move(changes, item, verdict.status, "rules", now)
        for e in earlier:
            if e.status is Status.APPROVED and verdict.status is Status.APPROVED:
                move(changes, e, Status.HIDDEN, "rules", now, "edit.replaced")
    changes.audit(now, "rules", "submit", post.id, None, item.status, verdict.rule)
    changes.append(MODERATION, MessageType.QUEUE_ADDED, {"item": item.to_dict(data)}, now)
    if author is not None:
        # Queued by the rules like any post; the announcement is the moderator's.
        changes.ops.append(SetDecider(post.id, author))
        changes.audit(now, author, "announce", post.id, None, item.status, "announcement")
        item.decided_by = author
    return item


def plan_submits(
    changes: ChangeSet, entries: Sequence[tuple[Post, Verdict]],
    found: dict[str, QueueItem | None], groups: dict[str, list[QueueItem]],
    author: str | None = None, landed: Collection[str] = (),
) -> list[tuple[QueueItem, bool]]:
    """Queue posts one after the other (an edit may follow its post in the same batch).

    `found`: the items already queued under the posts' ids; `groups`: the versions of each
    root, oldest first. A post already queued changes nothing and gives `(item, False)`,
    but the first time one of `landed` (queued by an earlier attempt of this very change)
    comes up it counts as new.
    """
    # A post read both by id and among its versions is one item, changed once.
    versions_by_id = {v.post.id: v for group in groups.values() for v in group}
    found = {i: versions_by_id.get(i, item) for i, item in found.items()}
    results: list[tuple[QueueItem, bool]] = []
    seen: set[str] = set()
    for post, verdict in entries:
        existing = found.get(post.id)
        if existing is not None:
            results.append((copy.copy(existing), post.id in landed and post.id not in seen))
            seen.add(post.id)
            continue
        seen.add(post.id)
        versions = groups.setdefault(root_of(post), [])
        item = plan_submit(changes, post, verdict, versions, author)
        versions.append(item)
        found[post.id] = item
        # As queued: a later edit in the batch changes the item, not this result.
        results.append((copy.copy(item), True))
    return results


def plan_decide(changes: ChangeSet, item: QueueItem, others: list[QueueItem], action: Action,
                moderator: str, expected: Status | None = None,
                ref: str | None = None) -> Decision:
    """A moderator's decision on `item`; `others`: the other versions of the same post.

    `DecisionConflict` when it does not apply. An approved edit hides the version the room
    saw; the decision is audited as one its moderator may undo.
    """
    post_id, before = item.post.id, item.status
    plan = plan_decision(post_id, before, action, moderator, expected)
    now = changes.clock()
    if plan.status is Status.APPROVED:
        # An approved edit replaces the version the room saw.
        for other in others:
            if other.status is Status.APPROVED:
                move(changes, other, Status.HIDDEN, moderator, now, "edit.replaced")
    rule = item.rule
    move(changes, item, plan.status, moderator, now)
    for type_, data in plan.moderation:
        changes.append(MODERATION, type_, data, now)
    changes.audit(now, moderator, action.value, post_id, before, plan.status, rule, ref,
                  undoable=True)
    decision = Decision(post_id, action, before, plan.status, moderator, now)
    if ref is not None:
        changes.ops.append(Remember(ref, decision))
    return decision


def plan_undo_change(changes: ChangeSet, item: QueueItem, last: AuditEntry,
                     others: list[QueueItem], moderator: str,
                     ref: str | None = None) -> Decision:
    """Undo `last`, the moderator's newest decision not undone, on `item`; `others`: the
    other versions of the same post, shown again if the undone approval had replaced them."""
    before = item.status
    plan = plan_undo(last.post_id, before, last, moderator)
    now = changes.clock()
    move(changes, item, plan.status, moderator, now)
    changes.ops.append(Undone(moderator))
    changes.audit(now, moderator, "undo", last.post_id, before, plan.status, item.rule, ref)
    for type_, data in plan.moderation:
        changes.append(MODERATION, type_, {**data, "item": item.to_dict()}, now)
    for other in replaced_by(last.action, moderator, last.at, others):
        move(changes, other, Status.APPROVED, moderator, now, RESTORED, RESTORED_REASON)
        changes.audit(now, moderator, "restore", other.post.id, Status.HIDDEN,
                      Status.APPROVED, RESTORED)
        changes.append(MODERATION, *restored_event(other.post.id, moderator), now)
    decision = Decision(last.post_id, Action(last.action), before, plan.status, moderator, now)
    if ref is not None:
        changes.ops.append(Remember(ref, decision))
    return decision
