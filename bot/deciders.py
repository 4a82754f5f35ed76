"""Who is deciding: a decider's identities, resolved to one person through the policy's `people:` directory
and the adapters' look-ups (a Slack user's profile email, channel and user-group members)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.models import Actor
from bot.policy.schema import LevelPolicy, Person

# Adapter-provided look-ups; the core knows no channel. Each answers with Slack user IDs.
GroupResolver = Callable[[str], Awaitable[set[str]]]  # "@handle" → members
IdentityResolver = Callable[[str], Awaitable[frozenset[str]]]  # a Slack user ID → its other names (email)
MemberResolver = Callable[[str], Awaitable[frozenset[str] | None]]  # "#name" / channel ID → members, None: unknown
_SLACK_USER = re.compile(r"[uw][a-z0-9]{2,20}")
_PHONE_NOISE = re.compile(r"[\s().-]")
MAX_ROUNDS = 3


@dataclass(frozen=True)
class Decider:
    """Who is deciding, as the channel adapter established it."""

    channel: str
    id: str
    name: str | None = None
    identities: frozenset[str] = field(default_factory=frozenset)  # Slack ID, email, phone…
    admin: bool = False  # an approver API key or a dashboard admin: may decide any request

    @property
    def actor(self) -> Actor:
        return Actor(channel=self.channel, id=self.id, name=self.name)  # type: ignore[arg-type]

    @property
    def all_identities(self) -> set[str]:
        return {normal(i) for i in self.identities | {self.id}}


@dataclass(frozen=True)
class Individual:
    """One person: `key` counts their vote once (a directory entry, else the identity they came with)."""

    key: str
    identities: frozenset[str]

    @property
    def markers(self) -> set[str]:
        """What the transition script records per vote, so no other identity of theirs votes again."""
        return {*self.identities, self.key}


def normal(identity: str) -> str:
    """One spelling per identity: case-folded; a phone number without spaces, dots, dashes or brackets."""
    text = identity.strip()
    if text.startswith("+"):
        text = "+" + _PHONE_NOISE.sub("", text[1:])
    return text.lower()


def is_slack_user(identity: str) -> bool:
    return bool(_SLACK_USER.fullmatch(identity))


class People:
    """The policy's directory: identity → the entries (key, identities) it belongs to."""

    def __init__(self, people: Iterable[Person]) -> None:
        self._by_identity: dict[str, tuple[str, frozenset[str]]] = {}
        self.by_name: dict[str, frozenset[str]] = {}
        for n, person in enumerate(people):
            key = f"person:{normal(person.name) if person.name else n}"
            identities = frozenset(normal(i) for i in person.identities)
            for identity in identities:
                self._by_identity[identity] = (key, identities)
            if person.name:
                self.by_name[normal(person.name)] = identities

    def entries(self, identities: Iterable[str]) -> dict[str, frozenset[str]]:
        return dict(self._by_identity[i] for i in identities if i in self._by_identity)


class Resolver:
    """Turns what a channel knows of someone into one person; adapters plug in their look-ups."""

    def __init__(self, people: People) -> None:
        self.people = people
        self.identity_resolver: IdentityResolver | None = None
        self.group_resolver: GroupResolver | None = None
        self.member_resolver: MemberResolver | None = None

    async def individual(self, identities: Iterable[str], own_key: str) -> Individual:
        """Everything known to be the same person: directory entries and Slack profiles, to a fixed point."""
        found = {normal(i) for i in identities if i}
        looked_up: set[str] = set()
        keys: set[str] = set()
        for _ in range(MAX_ROUNDS):
            grown = set(found)
            for key, theirs in self.people.entries(found).items():
                keys.add(key)
                grown |= theirs
            if self.identity_resolver is not None:
                for user_id in sorted(i for i in grown if is_slack_user(i) and i not in looked_up):
                    looked_up.add(user_id)
                    grown |= {normal(i) for i in await self.identity_resolver(user_id.upper())}
            if grown == found:
                break
            found = grown
        return Individual(min(keys) if keys else normal(own_key), frozenset(found))

    async def named(self, approver: str, person: Individual) -> bool:
        """Whether a policy's approver entry (identity, person name or @group) names this person."""
        wanted = normal(approver)
        if wanted in person.identities or self.people.by_name.get(wanted, frozenset()) & person.identities:
            return True
        if wanted.startswith("@") and self.group_resolver is not None:
            return bool({normal(m) for m in await self.group_resolver(approver)} & person.identities)
        return False

    async def targeted(self, route: LevelPolicy, person: Individual) -> tuple[bool, list[str]]:
        """Whether the request was sent to this person: a member of one of its Slack channels, or one of its
        email, SMS or Slack user targets (the level's channels and every escalation step's targets); and the
        channels whose members Slack would not list."""
        unknown: list[str] = []
        for kind, target in route_targets(route):
            if kind in ("email", "sms") or (kind == "slack" and target[:1] in ("U", "W", "@")):
                if await self.named(target, person):
                    return True, []
            elif kind == "slack":
                members = await self.member_resolver(target) if self.member_resolver is not None else None
                if members is None:
                    unknown.append(target)
                elif {normal(m) for m in members} & person.identities:
                    return True, []
        return False, unknown


def slack_channels(route: LevelPolicy) -> list[str]:
    """The request's Slack channels (not users or groups): whose members may decide it if it names nobody."""
    return [target for kind, target in route_targets(route) if kind == "slack" and target[:1] in ("#", "C", "G")]


def route_targets(route: LevelPolicy) -> list[tuple[str, str]]:
    """(kind, target) of a stored route's channels and escalation steps."""
    targets = [*route.channels, *(target for step in route.escalate for target in step.targets)]
    return [(target.kind, target.target) for target in targets]
