"""Schema migrations. Append a new script to add a version; never edit a released one."""

#: The largest line number any file has, and that a lookup or an imported record may name
#: (SQLite's INTEGER stops at 2**63; a larger Python int cannot even be bound).
MAX_LINE = 2**31 - 1
#: The columns of `samples`, in insert order.
SAMPLE_COLUMNS = ("id", "sha256", "teacher", "prompt_version", "path", "language", "kind", "symbol", "start_line",
                  "end_line", "input", "reasoning", "output", "created_at", "tokens", "seconds", "origin")

MIGRATIONS: list[str] = [
    # 1: files and their symbols; skipped files remembered so a binary file is not re-read.
    """
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        language TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        indexed_at REAL NOT NULL,
        note TEXT
    );
    CREATE TABLE symbols (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        qualname TEXT NOT NULL,
        parent TEXT,
        start_line INTEGER NOT NULL,
        end_line INTEGER NOT NULL,
        start_byte INTEGER NOT NULL,
        end_byte INTEGER NOT NULL,
        sl INTEGER NOT NULL, sc INTEGER NOT NULL, el INTEGER NOT NULL, ec INTEGER NOT NULL,
        signature TEXT NOT NULL,
        doc TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        text TEXT
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE skipped (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    # 2: teacher samples (cached per symbol text, teacher and prompt version) and the job queue.
    """
    CREATE TABLE samples (
        id TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        teacher TEXT NOT NULL,
        prompt_version INTEGER NOT NULL,
        path TEXT NOT NULL,
        language TEXT NOT NULL,
        kind TEXT NOT NULL,
        symbol TEXT NOT NULL,
        start_line INTEGER NOT NULL,
        end_line INTEGER NOT NULL,
        input TEXT NOT NULL,
        reasoning TEXT NOT NULL,
        output TEXT NOT NULL,
        created_at REAL NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX samples_key ON samples(sha256, teacher, prompt_version);
    CREATE INDEX samples_sha ON samples(sha256);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        teacher TEXT NOT NULL,
        prompt_version INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        ord INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX jobs_key ON jobs(sha256, teacher, prompt_version);
    CREATE INDEX jobs_next ON jobs(state, priority DESC, ord);
    """,
    # 3: where an answer came from ('' for our own teacher, else the shared store's URL), and the
    # shared store's recent misses (distill/shared.py), so a restart does not ask for them again.
    """
    ALTER TABLE samples ADD COLUMN origin TEXT NOT NULL DEFAULT '';
    CREATE TABLE shared_misses (
        id TEXT PRIMARY KEY,
        until REAL NOT NULL
    );
    """,
    # 4: why a file's code is not for the teacher (extract/machine_made.py: minified or generated),
    # NULL for code people wrote. Code files are read again on the next index to find out (their
    # symbols' hashes, and so the teacher answers, stay); documents are not, nothing changed there.
    """
    ALTER TABLE files ADD COLUMN machine_made TEXT;
    UPDATE files SET sha256 = '', mtime_ns = -1 WHERE language NOT IN ('docx', 'drawio', 'image', 'pdf', 'visio');
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

#: Secondary indexes, dropped during a bulk load and rebuilt after it (much faster than
#: maintaining them row by row); `Store` recreates any that a kill left missing.
LOOKUP_INDEXES: dict[str, str] = {
    "symbols_file": "CREATE INDEX IF NOT EXISTS symbols_file ON symbols(file_id, start_line)",
    "symbols_name": "CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name)",
    "symbols_sha": "CREATE INDEX IF NOT EXISTS symbols_sha ON symbols(sha256)",
}
