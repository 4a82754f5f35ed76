"""Issue 9 §1: nothing an agent sends lowers its own risk, and its SQL cannot pass for a harmless read.

Every attack goes through the public API (POST /v1/approvals with an agent key) against the example policy
in docs/policy.example.yaml, or through `countersign policy explain`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main as countersign
from tests.support.servers import AGENT_KEY, EXAMPLE_POLICY, auth, running_app

EXAMPLE = str(Path(__file__).resolve().parents[2] / "docs" / "policy.example.yaml")
RANKS = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@pytest.fixture
async def app(settings):
    async with running_app(settings, policy=EXAMPLE_POLICY) as running:
        yield running


async def file_request(app, body):
    resp = await app.client.post("/v1/approvals", json=body, headers=auth(AGENT_KEY))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def assert_at_least(app, sql, level, action="db.query"):
    body = await file_request(app, {"action": action, "sql": sql})
    assert RANKS[body["risk_level"]] >= RANKS[level], (sql, body["risk_level"], body["risk_reasons"])
    assert body["status"] != "approved", (sql, body["decision"])
    return body


# -- agent signals only raise ----------------------------------------------------------------------------
async def test_select_1_does_not_lower_transfer_funds_to_auto_approve(app):
    plain = await file_request(app, {"action": "transfer_funds", "args": {"amount": 5000}})
    with_sql = await file_request(app, {"action": "transfer_funds", "args": {"amount": 5000}, "sql": "SELECT 1"})
    assert (plain["risk_level"], plain["status"]) == ("medium", "pending")
    assert (with_sql["risk_level"], with_sql["status"]) == ("medium", "pending")
    assert with_sql["decision"] is None


async def test_risk_level_low_hint_does_not_lower_a_rule(app):
    body = await file_request(app, {"action": "delete_user", "risk": {"level": "low"}})
    assert (body["risk_level"], body["status"]) == ("high", "pending")


HINT_POLICY = """
default_level: high
levels: {low: {auto_approve: true}}
rules:
  - {name: cheap, match: {cost_usd: {lt: 1}}, level: low}
  - {name: undoable, match: {reversible: true}, level: low}
  - {name: public-data, match: {data_sensitivity: public}, level: low}
  - {name: plain-reads, match: {action: db.query, sql: [SELECT]}, level: low}
