"""The journal's tables, and how a journal of an earlier version is brought up to date."""

from __future__ import annotations

# The journal's schema version (SQLite's user_version). Rollback "weeks later" reads journals
# written by earlier versions: each is brought up to this one by MIGRATIONS, in order, in one
# transaction, when it is opened. Version 1 is the schema before versions were recorded
# (user_version 0 with the tables present).
SCHEMA_VERSION = 3
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2 -> 3: a run taken in from the servers' records (made on another workstation)
    2: ("ALTER TABLE runs ADD COLUMN origin TEXT",),
    # 1 -> 2: a run's handlers get their own column (they were kept under hosts["handlers"])
    1: (
        "ALTER TABLE runs ADD COLUMN handlers TEXT",
        "UPDATE runs SET handlers = json_extract(hosts, '$.handlers') WHERE handlers IS NULL",
        # one vocabulary: a rollback that could not restore everything was "incomplete"
        "UPDATE runs SET status = 'rollback-incomplete' WHERE status = 'incomplete'",
    ),
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,               -- apply | rollback
    playbook TEXT NOT NULL,
    playbook_source TEXT NOT NULL,
    playbook_digest TEXT NOT NULL,
    operator TEXT NOT NULL,
    change_id TEXT,
    hosts TEXT NOT NULL,              -- JSON: the hosts as given, and the server names
    connection TEXT NOT NULL,         -- JSON: transport, auth, exchange, CA file; never credentials
    status TEXT NOT NULL,
    rolls_back TEXT,
    rolled_back_by TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    pid INTEGER NOT NULL,
    machine TEXT NOT NULL,
    report TEXT,
    handlers TEXT,                    -- JSON: name -> {kind, settings}, as the run ran them
    origin TEXT                       -- NULL: run here; 'servers': taken in from the servers' records
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    server TEXT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    spec TEXT NOT NULL,               -- JSON: the resource settings
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    diff TEXT,
    notify TEXT NOT NULL,             -- JSON list of handler names
    status TEXT NOT NULL,
    before_state BLOB,
    after_state BLOB,
    before_digest TEXT,
    after_digest TEXT,
    backup TEXT,
    error TEXT,
    started TEXT,
    finished TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL REFERENCES runs(id),
    time TEXT NOT NULL,
    server TEXT,
    message TEXT NOT NULL
);
"""
