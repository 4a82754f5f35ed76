"""Read-only transactions as the oracle: a statement PostgreSQL or MariaDB refuses as a write is never `low`.

Every statement of the corpus runs, in a scratch database made for this run, inside a read-only transaction
that is rolled back (PostgreSQL: SQLSTATE 25006; MariaDB: error 1792). Statements that start programs, touch
server files, open remote connections, sleep or end backends never run, even read-only: they are asserted
against the classifier only (STATIC_ONLY).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from bot.models import RiskLevel
from bot.policy.sql import classify_sql

PG_WRITE_REFUSED = "25006"
MARIADB_WRITE_REFUSED = 1792

PG_SETUP = [
    "CREATE TABLE users (id int PRIMARY KEY, name varchar(100), email varchar(100))",
    "CREATE TABLE orders (id int PRIMARY KEY, user_id int, total numeric(10, 2))",
    "CREATE TABLE audit (id int, note varchar(100))",
    "INSERT INTO users VALUES (1, 'ada', 'ada@example.com'), (2, 'bob', NULL)",
    "INSERT INTO orders VALUES (1, 1, 12.50), (2, 2, 3.00)",
    "CREATE SEQUENCE seq",
    "CREATE MATERIALIZED VIEW mv AS SELECT * FROM users",
    "CREATE FUNCTION wipe_fn() RETURNS int LANGUAGE sql AS $$ DELETE FROM audit; SELECT 1 $$",
    "CREATE PROCEDURE wipe() LANGUAGE sql AS $$ DELETE FROM audit $$",
]
MARIADB_SETUP = [
    "CREATE TABLE users (id int PRIMARY KEY, name varchar(100), email varchar(100))",
    "CREATE TABLE orders (id int PRIMARY KEY, user_id int, total decimal(10, 2))",
    "CREATE TABLE audit (id int, note varchar(100))",
    "INSERT INTO users VALUES (1, 'ada', 'ada@example.com'), (2, 'bob', NULL)",
    "INSERT INTO orders VALUES (1, 1, 12.50), (2, 2, 3.00)",
    "CREATE SEQUENCE seq",
    "CREATE PROCEDURE wipe() DELETE FROM audit",
    "CREATE FUNCTION wipe_fn() RETURNS int MODIFIES SQL DATA BEGIN DELETE FROM audit; RETURN 1; END",
]

# Run on both databases; a statement one of them cannot parse is skipped there.
CORPUS = [
    # reads
    "SELECT 1",
    "SELECT * FROM users",
    "SELECT count(*) FROM orders WHERE total > 10",
    "SELECT u.name, sum(o.total) FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.name",
    "SELECT lower(name), upper(email), length(name) FROM users",
    "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)",
    "SELECT name FROM users UNION SELECT email FROM users",
    "WITH big AS (SELECT * FROM orders WHERE total > 5) SELECT count(*) FROM big",
    "SELECT coalesce(email, 'none') FROM users ORDER BY id LIMIT 5",
    "SELECT max(total), min(total), avg(total) FROM orders",
    "SELECT now()",
    "SELECT * FROM users -- trailing comment",
    "/* leading */ SELECT 1",
    "SELECT CASE WHEN total > 5 THEN 'big' ELSE 'small' END FROM orders",
    "EXPLAIN SELECT * FROM users",
    "SHOW TABLES",
    "DESCRIBE users",
    "TABLE users",
    "VALUES (1), (2)",
    "SELECT 1 INTO @v",
    "SET search_path TO public",
    "SELECT set_config('application_name', 'oracle', false)",
    # plain writes
    "INSERT INTO users (id, name, email) VALUES (100, 'x', 'x@example.com')",
    "INSERT INTO audit SELECT id, name FROM users",
    "INSERT INTO users SELECT * FROM users WHERE false",
    "UPDATE users SET name = 'x' WHERE id = 1",
    "UPDATE users SET name = 'x'",
    "DELETE FROM users WHERE id = 1",
    "DELETE FROM users",
    "DELETE FROM orders WHERE user_id IN (SELECT id FROM users)",
    "TRUNCATE TABLE audit",
    "DROP TABLE audit",
    "CREATE TABLE t2 (id int)",
    "CREATE TEMPORARY TABLE tmp (id int)",
    "CREATE INDEX users_name ON users (name)",
    "CREATE VIEW v AS SELECT * FROM users",
    "ALTER TABLE users ADD COLUMN age int",
    "CREATE TABLE backup AS SELECT * FROM users",
    "SELECT * INTO backup FROM users",
    "REPLACE INTO users (id, name, email) VALUES (1, 'x', 'y')",
    "INSERT INTO users (id, name, email) VALUES (1, 'a', 'b') ON CONFLICT (id) DO NOTHING",
    "INSERT INTO users (id, name, email) VALUES (1, 'a', 'b') ON DUPLICATE KEY UPDATE name = 'c'",
    "INSERT INTO audit VALUES (1, 'x') RETURNING id",
    "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN UPDATE SET name = 'm'",
    "GRANT SELECT ON users TO PUBLIC",
    "COMMENT ON TABLE users IS 'x'",
    "CREATE SEQUENCE s2",
    "DELETE users FROM users JOIN orders ON orders.user_id = users.id",
    "UPDATE users u JOIN orders o ON o.user_id = u.id SET u.name = 'x'",
    # always-true predicates
    "DELETE FROM users WHERE 1=1",
    "DELETE FROM users WHERE true",
    "DELETE FROM users WHERE 'a'='a'",
    "DELETE FROM users WHERE id = 1 OR 1=1",
    "DELETE FROM users WHERE NOT false",
    "DELETE FROM users WHERE 1",
    "UPDATE users SET name = 'x' WHERE id = id",
    # hidden, nested and disguised writes
    "SELECT 1; DELETE FROM users",
    "SELECT 1; /*! DELETE FROM users */",
    "SELECT 1; /*!50000 DROP TABLE audit */",
    "SELECT 1; /*M!100100 DELETE FROM users */",
    "/*!UPDATE users SET name = 'x' */",
    "SELECT 1 /* /* */ ; DELETE FROM users; /* */",
    "SELECT 'a\\'; DELETE FROM users; -- '",
    "SELECT 1 # comment\n; DELETE FROM users",
    "SELECT 1--1; DELETE FROM users",
    "SELECT 1 -- x\n; DELETE FROM users",
    "WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT * FROM gone",
    "WITH x AS (SELECT 1) DELETE FROM users",
    "EXPLAIN ANALYZE DELETE FROM users",
    "ANALYZE DELETE FROM users",
    "DO $$ BEGIN DELETE FROM users; END $$",
    "PREPARE p AS DELETE FROM users; EXECUTE p",
    "PREPARE p FROM 'DELETE FROM users'; EXECUTE p",
    "CALL wipe()",
    "SELECT wipe_fn()",
    "SELECT nextval('seq')",
    "SELECT setval('seq', 5)",
    "SELECT nextval(seq)",
    "REFRESH MATERIALIZED VIEW mv",
    "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
    "SELECT * FROM users FOR UPDATE",
    "SELECT * FROM users FOR SHARE",
    "SELECT * FROM users WHERE id = 1 FOR NO KEY UPDATE",
    "SELECT * FROM users LOCK IN SHARE MODE",
    # side effects tucked into reads
    "SELECT * FROM users WHERE id = (SELECT wipe_fn())",
    "SELECT lower(name) FROM users WHERE wipe_fn() = 1",
    "SELECT (SELECT setval('seq', 1))",
    "SELECT pg_catalog.nextval('seq')",
    "SELECT \"nextval\"('seq')",
    "SELECT NEXTVAL('seq')",
    "SELECT public.wipe_fn()",
    "SELECT `wipe_fn`()",
    "SELECT id FROM users UNION SELECT wipe_fn()",
    "SELECT CAST(wipe_fn() AS char)",
    "VALUES (wipe_fn())",
    "SELECT count(*) FROM users GROUP BY id HAVING max(wipe_fn()) > 0",
    "SELECT * FROM (SELECT wipe_fn() AS w) AS sub",
]

# Never run, even read-only: programs, server files, remote connections, sleeps, ended backends, held locks.
STATIC_ONLY = [
    "COPY users TO PROGRAM 'sh -c id'",
    "COPY users FROM PROGRAM 'cat /etc/passwd'",
    "COPY users FROM '/etc/passwd'",
    "COPY users TO '/tmp/users.csv'",
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE users",
    "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE users",
    "SELECT * FROM users INTO OUTFILE '/tmp/users.txt'",
    "SELECT 'x' INTO DUMPFILE '/tmp/x.so'",
    "SELECT load_file('/etc/passwd')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT pg_ls_dir('/')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(16385, '/tmp/x')",
    "SELECT dblink_exec('host=10.0.0.1', 'DROP TABLE users')",
    "SELECT * FROM dblink('host=10.0.0.1', 'SELECT 1') AS t(a int)",
    "SELECT dblink_connect('host=10.0.0.1')",
    "SELECT pg_terminate_backend(42)",
    "SELECT pg_cancel_backend(42)",
    "SELECT pg_reload_conf()",
    "SELECT pg_sleep(10)",
    "SELECT sleep(10)",
    "SELECT benchmark(100000000, md5('a'))",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_try_advisory_lock(1)",
    "SELECT get_lock('a', 10)",
    "SELECT set_config('log_statement', 'none', false)",
    "SELECT query_to_xml('DELETE FROM users RETURNING *', true, true, '')",
    "SELECT pg_notify('c', 'x')",
    "KILL 42",
    "SHUTDOWN",
    "CREATE EXTENSION dblink",
    "INSTALL SONAME 'ha_connect'",
    "SELECT * FROM users WHERE id = 1 AND pg_sleep(10) IS NULL",
]


def _unique(statements: list[str]) -> list[str]:
    assert len(statements) == len(set(statements)), "a statement is listed twice"
    return statements


class Oracle:
    """One database's verdict per statement: refused as a write, ran, or failed for another reason."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refused: set[str] = set()
        self.ran: set[str] = set()
        self.other: dict[str, str] = {}


