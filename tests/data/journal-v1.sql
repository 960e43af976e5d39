-- The journal schema of remediate before journals recorded a version (version 1):
-- tests/test_journal.py makes journals in it to prove they still roll back.
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
    report TEXT
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
