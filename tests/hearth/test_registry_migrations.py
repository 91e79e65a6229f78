"""Migrations: discovery by file name, ordered and idempotent application, rollback, locking."""

from __future__ import annotations

import shutil
import sqlite3
import threading

import pytest

from hearth.registry import Registry
from hearth.registry.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    discover,
    migrate,
    schema_version,
    split_statements,
)

BASE_TABLES = {"households", "tenants", "devices", "tariffs", "consent_log", "audit_log"}


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _connect(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def migrations_copy(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    return directory


def test_fresh_registry_has_base_tables_wal_and_foreign_keys(tmp_path):
    with Registry(tmp_path / "reg.sqlite3") as reg:
        assert _tables(reg.conn) >= BASE_TABLES
        assert reg.schema_version == discover()[-1].version
        assert reg.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reg.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert reg.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_migrations_are_idempotent(tmp_path):
    path = tmp_path / "reg.sqlite3"
    with Registry(path) as reg:
        version = reg.schema_version
        reg.audit("test", "mark", "H000001")
    with Registry(path) as reg:
        assert reg.schema_version == version
        assert migrate(reg.conn) == []
        assert reg.counts()["audit_log"] == 1            # data survives reopening
        applied = reg.conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert applied == version


def test_a_new_migration_file_applies_on_top(tmp_path, migrations_copy):
    path = tmp_path / "reg.sqlite3"
    conn = _connect(path)
    first = migrate(conn, migrations_copy)
    latest = first[-1]
    (migrations_copy / f"{latest + 1:04d}_widgets.sql").write_text(
        "-- a comment; with a semicolon\n"
        "CREATE TABLE widgets (widget_id TEXT PRIMARY KEY, household_id TEXT NOT NULL "
        "REFERENCES households (household_id));\n"
        "CREATE TRIGGER widgets_stamp AFTER INSERT ON widgets BEGIN\n"
        "  INSERT INTO audit_log (actor, action, target) VALUES ('t', 'widget;added', "
        "NEW.widget_id);\nEND;\n")
    assert migrate(conn, migrations_copy) == [latest + 1]
    assert "widgets" in _tables(conn)
    assert schema_version(conn) == latest + 1
    assert migrate(conn, migrations_copy) == []


def test_a_failing_migration_is_rolled_back(tmp_path, migrations_copy):
    conn = _connect(tmp_path / "reg.sqlite3")
    latest = migrate(conn, migrations_copy)[-1]
    (migrations_copy / f"{latest + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(MigrationError, match=r"broken\.sql failed and was rolled back"):
        migrate(conn, migrations_copy)
    assert "half_done" not in _tables(conn)
    assert schema_version(conn) == latest


@pytest.mark.parametrize(("name", "message"), [
    ("GAP_gap.sql", "without gaps"),  # GAP: two past the newest, whatever that is
    ("12_short.sql", "NNNN_name.sql"),
    ("0001_again.sql", "two migrations numbered 0001"),
])
def test_bad_migration_file_names_are_refused(migrations_copy, name, message):
    newest = max(int(p.name[:4]) for p in migrations_copy.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    name = name.replace("GAP", f"{newest + 2:04d}")
    (migrations_copy / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=message):
        discover(migrations_copy)


def test_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "reg.sqlite3"
    Registry(path).close()
    conn = _connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(MigrationError, match="version 999"):
        Registry(path)


def test_processes_opening_at_once_migrate_once(tmp_path):
    path = tmp_path / "reg.sqlite3"
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Registry(path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    conn = _connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in discover()]


def test_split_statements_keeps_triggers_whole():
    sql = ("CREATE TABLE a (x);\n-- only a comment;\nCREATE TRIGGER t AFTER INSERT ON a BEGIN "
           "SELECT 1; SELECT 2; END;\nINSERT INTO a VALUES ('semi;colon');")
    statements = split_statements(sql)
    assert len(statements) == 3
    assert statements[1].endswith("END;")
    assert "'semi;colon'" in statements[2]


def test_a_file_that_is_not_a_registry_is_a_clear_error(tmp_path):
    from hearth.registry import RegistryError

    path = tmp_path / "notes.sqlite3"
    path.write_text("this is not a database " * 100)
    with pytest.raises(RegistryError, match="is not a usable registry"):
        Registry(path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RegistryError, match="cannot open the registry"):
        Registry(tmp_path / "file" / "reg.sqlite3")


def _writer(path: str, name: str, n: int) -> None:
    with Registry(path) as reg:
        for i in range(n):
            with reg.transaction():
                reg.audit(name, "tick", f"{name}-{i}")
                reg.households()          # a read inside the write lock, as real code does


def test_several_processes_write_without_locking_errors(tmp_path):
    import multiprocessing

    path = str(tmp_path / "reg.sqlite3")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, f"p{k}", 40)) for k in range(3)]
    for p in procs:
        p.start()
    with Registry(path) as reader:           # reads while they write (WAL: never blocked)
        for _ in range(20):
            reader.counts()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with Registry(path) as reg:
        assert reg.counts()["audit_log"] == 120


def test_0005_reads_deadlines_out_of_older_event_texts(tmp_path, migrations_copy):
    """Events written before 0005 carry the Awaab's Law deadline in their text only; 0005
    fills the due_by and stage columns from it and leaves other events alone."""
    for f in migrations_copy.glob("*.sql"):  # a registry as it was before 0005
        if int(f.name[:4]) >= 5:
            f.unlink()
    conn = _connect(tmp_path / "reg.sqlite3")
    migrate(conn, migrations_copy)
    # (foreign keys are off on this bare connection: no household row needed)
    conn.execute("INSERT INTO cases (case_id, household_id, kind, severity, score, reasons,"
                 " opened_at, updated_at) VALUES (1, 'H1', 'damp_mould', 'high', 50, 'damp',"
                 " '2026-01-02T10:00:00Z', '2026-01-02T10:00:00Z')")
    texts = [
        ("opened", "high: Humidity above 70% for 5 h (due by 2026-01-16T23:59:59Z, investigate)"),
        ("stage", "made_safe done; next: investigate due by 2026-01-20T23:59:59Z"),
        ("stage", "investigate done; next: written_summary due by 2026-01-23T23:59:59Z"),
        ("stage", "safety_work done; next: safety_work"),
        ("note", "tenant says due by Friday, investigate please"),
        ("worsened", "high -> emergency: humidity 95%"),
    ]
    for action, detail in texts:
        conn.execute("INSERT INTO case_events (case_id, at, actor, action, detail) VALUES"
                     " (1, '2026-01-03T10:00:00Z', 'advisor', ?, ?)", (action, detail))
    migrate(conn, MIGRATIONS_DIR)
    got = conn.execute("SELECT due_by, stage FROM case_events ORDER BY event_id").fetchall()
    assert got == [("2026-01-16T23:59:59Z", "investigate"),
                   ("2026-01-20T23:59:59Z", "investigate"),
                   ("2026-01-23T23:59:59Z", "written_summary"),
                   (None, "safety_work"),
                   (None, None),
                   (None, None)]


def test_two_way_sms_migration_keeps_sms_log_and_marks_outbox_not_delivered(tmp_path,
                                                                            migrations_copy):
    """The two-way SMS migration rebuilds sms_log with the new statuses: every row kept, an
    outbox tip that the old code called 'delivered' becomes 'outbox' (it reached no one)."""
    (mine,) = migrations_copy.glob("*_two_way_sms_opendata.sql")
    for f in migrations_copy.glob("*.sql"):
        if f.name >= mine.name:
            f.unlink()
    conn = _connect(tmp_path / "reg.sqlite3")
    migrate(conn, migrations_copy)
    rows = [("H1", "credit_runout", "outbox", "delivered"), ("H1", "cold_home", "notify",
                                                            "delivered"),
            ("H2", "damp_mould", None, "queued"), ("H2", "bill_shock", "notify", "sending")]
    conn.executemany("INSERT INTO sms_log (household_id, template, sender, status) VALUES"
                     " (?, ?, ?, ?)", rows)
    migrate(conn, MIGRATIONS_DIR)
    got = conn.execute("SELECT message_id, household_id, template, sender, status FROM sms_log"
                       " ORDER BY message_id").fetchall()
    assert got == [(1, "H1", "credit_runout", "outbox", "outbox"),
                   (2, "H1", "cold_home", "notify", "delivered"),
                   (3, "H2", "damp_mould", None, "queued"),
                   (4, "H2", "bill_shock", "notify", "sending")]
    conn.execute("UPDATE sms_log SET status = 'cancelled' WHERE message_id = 3")   # now allowed
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                          " AND tbl_name = 'sms_log'")}
    assert {"sms_log_household", "sms_log_case", "sms_log_status"} <= indexes
    assert {"sms_replies", "notify_cursor", "sms_number_tasks", "opendata_publications",
            "opendata_cells"} <= _tables(conn)