def _pg_oracle() -> Iterator[Oracle | str]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the test extra installs it
        yield "psycopg is not installed (pip install -e '.[test]')"
        return
    dsn = "host=127.0.0.1 port=5432 user=postgres connect_timeout=3"
    try:
        admin = psycopg.connect(dsn + " dbname=postgres", autocommit=True)
    except psycopg.OperationalError as exc:
        yield f"PostgreSQL at 127.0.0.1:5432 is unreachable: {str(exc).strip()[:200]}"
        return
    database = f"cs_oracle_{secrets.token_hex(6)}"
    admin.execute(f"CREATE DATABASE {database}")
    try:
        with psycopg.connect(f"{dsn} dbname={database}", autocommit=True) as conn:
            for statement in PG_SETUP:
                conn.execute(statement)
            conn.execute("SET statement_timeout = '5s'")
            conn.execute("SET lock_timeout = '1s'")
            # Read-only for the whole session too, so a COMMIT inside a statement opens no writable transaction.
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            oracle = Oracle("PostgreSQL")
            for statement in CORPUS:
                conn.execute("BEGIN READ ONLY")
                try:
                    conn.execute(statement.encode())
                    oracle.ran.add(statement)
                except psycopg.Error as exc:
                    if exc.sqlstate == PG_WRITE_REFUSED:
                        oracle.refused.add(statement)
                    else:
                        oracle.other[statement] = f"{exc.sqlstate}: {str(exc).splitlines()[0]}"
                finally:
                    conn.execute("ROLLBACK")
            yield oracle
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def _mariadb_oracle() -> Iterator[Oracle | str]:
    try:
        import pymysql
        from pymysql.constants import CLIENT
    except ImportError:  # pragma: no cover - the test extra installs it
        yield "pymysql is not installed (pip install -e '.[test]')"
        return
    try:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=3306,
            user="root",
            password="",
            connect_timeout=3,
            autocommit=True,
            client_flag=CLIENT.MULTI_STATEMENTS,
        )
    except pymysql.err.OperationalError as exc:
        yield f"MariaDB at 127.0.0.1:3306 is unreachable: {exc}"
        return
    database = f"cs_oracle_{secrets.token_hex(6)}"
    cursor = conn.cursor()
    cursor.execute(f"CREATE DATABASE {database}")
    try:
        cursor.execute(f"USE {database}")
        for statement in MARIADB_SETUP:
            cursor.execute(statement)
        cursor.execute("SET SESSION max_statement_time = 5, innodb_lock_wait_timeout = 1")
        # Session read-only too: DDL's implicit commit must not leave a writable transaction behind.
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
        oracle = Oracle("MariaDB")
        for statement in CORPUS:
            cursor.execute("START TRANSACTION READ ONLY")
            try:
                cursor.execute(statement)
                while cursor.nextset():
                    pass
                oracle.ran.add(statement)
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                if code == MARIADB_WRITE_REFUSED:
                    oracle.refused.add(statement)
                else:
                    oracle.other[statement] = f"{code}: {exc.args[1] if len(exc.args) > 1 else exc}"
                while True:  # drop what is left of a multi-statement batch
                    try:
                        if not cursor.nextset():
                            break
                    except pymysql.err.MySQLError:
                        break
            finally:
                cursor.execute("ROLLBACK")
        yield oracle
    finally:
        cursor.execute("SET SESSION TRANSACTION READ WRITE")
        cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.close()