"""


@pytest.mark.parametrize(
    "claims",
    [
        {"risk": {"cost_usd": 0}},
        {"risk": {"reversible": True}},
        {"context": {"reversible": True}},
        {"risk": {"data_sensitivity": "public"}},
        {"risk": {"level": "low", "cost_usd": 0, "reversible": True, "data_sensitivity": "public"}},
    ],
)
async def test_rule_on_agent_risk_hints_cannot_lower_below_default_level(settings, claims):
    async with running_app(settings, policy=HINT_POLICY) as app:
        body = await file_request(app, {"action": "transfer_funds", **claims})
        assert (body["risk_level"], body["status"]) == ("high", "pending"), body["risk_reasons"]


async def test_read_rule_needs_every_statement_to_be_a_read(settings):
    async with running_app(settings, policy=HINT_POLICY) as app:
        read = await file_request(app, {"action": "db.query", "sql": "SELECT count(*) FROM orders"})
        assert (read["risk_level"], read["status"]) == ("low", "approved")
        mixed = await file_request(app, {"action": "db.query", "sql": "SELECT 1; INSERT INTO audit VALUES (1)"})
        assert (mixed["risk_level"], mixed["status"]) == ("high", "pending"), mixed["risk_reasons"]


# -- the SQL classifier is not fooled --------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; /*! DROP TABLE users */",
        "SELECT 1; /*!50000 DROP TABLE users */",
        "SELECT 1; /*M!100100 DROP TABLE users */",
        "SELECT 1 /*+ ; DROP TABLE users */",
        "SELECT 1 /* /* */ ; DROP TABLE users; /* */",
        "SELECT 'a\\'; DROP TABLE users; -- '",
        "SELECT dblink_exec('host=db', 'DROP TABLE users')",
    ],
)
async def test_mysql_version_comment_drop_is_denied(app, sql):
    body = await file_request(app, {"action": "db.query", "sql": sql})
    assert body["risk_level"] == "critical", body["risk_reasons"]
    assert body["status"] == "rejected"
    assert body["decision"]["comment"] == "rule no-drops: DROP is never run by agents"


async def test_select_into_is_not_auto_approved(app):
    await assert_at_least(app, "SELECT * INTO backup FROM users", "medium")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT dblink_exec('dbname=prod', 'DELETE FROM users')",
        "SELECT * FROM dblink('host=10.0.0.1', 'SELECT 1') AS t(a int)",
        "SELECT pg_terminate_backend(42)",
        "SELECT pg_cancel_backend(42)",
        "SELECT set_config('search_path', 'evil', false)",
        "SELECT lo_import('/etc/passwd')",
        "SELECT lo_export(16385, '/tmp/x')",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT nextval('orders_id_seq')",
        "SELECT setval('orders_id_seq', 1)",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_sleep(600)",
        "SELECT sleep(600)",
        "SELECT benchmark(100000000, md5('a'))",
        "SELECT get_lock('x', 600)",
        "SELECT load_file('/etc/passwd')",
        "SELECT pg_catalog.pg_sleep(600)",
        'SELECT "pg_sleep"(600)',
        "SELECT * FROM users WHERE id = 1 AND pg_sleep(600) IS NULL",
        "SELECT my_cleanup_function()",
        "SELECT public.lower(name) FROM users",
    ],
)
async def test_side_effect_function_in_select_is_high(app, sql):
    await assert_at_least(app, sql, "high")


@pytest.mark.parametrize(
    "sql",
    [
        "COPY users TO PROGRAM 'sh -c id'",
        "COPY users FROM '/etc/passwd'",
        "LOAD DATA INFILE '/etc/passwd' INTO TABLE users",
        "SELECT * FROM users INTO OUTFILE '/tmp/users.txt'",
        "SELECT 'x' INTO DUMPFILE '/tmp/x.so'",
    ],
)
async def test_copy_to_program_and_file_statements_are_high(app, sql):
    await assert_at_least(app, sql, "high")


@pytest.mark.parametrize(
    "predicate",
    [
        "1=1",
        "true",
        "'a'='a'",
        "id = 5 OR 1=1",
        "1",
        "NOT false",
        "id = id",
        "2 > 1",
        "(1=1) AND (2=2)",
        "name LIKE '%'",
        "1=1--",
    ],
)
async def test_delete_where_1_equals_1_is_critical_like_no_where(app, predicate):
    await assert_at_least(app, f"DELETE FROM users WHERE {predicate}", "critical")
    await assert_at_least(app, f"UPDATE users SET admin = true WHERE {predicate}", "critical")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM accounts WHERE id = 1 FOR UPDATE",
        "SELECT * FROM accounts FOR SHARE",
        "SELECT * FROM accounts LOCK IN SHARE MODE",
        "CALL wipe_everything()",
        "EXEC wipe_everything",
        "DO $$ BEGIN DELETE FROM users; END $$",
        "SET search_path TO evil",
        "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
        "WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT * FROM gone",
        "EXPLAIN ANALYZE DELETE FROM users",
        "PREPARE p AS DELETE FROM users",
        "EXECUTE p",
        "PREPARE p FROM 'DROP TABLE users'",
        "VACUUM",
        "CHECKPOINT",
        "NOTIFY channel",
        "KILL 42",
        "SELECT * FROM",
        "SELECT 1 # comment\n; DELETE FROM users",
    ],
)
async def test_locks_procedures_and_untyped_statements_are_never_low(app, sql):
    await assert_at_least(app, sql, "medium")


async def test_plain_read_is_still_low(app):
    body = await file_request(
        app,
        {
            "action": "db.query",
            "sql": "SELECT u.name, count(*) FROM users u JOIN orders o ON o.user_id = u.id "
            "WHERE o.total > 10 GROUP BY u.name ORDER BY 2 DESC LIMIT 5",
        },
    )
    assert (body["risk_level"], body["status"]) == ("low", "approved")


# -- policy explain says what raised the level -----------------------------------------------------------
def test_policy_explain_shows_what_raised_the_level(capsys):
    code = countersign(
        [
            "policy",
            "explain",
            "--policy",
            EXAMPLE,
            "--action",
            "transfer_funds",
            "--sql",
            "DELETE FROM users WHERE 1=1",
            "--risk",
            '{"level": "high"}',
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["level"] == "critical"
    assert out["explanation"] == [
        "policy: default_level medium",
        "raised by sql: DELETE with a WHERE that matches every row → critical",
        "not raised by agent risk.level: high (high)",
    ]


def test_policy_explain_shows_a_hint_raising_and_sql_not_lowering(capsys):
    code = countersign(
        [
            "policy",
            "explain",
            "--policy",
            EXAMPLE,
            "--action",
            "transfer_funds",
            "--sql",
            "SELECT 1",
            "--risk",
            '{"level": "high"}',
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "level: high" in out
    assert "policy: default_level medium" in out
    assert "not raised by sql: SELECT (low)" in out
    assert "raised by agent risk.level: high → high" in out
