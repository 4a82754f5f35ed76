"""The layers of docs/architecture.md, enforced: an AST walk over every module (imports inside functions and
under TYPE_CHECKING count too)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "blocks", "jobs", "countersign_sdk")

# The core: service, store, audit, policy, models and the pure helpers they use. It knows no channel.
CORE = {
    "bot",
    "bot.agent_view",
    "bot.audit",
    "bot.audit_archive",
    "bot.audit_chain",
    "bot.clock",
    "bot.datadir",
    "bot.deciders",
    "bot.display",
    "bot.durations",
    "bot.envcheck",
    "bot.errors",
    "bot.events",
    "bot.expiry",
    "bot.jsonutil",
    "bot.summary",
    "bot.keys",
    "bot.limits",
    "bot.logs",
    "bot.metrics",
    "bot.models",
    "bot.netpolicy",
    "bot.ratelimit",
    "bot.redaction",
    "bot.search",
    "bot.secrets",
    "bot.service",
    "bot.settings",
    "bot.stats",
    "bot.store",
    "bot.validation",
    "bot.schema_cache",
    "bot.grants",
    "bot.grant_store",
    "bot.review_guard",
    "bot.trust",
}
# Wiring the core into something that runs (the Runtime, the embedded Redis server, the HTTP runner).
WIRING = {"bot.runtime", "bot.embedded", "bot.connections", "bot.redis_url", "bot.shutdown", "bot.supervisor"}
# The composition roots: they may import anything.
ROOTS = ("bot.server", "bot.bootstrap", "bot.cli")
# Third-party libraries of the edges: the core imports none of them.
EDGE_LIBRARIES = {"aiohttp", "aiohttp_jinja2", "jinja2", "slack_bolt", "slack_sdk", "rq", "twilio", "itsdangerous"}
# Libraries that do I/O: the policy engine is a pure function of its inputs and imports none of them.
IO_LIBRARIES = EDGE_LIBRARIES | {"redis", "httpx", "requests", "socket", "subprocess", "asyncio"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _owner(name: str) -> str | None:
    """The project module `name` refers to (`bot.store.Store` → `bot.store`), or None for a library."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(project modules, top-level library names) that `module` imports anywhere in its file."""
    path = modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    project: set[str] = set()
    libraries: set[str] = set()

    def add(name: str) -> None:
        owner = _owner(name)
        if owner is None:
            libraries.add(name.split(".")[0])
        elif owner != module:
            project.add(owner)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            for alias in node.names:
                # `from bot.channels.sms import keys` imports the module bot.channels.sms.keys.
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base)
    return frozenset(project), frozenset(libraries)


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def is_core(module: str) -> bool:
    return module in CORE or _in(module, "bot.policy")


def channel_of(module: str) -> str | None:
    """Which channel a module belongs to: `bot.channels.<name>`, or `slack` for handlers/ and blocks/."""
    if _in(module, "handlers") or _in(module, "blocks"):
        return "slack"
    if module.startswith("bot.channels."):
        return module.split(".")[2]
    return None


def test_the_walk_sees_every_package() -> None:
    names = modules()
    assert {"bot.service", "bot.channels.email.links", "handlers.install", "jobs.worker", "bot.cli"} <= set(names)
    assert "bot.channels.sms.keys" in imports("bot.channels.sms.inbound")[0]
    assert "bot.bootstrap" in imports("jobs.context")[0]  # imports inside functions count too
    assert "redis" in imports("bot.store")[1]


def test_core_imports_only_the_core() -> None:
    core = [m for m in modules() if is_core(m)]
    assert not [f"{m} imports {t}" for m in core for t in sorted(imports(m)[0]) if not is_core(t)]


def test_core_imports_no_edge_library() -> None:
    core = [m for m in modules() if is_core(m)]
    assert not [f"{m} imports {t}" for m in core for t in sorted(imports(m)[1] & EDGE_LIBRARIES)]


def test_every_core_module_is_listed() -> None:
    """A new module directly under bot/ is placed in a layer on purpose (and this test's sets say which)."""
    top_level = {m for m in modules() if m.count(".") == 1 and m.startswith("bot.") and not _in(m, "bot.channels")}
    top_level -= {"bot.policy", "bot.cli"}
    assert top_level <= CORE | WIRING | set(ROOTS), sorted(top_level - CORE - WIRING - set(ROOTS))


def test_policy_is_pure() -> None:
    policy = [m for m in modules() if _in(m, "bot.policy")]
    wrong = [f"{m} imports {t}" for m in policy for t in sorted(imports(m)[1] & IO_LIBRARIES)]
    wrong += [
        f"{m} imports {t}"
        for m in policy
        for t in sorted(imports(m)[0])
        if not (
            _in(t, "bot.policy")
            or t
            in {
                "bot.models",
                "bot.errors",
                "bot.durations",
                "bot.display",
                "bot.deciders",
                "bot.redaction",
                "bot.jsonutil",
                "bot",
            }
        )
    ]
    assert not wrong


def test_wiring_imports_only_core_and_wiring() -> None:
    wrong = [f"{m} imports {t}" for m in WIRING for t in sorted(imports(m)[0]) if not (is_core(t) or t in WIRING)]
    assert not wrong


@pytest.mark.parametrize("module", sorted(m for m in modules() if channel_of(m)))
def test_channels_do_not_import_each_other(module: str) -> None:
    """A channel imports its own package, the shared `bot.channels.common`, the core and the Runtime:
    no other channel, no job, no composition root."""
    own = channel_of(module)
    wrong = []
    for target in sorted(imports(module)[0]):
        other = channel_of(target)
        if other is not None and other not in (own, "common"):
            wrong.append(target)
        elif other is None and not (is_core(target) or target in WIRING or _in(target, "bot.channels")):
            wrong.append(target)  # jobs/, bot.server, bot.bootstrap, bot.cli, the SDK
    assert not wrong, f"{module} imports {wrong}"


def test_common_imports_no_channel() -> None:
    common = [m for m in modules() if _in(m, "bot.channels.common")]
    assert not [f"{m} imports {t}" for m in common for t in imports(m)[0] if channel_of(t) not in (None, "common")]


def test_jobs_and_the_sdk_stay_out_of_the_roots() -> None:
    """Jobs may use channels' outbound halves, never a composition root's CLI or server; the SDK is a
    client library and imports nothing of the server."""
    jobs = [
        f"{m} imports {t}"
        for m in modules()
        if _in(m, "jobs")
        for t in imports(m)[0]
        if _in(t, "bot.cli") or _in(t, "bot.server")
    ]
    sdk = [
        f"{m} imports {t}"
        for m in modules()
        if _in(m, "countersign_sdk")
        for t in imports(m)[0]
        if not _in(t, "countersign_sdk")
    ]
    assert not jobs + sdk


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:  # noqa: C901 -- Tarjan's algorithm, kept whole
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(graph[node]):
                work.append((node, child + 1))
                target = graph[node][child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_cycles() -> None:
    assert _cycles({m: sorted(imports(m)[0]) for m in modules()}) == []


def test_the_cycle_check_finds_cycles() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e2"], "e2": ["e"], "f": ["a"]}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["e", "e2"]]