@pytest.fixture(scope="module")
def oracles() -> Iterator[list[Oracle]]:
    runs = [_pg_oracle(), _mariadb_oracle()]
    verdicts: list[Any] = [next(run) for run in runs]
    unreachable = [v for v in verdicts if isinstance(v, str)]
    try:
        if unreachable:
            pytest.skip("; ".join(unreachable))
        yield verdicts
    finally:
        for run in runs:
            run.close()


def test_corpus_is_large_enough_and_unique():
    assert len(_unique(CORPUS)) >= 60
    _unique(STATIC_ONLY)


def test_both_databases_refuse_enough_of_the_corpus(oracles):
    # The oracle must really speak: a setup mistake that makes every statement fail would pass vacuously.
    for oracle in oracles:
        assert len(oracle.refused) >= 25, (oracle.name, sorted(oracle.refused), oracle.other)
        assert "SELECT * FROM users" in oracle.ran, (oracle.name, oracle.other.get("SELECT * FROM users"))
    assert "SELECT 1; /*! DELETE FROM users */" in oracles[1].refused  # MariaDB runs version comments


@pytest.mark.parametrize("statement", CORPUS)
def test_statement_a_database_refuses_read_only_is_not_low(oracles, statement):
    refused_by = [oracle.name for oracle in oracles if statement in oracle.refused]
    result = classify_sql(statement)
    if refused_by:
        assert result.level != RiskLevel.low, (statement, refused_by, result.reasons)


@pytest.mark.parametrize("statement", STATIC_ONLY)
def test_statement_with_outside_effects_is_at_least_high(statement):
    result = classify_sql(statement)
    assert result.level.rank >= RiskLevel.high.rank, (statement, result.reasons)
