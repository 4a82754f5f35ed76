"""SQL risk classification with sqlglot's parser: statement kinds, never regular expressions.

The agent chooses the SQL, so the classifier assumes it is written to look harmless. Only what is known to be
a plain read is `low`: a SELECT (or SHOW/DESCRIBE/EXPLAIN of one) that calls only known-pure functions, takes no
locks and writes nowhere. Everything else — writes, side-effect functions, statements sqlglot cannot fully
type, text that does not parse — is at least `medium`, most of it `high`. Where databases read the same text
differently (comment and string syntax, MySQL's executed `/*! … */` comments) every reading is classified and
the highest wins.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from bot.models import RiskLevel
from bot.policy.sql_functions import (
    IMPURE_TYPED,
    PURE_FUNCTIONS,
    SIDE_EFFECT_FUNCTIONS,
    SQL_ARGUMENT_FUNCTIONS,
)

# sqlglot logs a warning quoting the SQL when it falls back to a Command: agent text has no place in our logs.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Node type → (statement kind, level).
_KINDS: list[tuple[type[exp.Expression], str, RiskLevel]] = [
    (exp.Drop, "DROP", RiskLevel.critical),
    (exp.TruncateTable, "TRUNCATE", RiskLevel.critical),
    (exp.Delete, "DELETE", RiskLevel.high),
    (exp.Update, "UPDATE", RiskLevel.high),
    (exp.Alter, "ALTER", RiskLevel.high),
    (exp.Grant, "GRANT", RiskLevel.high),
    (exp.Revoke, "REVOKE", RiskLevel.high),
    (exp.Merge, "MERGE", RiskLevel.high),
    (exp.Insert, "INSERT", RiskLevel.medium),
    (exp.Create, "CREATE", RiskLevel.medium),
]
_KIND_TYPES = tuple(node_type for node_type, _, _ in _KINDS)
_WATCHED = _KIND_TYPES + (exp.Func, exp.Into, exp.Lock, exp.Copy, exp.Command)
_READS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Describe, exp.Show, exp.Values)
# Dialects whose lexers disagree on comments and strings (nested /* */, backslash escapes, `#`, `--x`, $$).
_DIALECTS = (None, "postgres", "mysql")
_LEXICALLY_AMBIGUOUS = re.compile(r"[\\#$`\"]|/\*|--")
# MySQL and MariaDB run the body of /*! … */ and /*M! … */; /*+ … */ optimizer hints can set variables.
_EXECUTABLE_COMMENT = re.compile(r"/\*(?:M?!\d*|\+)")
_PROGRAM = re.compile(r"\bPROGRAM\b", re.IGNORECASE)
_UNPARSEABLE = "unparseable SQL"
# Longer SQL is classified off the event loop: up to three parses cost about 15 µs a character.
INLINE_MAX_CHARS = 500
# Calls sqlglot did not recognise: judged by name against the allow-list.
_UNTYPED_FUNCTIONS = (exp.Anonymous, exp.AnonymousAggFunc, exp.CombinedAggFunc, exp.CombinedParameterizedAgg)


@dataclass(frozen=True)
class SqlFinding:
    kind: str
    level: RiskLevel
    reason: str


@dataclass(frozen=True)
class SqlClassification:
    level: RiskLevel
    kinds: frozenset[str]
    findings: tuple[SqlFinding, ...]

    @property
    def reasons(self) -> list[str]:
        seen: list[str] = []
        for finding in self.findings:
            if finding.reason not in seen:
                seen.append(finding.reason)
        return seen

    @property
    def deciding(self) -> list[str]:
        """The reasons that set the level (the highest findings), for `policy explain`."""
        return [f.reason for f in self.findings if f.level == self.level]


def _other(level: RiskLevel, reason: str) -> SqlFinding:
    return SqlFinding("OTHER", level, reason)


def _is_false(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_false(node.this)
    if isinstance(node, exp.Boolean):
        return not node.this
    if isinstance(node, exp.Null):
        return True
    return isinstance(node, exp.Literal) and not node.is_string and _number(node.this) == 0


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_true(node: exp.Expression) -> bool:
    """Whether a predicate holds for every row (after sqlglot's constant folding)."""
    if isinstance(node, exp.Paren):
        return _is_true(node.this)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        # MySQL reads a bare `WHERE 1` or `WHERE '1'` as a number: anything non-zero is true.
        value = _number(node.this)
        return value is not None and value != 0
    if isinstance(node, exp.Not):
        return _is_false(node.this)
    if isinstance(node, exp.Or):
        return _is_true(node.this) or _is_true(node.expression)
    if isinstance(node, exp.And):
        return _is_true(node.this) and _is_true(node.expression)
    if isinstance(node, exp.EQ | exp.GTE | exp.LTE | exp.NullSafeEQ):
        # `id = id` holds for every row where id is set, which for a key is every row.
        return node.this == node.expression
    if isinstance(node, exp.Like | exp.ILike):
        return isinstance(node.expression, exp.Literal) and set(str(node.expression.this)) <= {"%"}
    return False


def _predicates(node: exp.Expression) -> list[exp.Expression]:
    """The leaves of a WHERE under AND/OR/NOT and parentheses."""
    if isinstance(node, exp.And | exp.Or):
        return _predicates(node.this) + _predicates(node.expression)
    if isinstance(node, exp.Not | exp.Paren):
        return _predicates(node.this)
    return [node]


def _matches_every_row(where: exp.Expression) -> bool:
    if _is_true(where):
        return True
    if all(leaf.find(exp.Column) is not None for leaf in _predicates(where)):
        return False  # every leaf reads a column: nothing for constant folding to decide (fast path)
    try:
        folded = simplify(where.copy())
    except Exception:  # noqa: BLE001 - sqlglot's optimizer on hostile input; fall back to the raw tree
        folded = where
    return _is_true(folded) or _is_true(where)


_TYPED_FUNCTIONS: dict[type[exp.Func], tuple[str, bool]] = {}


def _typed_function(function: type[exp.Func]) -> tuple[str, bool]:
    """A function class sqlglot knows: its name, and whether it is pure (not a sequence or file reader)."""
    if (known := _TYPED_FUNCTIONS.get(function)) is None:
        names = {n.lower() for n in function.sql_names()} or {function.__name__.lower()}
        known = _TYPED_FUNCTIONS[function] = (min(names), not (names & (IMPURE_TYPED | SIDE_EFFECT_FUNCTIONS)))
    return known


def _function_findings(node: exp.Func) -> list[SqlFinding]:
    if isinstance(node, _UNTYPED_FUNCTIONS):
        name = str(node.this if isinstance(node.this, str) else node.name).lower()
        qualifier = node.parent.this if isinstance(node.parent, exp.Dot) and node.parent.expression is node else None
        schema = qualifier.name.lower() if isinstance(qualifier, exp.Expression) else None
        pure = name in PURE_FUNCTIONS and schema in (None, "pg_catalog")
    else:
        name, pure = _typed_function(type(node))
    if pure:
        return []
    if name in SIDE_EFFECT_FUNCTIONS or name in IMPURE_TYPED:
        findings = [_other(RiskLevel.high, f"sql: function {name} has side effects")]
    else:
        findings = [_other(RiskLevel.high, f"sql: function {name[:60]} is not known to be read-only")]
    if name in SQL_ARGUMENT_FUNCTIONS:
        # dblink_exec(conn, 'DROP TABLE users'): the SQL it runs elsewhere is classified like our own.
        for argument in node.expressions:
            if isinstance(argument, exp.Literal) and argument.is_string:
                findings.extend(f for f in _classify(str(argument.this)).findings if f.kind not in ("SELECT", "OTHER"))
    return findings


def _node_findings(node: exp.Expr, text: str) -> list[SqlFinding]:  # noqa: C901 -- one flat rule per statement kind
    for node_type, kind, level in _KINDS:
        if isinstance(node, node_type):
            if kind in ("DELETE", "UPDATE") and isinstance(node.parent, exp.When):
                # MERGE … WHEN MATCHED THEN UPDATE: the MERGE's ON clause chooses the rows, not a WHERE.
                return [SqlFinding(kind, level, f"sql: {kind} in MERGE")]
            if kind in ("DELETE", "UPDATE"):
                where = node.args.get("where")
                if where is None:
                    return [SqlFinding(kind, RiskLevel.critical, f"sql: {kind} without WHERE")]
                if _matches_every_row(where.this):
                    return [SqlFinding(kind, RiskLevel.critical, f"sql: {kind} with a WHERE that matches every row")]
            return [SqlFinding(kind, level, f"sql: {kind}")]
    if isinstance(node, exp.Func):
        return _function_findings(node)
    if isinstance(node, exp.Into):
        return [SqlFinding("CREATE", RiskLevel.medium, "sql: SELECT INTO writes a table")]
    if isinstance(node, exp.Lock):
        return [_other(RiskLevel.medium, "sql: SELECT … FOR UPDATE/SHARE locks rows")]
    if isinstance(node, exp.Copy):
        if _PROGRAM.search(text):
            return [_other(RiskLevel.critical, "sql: COPY … PROGRAM runs a program on the database server")]
        return [_other(RiskLevel.high, "sql: COPY reads or writes files")]
    if isinstance(node, exp.Command):
        return _command_findings(node)
    return []


# Statement words databases know; any other first word is a typo or noise: "unparseable SQL", not a statement.
_STATEMENT_WORDS = frozenset(
    """ALTER ANALYZE ATTACH BACKUP BEGIN CACHE CALL CHECKPOINT CHECKSUM CLUSTER COMMENT
    COMMIT COPY CREATE DEALLOCATE DECLARE DELETE DESC DESCRIBE DETACH DISCARD DO DROP END EXEC EXECUTE EXPLAIN
    FETCH FLUSH GET GRANT HANDLER IMPORT INSERT INSTALL KILL LIST LISTEN LOAD LOCK MERGE MOVE MSCK NOTIFY
    OPTIMIZE PRAGMA PREPARE PURGE PUT REASSIGN REFRESH REINDEX RELEASE REMOVE RENAME REPAIR REPLACE RESET
    RESTORE REVOKE ROLLBACK SAVEPOINT SECURITY SELECT SET SHOW SHUTDOWN START TRUNCATE UNCACHE UNDROP UNLISTEN
    UNLOCK UPDATE UPSERT USE VACUUM VALUES WITH XA""".split()  # noqa: SIM905 -- a word list reads best as text
)
# EXPLAIN's options before the statement it explains (ANALYZE runs it: the statement is classified as is).
_EXPLAIN_OPTIONS = re.compile(
    r"^\s*(?:\([^)]*\)\s*|(?:ANALYZE|ANALYSE|VERBOSE|EXTENDED|PARTITIONS|FORMATTED|"
    r"QUERY\s+PLAN|PLAN\s+FOR|FORMAT\s*=?\s*\w+)\s+)*",
    re.IGNORECASE,
)


def _command_findings(node: exp.Command) -> list[SqlFinding]:
    """Statements sqlglot keeps as raw text: GRANT/REVOKE are permission changes, SHOW a read, EXPLAIN
    what it explains; anything else is unrecognised (or, not being a statement word, unparseable)."""
    name = str(node.name).upper()
    rest = node.args.get("expression")
    body = str(rest.this if isinstance(rest, exp.Literal) else rest or "")
    if name in ("GRANT", "REVOKE"):
        return [SqlFinding(name, RiskLevel.high, f"sql: {name}")]
    if name == "SHOW":
        return [SqlFinding("SELECT", RiskLevel.low, "sql: SHOW (a read)")]
    if name in ("EXPLAIN", "DESCRIBE", "DESC") and body.strip():
        explained = _EXPLAIN_OPTIONS.sub("", body, count=1)
        # One level only: "EXPLAIN EXPLAIN …" a thousand deep would make the agent's SQL cost us quadratic time.
        if not explained.strip() or explained.lstrip()[:8].upper().startswith(("EXPLAIN", "DESC")):
            return [_other(RiskLevel.high, _UNPARSEABLE)]
        return list(_classify(explained).findings)
    if name not in _STATEMENT_WORDS:
        return [_other(RiskLevel.high, _UNPARSEABLE)]
    return [_other(RiskLevel.high, f"sql: unrecognised statement {name[:40]}")]


def _statement_name(statement: exp.Expr) -> str:
    try:
        words = statement.sql().split(None, 1)
    except Exception:  # noqa: BLE001 - a tree sqlglot cannot print back is named by its type
        words = []
    return (words[0] if words else type(statement).__name__).upper()[:40]


def _statement_findings(statement: exp.Expr, text: str) -> list[SqlFinding]:
    # Walk the whole tree: a data-modifying CTE, a function call or a lock anywhere inside counts.
    findings = [f for node in statement.walk() if isinstance(node, _WATCHED) for f in _node_findings(node, text)]
    if isinstance(statement, _READS):
        return findings or [SqlFinding("SELECT", RiskLevel.low, "sql: SELECT")]
    if not isinstance(statement, _KIND_TYPES + (exp.Command, exp.Copy)):
        # SET, KILL, USE, BEGIN, a bare word sqlglot read as a column (CHECKPOINT, NOTIFY c) …: not a read.
        name = _statement_name(statement)
        findings.append(
            _other(RiskLevel.high, f"sql: unrecognised statement {name}" if name in _STATEMENT_WORDS else _UNPARSEABLE)
        )
    return findings


def _parse_findings(text: str, dialect: str | None) -> list[SqlFinding]:
    try:
        statements = [
            s for s in sqlglot.parse(text, read=dialect) if s is not None and not isinstance(s, exp.Semicolon)
        ]
        if not statements:
            return [_other(RiskLevel.high, _UNPARSEABLE)]
        return [f for statement in statements for f in _statement_findings(statement, text)]
    except Exception:  # noqa: BLE001 - any failure on hostile input means "we cannot tell": never low
        return [_other(RiskLevel.high, _UNPARSEABLE)]


def _uncommented(sql: str) -> str:
    """The SQL with executable-comment markers blanked, so their bodies are read as the code MySQL runs."""
    for _ in range(8):  # nested markers come off one layer a round; what is left fails to parse (high)
        parts: list[str] = []
        position = 0
        while match := _EXECUTABLE_COMMENT.search(sql, position):
            end = sql.find("*/", match.end())
            parts += [sql[position : match.start()], " "]
            position = len(sql) if end < 0 else end + 2
            parts += [sql[match.end() : position if end < 0 else end], " "]
        sql = "".join(parts) + sql[position:]
        if not _EXECUTABLE_COMMENT.search(sql):
            break
    return sql


def _readings(sql: str) -> list[tuple[str, str | None]]:
    texts = [sql]
    if _EXECUTABLE_COMMENT.search(sql):
        texts.append(_uncommented(sql))
    dialects = _DIALECTS if _LEXICALLY_AMBIGUOUS.search(sql) else _DIALECTS[:1]
    return [(text, dialect) for text in texts for dialect in dialects]


def _classify(sql: str) -> SqlClassification:
    findings: list[SqlFinding] = []
    if _EXECUTABLE_COMMENT.search(sql):
        findings.append(_other(RiskLevel.medium, "sql: executable comment /*! */ or /*+ */ (run as code)"))
    for text, dialect in _readings(sql):
        findings.extend(f for f in _parse_findings(text, dialect) if f not in findings)
    level = RiskLevel.highest([f.level for f in findings])
    return SqlClassification(level, frozenset(f.kind for f in findings), tuple(findings))


def classify_sql(sql: str) -> SqlClassification:
    """The highest level among all statements and all readings; SQL that does not parse is at least high."""
    # Only short SQL is cached: 4,096 entries of an agent's 100 KB strings would hold 400 MB.
    return _cached(sql) if len(sql) <= _CACHED_MAX_CHARS else _classify(sql)


_cached = lru_cache(maxsize=4096)(_classify)
_CACHED_MAX_CHARS = 4000
