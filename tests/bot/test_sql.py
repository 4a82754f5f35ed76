import pytest

from bot.models import RiskLevel
from bot.policy.sql import classify_sql


@pytest.mark.parametrize(
    ("sql", "level", "reason"),
    [
        ("DROP TABLE users", RiskLevel.critical, "sql: DROP"),
        ("truncate table orders", RiskLevel.critical, "sql: TRUNCATE"),
        ("DELETE FROM users", RiskLevel.critical, "sql: DELETE without WHERE"),
        ("update accounts set balance = 0", RiskLevel.critical, "sql: UPDATE without WHERE"),
        ("DELETE FROM users WHERE id = 'u1'", RiskLevel.high, "sql: DELETE"),
        ("UPDATE users SET name = 'x' WHERE id = 1", RiskLevel.high, "sql: UPDATE"),
        ("ALTER TABLE users ADD COLUMN age INT", RiskLevel.high, "sql: ALTER"),
        ("GRANT SELECT ON users TO bob", RiskLevel.high, "sql: GRANT"),
        ("REVOKE SELECT ON users FROM bob", RiskLevel.high, "sql: REVOKE"),
        ("INSERT INTO audit VALUES (1)", RiskLevel.medium, "sql: INSERT"),
        ("SELECT * FROM users", RiskLevel.low, "sql: SELECT"),
        ("select 1; DROP TABLE x", RiskLevel.critical, "sql: DROP"),
        ("/* harmless */ SeLeCt 1; -- DROP TABLE x\n", RiskLevel.low, "sql: SELECT"),
        ("WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT * FROM gone", RiskLevel.high, "sql: DELETE"),
        ("WITH x AS (SELECT 1) DELETE FROM t", RiskLevel.critical, "sql: DELETE without WHERE"),
        ("DELET FROM users", RiskLevel.high, "unparseable SQL"),
        ("SELECT * FROM", RiskLevel.high, "unparseable SQL"),
        ("VACUUM", RiskLevel.high, "sql: unrecognised statement VACUUM"),
    ],
)
def test_statement_kinds(sql, level, reason):
    result = classify_sql(sql)
    assert result.level == level
    assert reason in result.reasons


def test_comment_does_not_hide_a_drop():
    assert classify_sql("SELECT 1; /* just a select */ DROP TABLE users").level == RiskLevel.critical


def test_empty_sql_is_unparseable():
    assert classify_sql(" ; ").reasons == ["unparseable SQL"]


@pytest.mark.parametrize(
    ("sql", "level"),
    [
        ("SELECT 1; /*! DROP TABLE users */", RiskLevel.critical),
        ("SELECT /*+ MAX_EXECUTION_TIME(1) */ * FROM t", RiskLevel.high),
        ("SELECT * INTO backup FROM users", RiskLevel.medium),
        ("SELECT * FROM t FOR UPDATE", RiskLevel.medium),
        ("SELECT pg_sleep(1)", RiskLevel.high),
        ("SELECT my_udf(1)", RiskLevel.high),
        ("SELECT schema1.lower(x) FROM t", RiskLevel.high),
        ("SELECT pg_catalog.lower(x) FROM t", RiskLevel.low),
        ("COPY t TO PROGRAM 'sh'", RiskLevel.critical),
        ("DELETE FROM t WHERE 1 = 1", RiskLevel.critical),
        ("DELETE FROM t WHERE id = 1 AND 1 = 1", RiskLevel.high),
        ("DELETE FROM t WHERE id = 1--1", RiskLevel.high),
        ("SET x = 1", RiskLevel.high),
        ("CHECKPOINT", RiskLevel.high),
        ("SELECT count(*), lower(name), coalesce(a, b) FROM t WHERE created_at > now() GROUP BY 2", RiskLevel.low),
    ],
)
def test_levels_of_tricky_sql(sql, level):
    assert classify_sql(sql).level == level, classify_sql(sql).reasons


def test_sql_run_by_dblink_is_classified_too():
    result = classify_sql("SELECT dblink_exec('dbname=x', 'DROP TABLE users')")
    assert "DROP" in result.kinds and result.level == RiskLevel.critical


def test_deciding_reasons_are_the_highest_findings():
    result = classify_sql("SELECT 1; DELETE FROM t")
    assert result.deciding == ["sql: DELETE without WHERE"]


def test_huge_or_deeply_nested_sql_is_never_low():
    assert classify_sql("SELECT " + "(" * 5000 + "1" + ")" * 5000).level != RiskLevel.low


def test_documented_edges_of_the_sql_table() -> None:
    """docs/policy.md's table at its edges (issue 14): reads are low, MERGE is high, typos are unparseable."""
    from bot.models import RiskLevel
    from bot.policy.sql import classify_sql

    cases = {
        "SHOW TABLES": (RiskLevel.low, "sql: SHOW (a read)"),
        "EXPLAIN SELECT * FROM t": (RiskLevel.low, "sql: SELECT"),
        "EXPLAIN ANALYZE DELETE FROM t": (RiskLevel.critical, "sql: DELETE without WHERE"),
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.v = s.v": (RiskLevel.high, "sql: MERGE"),
        "GRANT ALL ON db.* TO bob": (RiskLevel.high, "sql: GRANT"),
        "SELEC * FRM t": (RiskLevel.high, "unparseable SQL"),
        "CHECKPOINT": (RiskLevel.high, "sql: unrecognised statement CHECKPOINT"),
    }
    for sql, (level, reason) in cases.items():
        found = classify_sql(sql)
        assert (found.level, reason in found.reasons) == (level, True), (sql, found)
