"""SQL risk classification with sqlglot's parser: statement kinds, never regular expressions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from bot.models import RiskLevel

# Node type → (statement kind, level). Order matters only for readability.
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
_READS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Describe, exp.Show)


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


def _statement_findings(statement: Any) -> list[SqlFinding]:
    findings: list[SqlFinding] = []
    # Walk the whole tree: a data-modifying CTE inside a SELECT is still a DELETE.
    for node in statement.walk():
        for node_type, kind, level in _KINDS:
            if isinstance(node, node_type):
                if kind in ("DELETE", "UPDATE") and not node.args.get("where"):
                    findings.append(SqlFinding(kind, RiskLevel.critical, f"sql: {kind} without WHERE"))
                else:
                    findings.append(SqlFinding(kind, level, f"sql: {kind}"))
                break
    if findings:
        return findings
    if isinstance(statement, _READS):
        return [SqlFinding("SELECT", RiskLevel.low, "sql: SELECT")]
    name = statement.name if isinstance(statement, exp.Command) else type(statement).__name__
    return [SqlFinding("OTHER", RiskLevel.high, f"sql: unrecognised statement {str(name).upper()[:40]}")]


@lru_cache(maxsize=4096)
def classify_sql(sql: str, dialect: str | None = None) -> SqlClassification:
    """The highest level among all statements; SQL that does not parse is at least high."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None and not isinstance(s, exp.Semicolon)]
    except (SqlglotError, RecursionError, ValueError):
        finding = SqlFinding("OTHER", RiskLevel.high, "unparseable SQL")
        return SqlClassification(RiskLevel.high, frozenset({"OTHER"}), (finding,))
    if not statements:
        finding = SqlFinding("OTHER", RiskLevel.high, "unparseable SQL")
        return SqlClassification(RiskLevel.high, frozenset({"OTHER"}), (finding,))
    findings = [f for statement in statements for f in _statement_findings(statement)]
    level = RiskLevel.highest([f.level for f in findings])
    return SqlClassification(level, frozenset(f.kind for f in findings), tuple(findings))
