"""Hearth's InfluxQL uses only what InfluxDB 1.x, 2.x, 3 Core/Enterprise and Clustered all
accept on the v1 /query endpoint (docs/influxdb.md, "InfluxDB beyond one node"): no
SLIMIT/SOFFSET, no SELECT ... INTO, no two statements in one request, and schema changes
(CREATE/ALTER/DROP/DELETE) only in the 1.x branch of InfluxClient.ensure_database. Every
string literal of the rooms' code (f-strings with their placeholders blanked) is scanned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ["hearth", "collectors", "forecasting", "advisor", "dashboard", "importers"]
FORBIDDEN = {
    "SLIMIT/SOFFSET (not implemented in InfluxDB 3)": re.compile(r"\bS(LIMIT|OFFSET)\b"),
    "SELECT ... INTO (not in InfluxDB 2.x/3.x)": re.compile(r"\bSELECT\b[^;]*\bINTO\b"),
    "two statements in one request": re.compile(r";\s*(SELECT|SHOW)\b"),
}
# InfluxQL schema changes; SQLite statements are told apart by their tables (below).
SCHEMA = re.compile(r"\b(CREATE (DATABASE|RETENTION POLICY|USER)|ALTER RETENTION POLICY|"
                    r"DROP (MEASUREMENT|SERIES|DATABASE|RETENTION POLICY)|DELETE FROM\s+\")")


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}"
                                       for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _texts():
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            # Adjacent literals and f-strings are one statement: scan each call's strings joined.
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    parts = [s for a in node.args for _, s in _strings(a)]
                    if parts:
                        yield path, node.lineno, "".join(parts)
            for line, s in _strings(tree):
                yield path, line, s


def test_no_influxql_outside_what_every_influxdb_accepts():
    found = []
    for path, line, text in _texts():
        if "SELECT" not in text and "SHOW" not in text and "DROP" not in text:
            continue
        for why, pattern in FORBIDDEN.items():
            if pattern.search(text):
                found.append(f"{path.relative_to(ROOT)}:{line}: {why}: {text[:120]!r}")
    assert not found, "\n".join(found)


def test_schema_changes_only_in_the_1x_branch_of_ensure_database():
    allowed = {"hearth/influx/client.py": {"ensure_database"}}  # its v1 branch
    local_1x = {"hearth/stack.py"}  # users and admin of the local InfluxDB 1.x `stack up` runs
    found = []
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in local_1x:
                continue
            tree = ast.parse(path.read_text(), str(path))
            spans = [(n.lineno, n.end_lineno) for n in ast.walk(tree)
                     if isinstance(n, ast.FunctionDef) and n.name in allowed.get(rel, ())]
            for line, text in _strings(tree):
                if SCHEMA.search(text) and not any(a <= line <= b for a, b in spans):
                    found.append(f"{rel}:{line}: {text[:100]!r}")
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_forbids(tmp_path):
    """The patterns are not dead: each catches its construct."""
    samples = ['SELECT x FROM m SLIMIT 1', 'SELECT * INTO "db"."rp"."m" FROM m',
               'SELECT x FROM a; SELECT y FROM b']
    for text, pattern in zip(samples, FORBIDDEN.values(), strict=True):
        assert pattern.search(text)
    assert SCHEMA.search('DROP MEASUREMENT "usage_30m"')
    assert not SCHEMA.search("DELETE FROM cases WHERE case_id = ?")
