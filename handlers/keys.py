"""The Redis keys of the Slack channel, in one place: every `slack:*` family is named here."""

from __future__ import annotations

from bot.keys import Keys


def messages(keys: Keys, approval_id: str) -> str:
    """The hash channel ID → message ts of one approval's Slack messages (reminders reply in these threads)."""
    return keys.named(f"slack:msg:{approval_id}")


def channel_ids(keys: Keys) -> str:
    """The hash `#name` → channel ID, learnt from posts."""
    return keys.named("slack:channels")


def post_claim(keys: Keys, approval_id: str, target: str) -> str:
    """Held by whichever process posts one request to one target."""
    return keys.named(f"slack:claim:{approval_id}:{target}")


def post_queue(keys: Keys, channel: str) -> list[str]:
    """One channel's queue of posts waiting for their turn, and its turn counter."""
    return [keys.named(f"slack:postq:{channel}"), keys.named(f"slack:postq-turns:{channel}")]


def pace(keys: Keys, channel: str) -> str:
    """When one channel may next be posted to (Slack allows about one message per second per channel)."""
    return keys.named(f"slack:pace:{channel}")


def digest(keys: Keys, digest_id: str) -> str:
    """One digest message: the hash {target, channel, ts, ids (JSON list)}."""
    return keys.named(f"slack:digest:{digest_id}")


def group_confirm(keys: Keys, token: str) -> str:
    """The approval ids one "Approve all in group…" modal listed (JSON list): only these are approved."""
    return keys.named(f"slack:group-confirm:{token}")


def open_digest(keys: Keys, target: str) -> str:
    """The digest a channel's burst is currently gathered in (expires when the burst is over)."""
    return keys.named(f"slack:digest-open:{target}")


def digested(keys: Keys, approval_id: str) -> str:
    """Which digest a request was shown in (so the start-up sweep does not post it again)."""
    return keys.named(f"slack:digested:{approval_id}")


def single(keys: Keys, approval_id: str) -> str:
    """Post this request on its own even in a burst (after "Post individually")."""
    return keys.named(f"slack:single:{approval_id}")
