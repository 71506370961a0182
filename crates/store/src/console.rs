//! What the web console reads besides the objects: accounts and sessions (in the main
//! database), and the full-text index with the dashboard's counts, which live in a database
//! of their own, `search.db` beside the main one. The index is derived data: an [`Indexer`]
//! with its own two connections follows each collection's `date_added` through a read-only
//! connection of the main database and writes only `search.db`, so it never takes the
//! ingest's writer lock nor adds pages to its WAL. Search is eventually consistent with what
//! is stored, and the whole index is rebuilt from the objects when it is missing, damaged or
//! ahead of the database it follows.

use std::path::{Path, PathBuf};

use kawal_core::search::{
    self, CountRow, Counts, IndexQuery, IndexedVersion, SightedCounts, OTHER_TYPES,
};
use kawal_core::{Acknowledgement, AlertFilter, ListedAlert, Role, Session, StoredVersion, User};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, Row};
use stix::Timestamp;

use crate::tlp_from_code;

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    secret_sha256 BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
-- Accounts that may not sign in; a table of its own so that stores made before it need no
-- migration.
CREATE TABLE IF NOT EXISTS disabled_users (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    since INTEGER NOT NULL
);
-- Every deleted version, in the order of deletion, so that the indexer (which only reads this
-- database) learns what to take out of the index and the counts.
CREATE TABLE IF NOT EXISTS deleted_versions (
    seq INTEGER PRIMARY KEY,
    collection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL
);
-- Who of the organisation acknowledged an alert, and when; the first acknowledgement stays.
CREATE TABLE IF NOT EXISTS alert_acks (
    alert_id TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL,
    by_actor TEXT NOT NULL,
    at INTEGER NOT NULL
) WITHOUT ROWID;
-- The index once lived in this database; it moved to search.db.
DROP TABLE IF EXISTS search_text;
DROP TABLE IF EXISTS search_docs;
DROP TABLE IF EXISTS search_marks;
DROP TABLE IF EXISTS type_counts;
DROP TABLE IF EXISTS day_counts;
"#;

/// `PRAGMA user_version` of `search.db`'s layout and of what [`search::document`] extracts; an
/// index of another layout is dropped and rebuilt.
const INDEX_LAYOUT: i64 = 2;

const INDEX_SCHEMA: &str = r#"
-- One row per indexed object version; `doc` is its row in `search_text`.
CREATE TABLE IF NOT EXISTS search_docs (
    doc INTEGER PRIMARY KEY,
    collection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    date_added INTEGER NOT NULL,
    type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    producer INTEGER NOT NULL,
    tlp INTEGER,
    recipients TEXT,
    name TEXT,
    created INTEGER,
    modified INTEGER,
    revoked INTEGER NOT NULL,
    first_ref TEXT,
    second_ref TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS search_docs_by_version ON search_docs (collection_id, id, version);
CREATE INDEX IF NOT EXISTS search_docs_by_date_added ON search_docs (date_added);
CREATE INDEX IF NOT EXISTS search_docs_by_collection ON search_docs (collection_id, date_added);
CREATE INDEX IF NOT EXISTS search_docs_by_type ON search_docs (type, date_added);
CREATE INDEX IF NOT EXISTS search_docs_by_created ON search_docs (created) WHERE created IS NOT NULL;
CREATE INDEX IF NOT EXISTS search_docs_by_modified ON search_docs (modified) WHERE modified IS NOT NULL;
CREATE INDEX IF NOT EXISTS search_docs_by_id ON search_docs (id);
CREATE INDEX IF NOT EXISTS search_docs_by_first_ref ON search_docs (first_ref) WHERE first_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS search_docs_by_second_ref ON search_docs (second_ref) WHERE second_ref IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
    text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
-- How far the indexer has followed each collection.
CREATE TABLE IF NOT EXISTS search_marks (collection_id TEXT PRIMARY KEY, date_added INTEGER NOT NULL);
-- The last deletion (`deleted_versions.seq` of the main database) taken out of the index.
CREATE TABLE IF NOT EXISTS deletion_mark (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL);
-- Counts keyed by everything the access policy looks at; `tlp` -1 stands for no marking.
CREATE TABLE IF NOT EXISTS type_counts (
    collection_id TEXT NOT NULL,
    type TEXT NOT NULL,
    producer INTEGER NOT NULL,
    tlp INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (collection_id, type, producer, tlp, recipients)
) WITHOUT ROWID;
-- Sightings per indicator they sight, keyed like the counts above. A sighting counts once,
-- under its newest indexed version: aggregated sightings gain a version at each update.
CREATE TABLE IF NOT EXISTS sighting_counts (
    indicator TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    producer INTEGER NOT NULL,
    tlp INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (indicator, collection_id, producer, tlp, recipients)
) WITHOUT ROWID;
-- Sightings per object sighted, all groups together: the dashboard's candidates.
CREATE TABLE IF NOT EXISTS sighted_totals (object TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sighted_totals_by_n ON sighted_totals (n DESC, object);
CREATE TABLE IF NOT EXISTS day_counts (
    day INTEGER NOT NULL,
    collection_id TEXT NOT NULL,
    sighting INTEGER NOT NULL,
    producer INTEGER NOT NULL,
    tlp INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, collection_id, sighting, producer, tlp, recipients)
) WITHOUT ROWID;
"#;

const USER_COLUMNS: &str = "id, username, org_id, role, password_hash, created, \
    EXISTS (SELECT 1 FROM disabled_users WHERE user_id = users.id)";
const INDEX_TABLES: [&str; 8] = [
    "search_docs",
    "search_text",
    "search_marks",
    "deletion_mark",
    "type_counts",
    "day_counts",
    "sighting_counts",
    "sighted_totals",
];

/// Where the index of the database at `db` lives: `search.db` in the same directory.
pub(crate) fn index_path(db: &Path) -> PathBuf {
    db.with_file_name("search.db")
}

fn open_index_file(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // Derived data: losing the last commits to a power cut only means indexing them again.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;
         PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;",
    )?;
    let layout: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if layout != INDEX_LAYOUT {
        let mut drop_all = String::from("BEGIN IMMEDIATE;");
        for table in INDEX_TABLES {
            drop_all.push_str(&format!("DROP TABLE IF EXISTS {table};"));
        }
        drop_all.push_str(INDEX_SCHEMA);
        drop_all.push_str(&format!("PRAGMA user_version = {INDEX_LAYOUT}; COMMIT;"));
        conn.execute_batch(&drop_all)?;
    }
    conn.execute_batch(INDEX_SCHEMA)?;
    Ok(conn)
}

/// Opens the index, creating it; a file that is not a readable index is removed and made
/// again, since everything in it can be rebuilt.
fn open_index(path: &Path) -> rusqlite::Result<Connection> {
    match open_index_file(path) {
        Ok(conn) => Ok(conn),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the search index is unreadable; rebuilding it");
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.as_os_str().to_owned();
                file.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(file));
            }
            open_index_file(path)
        }
    }
}

/// Makes the index readable through `reader`, a connection of the main database, as schema
/// `search`.
pub(crate) fn attach_index(reader: &Connection, path: &Path) -> rusqlite::Result<()> {
    reader.execute(
        "ATTACH DATABASE ?1 AS search",
        [path.to_string_lossy().as_ref()],
    )?;
    reader.execute_batch(&format!(
        "PRAGMA search.cache_size = -16384; PRAGMA search.mmap_size = {};",
        crate::MMAP_SIZE
    ))
}

/// The one writer of the index: `search.db` read-write, and the main database read-only.
pub(crate) struct Indexer {
    index: Connection,
    objects: Connection,
}

impl Indexer {
    pub(crate) fn open(db: &Path, index: &Path) -> rusqlite::Result<Indexer> {
        let index = open_index(index)?;
        let objects = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Each version is read once, as it arrives: mapping the file would only leave every
        // page of it in the process's memory.
        objects.execute_batch(
            "PRAGMA busy_timeout = 10000; PRAGMA cache_size = -16384; PRAGMA mmap_size = 0;",
        )?;
        Ok(Indexer { index, objects })
    }

    /// Takes out up to `batch` deletions and indexes up to `batch` new versions (oldest first
    /// in each collection), in one transaction of the index over one snapshot of the
    /// database; returns how many of either it handled.
    pub(crate) fn step(&mut self, batch: usize) -> rusqlite::Result<usize> {
        let tx = self
            .index
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // One read transaction: the deletions and the versions seen belong to one moment.
        self.objects.execute_batch("BEGIN")?;
        let stepped = step_in(&tx, &self.objects, batch);
        let ended = self.objects.execute_batch("COMMIT");
        let handled = stepped?;
        ended?;
        tx.commit()?;
        Ok(handled)
    }
}

fn step_in(tx: &Connection, objects: &Connection, batch: usize) -> rusqlite::Result<usize> {
    let high_water = crate::date_added_mark(objects)?;
    let last_deletion: i64 = objects.query_row(
        "SELECT coalesce(max(seq), 0) FROM deleted_versions",
        [],
        |r| r.get(0),
    )?;
    let followed: i64 = tx.query_row(
        "SELECT coalesce(max(date_added), 0) FROM search_marks",
        [],
        |r| r.get(0),
    )?;
    let mut deletion_mark: i64 = tx
        .query_row("SELECT seq FROM deletion_mark", [], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    if followed > high_water || deletion_mark > last_deletion {
        // The index follows another (or a restored) database: start it over.
        tracing::warn!("the search index is ahead of the database; rebuilding it");
        tx.execute_batch(
            "DELETE FROM search_docs; INSERT INTO search_text (search_text) VALUES ('delete-all');
             DELETE FROM search_marks; DELETE FROM deletion_mark; DELETE FROM type_counts; DELETE FROM day_counts;
             DELETE FROM sighting_counts; DELETE FROM sighted_totals;",
        )?;
        deletion_mark = 0;
    }
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    let deletions: Vec<(i64, String, String, i64)> = {
        let mut stmt = objects.prepare_cached(
            "SELECT seq, collection_id, id, version FROM deleted_versions WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![deletion_mark, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (_, collection, id, version) in &deletions {
        forget(tx, collection, id, *version)?;
    }
    if let Some((seq, ..)) = deletions.last() {
        tx.execute(
            "INSERT INTO deletion_mark (one, seq) VALUES (1, ?1) ON CONFLICT (one) DO UPDATE SET seq = excluded.seq",
            [seq],
        )?;
    }
    if deletions.len() >= batch {
        // A version added after a deletion still to be taken out could be one it removes
        // again (deleted, then stored anew): index nothing until every deletion is handled.
        return Ok(deletions.len());
    }
    Ok(deletions.len() + index_new(tx, objects, batch - deletions.len())?)
}

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(3)?;
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        org: row.get(2)?,
        // An unreadable role must not grant anything: fall back to the weakest.
        role: role.parse().unwrap_or(Role::Sensor),
        password_hash: row.get(4)?,
        created: Timestamp::from_micros(row.get(5)?),
        disabled: row.get(6)?,
    })
}

pub(crate) fn create_user(
    conn: &Connection,
    org: i64,
    username: &str,
    role: Role,
    password_hash: &str,
) -> rusqlite::Result<User> {
    let created = Timestamp::now();
    conn.execute(
        "INSERT INTO users (username, org_id, role, password_hash, created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![username, org, role.as_str(), password_hash, created.as_micros()],
    )?;
    Ok(User {
        id: conn.last_insert_rowid(),
        username: username.to_owned(),
        org,
        role,
        password_hash: password_hash.to_owned(),
        created,
        disabled: false,
    })
}

pub(crate) fn set_user_disabled(
    conn: &Connection,
    id: i64,
    disabled: bool,
) -> rusqlite::Result<bool> {
    let exists = conn
        .query_row("SELECT 1 FROM users WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(false);
    }
    if disabled {
        conn.execute(
            "INSERT INTO disabled_users (user_id, since) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id, Timestamp::now().as_micros()],
        )?;
        conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    } else {
        conn.execute("DELETE FROM disabled_users WHERE user_id = ?1", [id])?;
    }
    Ok(true)
}

pub(crate) fn delete_user(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    conn.execute("DELETE FROM disabled_users WHERE user_id = ?1", [id])?;
    Ok(conn.execute("DELETE FROM users WHERE id = ?1", [id])? > 0)
}

pub(crate) fn user(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        [id],
        user_from_row,
    )
    .optional()
}

pub(crate) fn user_by_name(conn: &Connection, username: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
        [username],
        user_from_row,
    )
    .optional()
}

pub(crate) fn users(conn: &Connection) -> rusqlite::Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY org_id, username"
    ))?;
    let rows = stmt.query_map([], user_from_row)?;
    rows.collect()
}

pub(crate) fn create_session(conn: &Connection, session: &Session) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sessions (secret_sha256, user_id, csrf, expires) VALUES (?1, ?2, ?3, ?4)",
        params![
            &session.secret_sha256[..],
            session.user,
            session.csrf,
            session.expires.as_micros()
        ],
    )
    .map(drop)
}

pub(crate) fn session(conn: &Connection, digest: &[u8; 32]) -> rusqlite::Result<Option<Session>> {
    conn.query_row(
        "SELECT user_id, csrf, expires FROM sessions WHERE secret_sha256 = ?1",
        [&digest[..]],
        |r| {
            Ok(Session {
                secret_sha256: *digest,
                user: r.get(0)?,
                csrf: r.get(1)?,
                expires: Timestamp::from_micros(r.get(2)?),
            })
        },
    )
    .optional()
}

fn policy_key(tlp: Option<i64>, recipients: Option<&str>) -> (i64, String) {
    (tlp.unwrap_or(-1), recipients.unwrap_or("").to_owned())
}

/// Indexes up to `batch` versions of `objects` the index `tx` does not hold yet, oldest first
/// in each collection.
fn index_new(tx: &Connection, objects: &Connection, batch: usize) -> rusqlite::Result<usize> {
    let collections: Vec<String> = {
        let mut stmt = objects.prepare_cached("SELECT id FROM collections ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut indexed = 0;
    let mut mark_of =
        tx.prepare_cached("SELECT date_added FROM search_marks WHERE collection_id = ?1")?;
    let mut pending = objects.prepare_cached(
        "SELECT id, version, date_added, type, spec_version, producer, tlp, recipients, raw
         FROM objects WHERE collection_id = ?1 AND date_added > ?2 ORDER BY date_added LIMIT ?3",
    )?;
    let mut insert_doc = tx.prepare_cached(
        "INSERT INTO search_docs (collection_id, id, version, date_added, type, spec_version, producer, tlp, recipients, name, created, modified, revoked, first_ref, second_ref)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (collection_id, id, version) DO NOTHING",
    )?;
    let mut insert_text =
        tx.prepare_cached("INSERT INTO search_text (rowid, text) VALUES (?1, ?2)")?;
    let mut count_type = tx.prepare_cached(
        "INSERT INTO type_counts (collection_id, type, producer, tlp, recipients, n) VALUES (?1, ?2, ?3, ?4, ?5, 1)
         ON CONFLICT DO UPDATE SET n = n + 1",
    )?;
    let mut count_day = tx.prepare_cached(
        "INSERT INTO day_counts (day, collection_id, sighting, producer, tlp, recipients, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
         ON CONFLICT DO UPDATE SET n = n + 1",
    )?;
    let mut save_mark = tx.prepare_cached(
        "INSERT INTO search_marks (collection_id, date_added) VALUES (?1, ?2)
         ON CONFLICT (collection_id) DO UPDATE SET date_added = excluded.date_added",
    )?;
    for collection in collections {
        if indexed >= batch {
            break;
        }
        let mark: i64 = mark_of
            .query_row([&collection], |r| r.get(0))
            .optional()?
            .unwrap_or(i64::MIN);
        let limit = i64::try_from(batch - indexed).unwrap_or(i64::MAX);
        let mut rows = pending.query(params![collection, mark, limit])?;
        let mut last = None;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let version: i64 = row.get(1)?;
            let date_added: i64 = row.get(2)?;
            let type_name: String = row.get(3)?;
            let spec_version: String = row.get(4)?;
            let producer: i64 = row.get(5)?;
            let tlp: Option<i64> = row.get(6)?;
            let recipients: Option<String> = row.get(7)?;
            let raw: String = row.get(8)?;
            let doc = search::document(&raw);
            let added = insert_doc.execute(params![
                collection,
                id,
                version,
                date_added,
                type_name,
                spec_version,
                producer,
                tlp,
                recipients,
                doc.name,
                doc.created.map(Timestamp::as_micros),
                doc.modified.map(Timestamp::as_micros),
                doc.revoked,
                doc.first_ref,
                doc.second_ref,
            ])? == 1;
            if added {
                let rowid = tx.last_insert_rowid();
                insert_text.execute(params![rowid, doc.text])?;
                let (tlp_key, recipients_key) = policy_key(tlp, recipients.as_deref());
                count_type.execute(params![
                    collection,
                    type_name,
                    producer,
                    tlp_key,
                    recipients_key
                ])?;
                count_day.execute(params![
                    date_added.div_euclid(search::DAY_MICROS),
                    collection,
                    type_name == "sighting",
                    producer,
                    tlp_key,
                    recipients_key
                ])?;
                if type_name == "sighting" {
                    let newest = newest_sighting_version(tx, &collection, &id, rowid)?;
                    if newest.as_ref().is_none_or(|n| version > n.version) {
                        if let Some(newest) = newest {
                            count_sighting(tx, &collection, &newest, -1)?;
                        }
                        let this = SightingVersion {
                            version,
                            producer,
                            tlp,
                            recipients,
                            sighted: doc.first_ref,
                        };
                        count_sighting(tx, &collection, &this, 1)?;
                    }
                }
            }
            last = Some(date_added);
            indexed += 1;
        }
        if let Some(last) = last {
            save_mark.execute(params![collection, last])?;
        }
    }
    Ok(indexed)
}

/// An indexed version's doc, `date_added`, type, producer, TLP, recipients and first
/// reference.
type IndexedRow = (
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// Removes a deleted version from the index and the counts. A version the indexer has not
/// reached yet has nothing to remove.
fn forget(tx: &Connection, collection: &str, id: &str, version: i64) -> rusqlite::Result<()> {
    let found: Option<IndexedRow> = tx
        .query_row(
            "SELECT doc, date_added, type, producer, tlp, recipients, first_ref FROM search_docs
             WHERE collection_id = ?1 AND id = ?2 AND version = ?3",
            params![collection, id, version],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some((doc, date_added, type_name, producer, tlp, recipients, first_ref)) = found else {
        return Ok(());
    };
    let (tlp_key, recipients_key) = policy_key(tlp, recipients.as_deref());
    tx.execute("DELETE FROM search_text WHERE rowid = ?1", [doc])?;
    tx.execute("DELETE FROM search_docs WHERE doc = ?1", [doc])?;
    tx.execute(
        "UPDATE type_counts SET n = n - 1 WHERE collection_id = ?1 AND type = ?2 AND producer = ?3 AND tlp = ?4 AND recipients = ?5",
        params![collection, type_name, producer, tlp_key, recipients_key],
    )?;
    tx.execute(
        "UPDATE day_counts SET n = n - 1 WHERE day = ?1 AND collection_id = ?2 AND sighting = ?3 AND producer = ?4 AND tlp = ?5 AND recipients = ?6",
        params![
            date_added.div_euclid(search::DAY_MICROS),
            collection,
            type_name == "sighting",
            producer,
            tlp_key,
            recipients_key
        ],
    )?;
    if type_name == "sighting" {
        let newest = newest_sighting_version(tx, collection, id, doc)?;
        if newest.as_ref().is_none_or(|n| version > n.version) {
            let this = SightingVersion {
                version,
                producer,
                tlp,
                recipients,
                sighted: first_ref,
            };
            count_sighting(tx, collection, &this, -1)?;
            if let Some(newest) = newest {
                count_sighting(tx, collection, &newest, 1)?;
            }
        }
    }
    Ok(())
}

/// What a sighting's count is kept under: the group its version's readers form, and the
/// object it sights.
struct SightingVersion {
    version: i64,
    producer: i64,
    tlp: Option<i64>,
    recipients: Option<String>,
    sighted: Option<String>,
}

/// The newest indexed version of a sighting other than the doc `besides`.
fn newest_sighting_version(
    tx: &Connection,
    collection: &str,
    id: &str,
    besides: i64,
) -> rusqlite::Result<Option<SightingVersion>> {
    tx.prepare_cached(
        "SELECT version, producer, tlp, recipients, first_ref FROM search_docs
         WHERE collection_id = ?1 AND id = ?2 AND doc != ?3 ORDER BY version DESC LIMIT 1",
    )?
    .query_row(params![collection, id, besides], |r| {
        Ok(SightingVersion {
            version: r.get(0)?,
            producer: r.get(1)?,
            tlp: r.get(2)?,
            recipients: r.get(3)?,
            sighted: r.get(4)?,
        })
    })
    .optional()
}

/// Adds `delta` to the count of the object `sighting` sights, under its group.
fn count_sighting(
    tx: &Connection,
    collection: &str,
    sighting: &SightingVersion,
    delta: i64,
) -> rusqlite::Result<()> {
    let Some(sighted) = &sighting.sighted else {
        return Ok(());
    };
    let (tlp_key, recipients_key) = policy_key(sighting.tlp, sighting.recipients.as_deref());
    tx.prepare_cached(
        "INSERT INTO sighting_counts (indicator, collection_id, producer, tlp, recipients, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute(params![
        sighted,
        collection,
        sighting.producer,
        tlp_key,
        recipients_key,
        delta
    ])?;
    tx.prepare_cached(
        "INSERT INTO sighted_totals (object, n) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute(params![sighted, delta])?;
    Ok(())
}

fn placeholders(args: &mut Vec<SqlValue>, values: impl IntoIterator<Item = SqlValue>) -> String {
    let first = args.len() + 1;
    args.extend(values);
    (first..=args.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn recipients_of(text: Option<&str>) -> Vec<i64> {
    text.unwrap_or("")
        .split(',')
        .filter_map(|r| r.parse().ok())
        .collect()
}

/// The one condition of a search that the index lookup should start from, most selective
/// first; the others are written `+column` so that SQLite filters on them instead of choosing
/// an index that would make it sort everything (it keeps no statistics to know better).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Driver {
    Ids,
    Refs,
    Text,
    Created,
    Modified,
    Types,
    OneCollection,
    /// Newest first along `date_added`, stopping at the limit.
    DateAdded,
}

fn driver(query: &IndexQuery) -> Driver {
    let ranged =
        |(from, to): (Option<Timestamp>, Option<Timestamp>)| from.is_some() || to.is_some();
    if !query.ids.is_empty() {
        Driver::Ids
    } else if !query.refs.is_empty() {
        Driver::Refs
    } else if query.fts.is_some() {
        Driver::Text
    } else if ranged(query.created) {
        Driver::Created
    } else if ranged(query.modified) {
        Driver::Modified
    } else if !query.types.is_empty() {
        Driver::Types
    } else if query.collections.len() == 1 {
        Driver::OneCollection
    } else {
        Driver::DateAdded
    }
}

pub(crate) fn search(
    conn: &Connection,
    query: &IndexQuery,
) -> rusqlite::Result<Vec<IndexedVersion>> {
    let drive = driver(query);
    let column = |name: &str, drives: bool| {
        if drives {
            format!("d.{name}")
        } else {
            format!("+d.{name}")
        }
    };
    let mut args: Vec<SqlValue> = Vec::new();
    let mut sql = String::from(
        "SELECT d.collection_id, d.id, d.type, d.spec_version, d.version, d.date_added, d.producer, d.tlp, d.recipients,
                d.name, d.created, d.modified, d.revoked, d.first_ref, d.second_ref FROM search.search_docs d",
    );
    if let Some(fts) = &query.fts {
        args.push(SqlValue::Text(fts.clone()));
        sql.push_str(" JOIN search.search_text t ON t.rowid = d.doc WHERE t.search_text MATCH ?1");
    } else {
        sql.push_str(" WHERE 1 = 1");
    }
    let text = |values: &[String]| {
        values
            .iter()
            .cloned()
            .map(SqlValue::Text)
            .collect::<Vec<_>>()
    };
    for (name, values) in [
        (
            column("collection_id", drive == Driver::OneCollection),
            text(&query.collections),
        ),
        (column("type", drive == Driver::Types), text(&query.types)),
        (column("id", drive == Driver::Ids), text(&query.ids)),
        (
            column("producer", false),
            query
                .producers
                .iter()
                .map(|p| SqlValue::Integer(*p))
                .collect(),
        ),
    ] {
        if !values.is_empty() {
            let list = placeholders(&mut args, values);
            sql.push_str(&format!(" AND {name} IN ({list})"));
        }
    }
    if !query.refs.is_empty() {
        let first = placeholders(&mut args, text(&query.refs));
        let second = placeholders(&mut args, text(&query.refs));
        sql.push_str(&format!(
            " AND d.doc IN (SELECT doc FROM search.search_docs WHERE first_ref IN ({first})
                            UNION SELECT doc FROM search.search_docs WHERE second_ref IN ({second}))"
        ));
    }
    for (name, (from, to)) in [
        (column("created", drive == Driver::Created), query.created),
        (
            column("modified", drive == Driver::Modified),
            query.modified,
        ),
    ] {
        if let Some(from) = from {
            args.push(SqlValue::Integer(from.as_micros()));
            sql.push_str(&format!(" AND {name} >= ?{}", args.len()));
        }
        if let Some(to) = to {
            args.push(SqlValue::Integer(to.as_micros()));
            sql.push_str(&format!(" AND {name} <= ?{}", args.len()));
        }
    }
    if let Some(revoked) = query.revoked {
        args.push(SqlValue::Integer(i64::from(revoked)));
        sql.push_str(&format!(" AND +d.revoked = ?{}", args.len()));
    }
    if let Some(before) = query.added_before {
        args.push(SqlValue::Integer(before.as_micros()));
        let name = column(
            "date_added",
            matches!(
                drive,
                Driver::DateAdded | Driver::OneCollection | Driver::Types
            ),
        );
        sql.push_str(&format!(" AND {name} < ?{}", args.len()));
    }
    args.push(SqlValue::Integer(
        i64::try_from(query.limit).unwrap_or(i64::MAX),
    ));
    // FTS5 hands out its matches by rowid, newest indexed last, and stops at the limit when
    // asked for them in that order; sorting every match by `date_added` instead would read
    // them all. Rows are indexed in `date_added` order per collection, so the two orders
    // differ only among versions indexed in the same moment; the page is sorted below.
    let order = if query.fts.is_some() {
        "t.rowid DESC"
    } else {
        "d.date_added DESC"
    };
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let recipients: Option<String> = r.get(8)?;
        Ok(IndexedVersion {
            collection: r.get(0)?,
            version: StoredVersion {
                id: r.get(1)?,
                type_name: r.get(2)?,
                spec_version: r.get(3)?,
                version: Timestamp::from_micros(r.get(4)?),
                date_added: Timestamp::from_micros(r.get(5)?),
                producer: r.get(6)?,
                tlp: r.get::<_, Option<i64>>(7)?.map(tlp_from_code),
                recipients: recipients_of(recipients.as_deref()),
                newest: true,
                oldest: true,
                raw: None,
            },
            name: r.get(9)?,
            created: r.get::<_, Option<i64>>(10)?.map(Timestamp::from_micros),
            modified: r.get::<_, Option<i64>>(11)?.map(Timestamp::from_micros),
            revoked: r.get(12)?,
            first_ref: r.get(13)?,
            second_ref: r.get(14)?,
        })
    })?;
    let mut found: Vec<IndexedVersion> = rows.collect::<rusqlite::Result<_>>()?;
    if query.fts.is_some() {
        found.sort_by_key(|v| std::cmp::Reverse(v.version.date_added));
    }
    Ok(found)
}

pub(crate) fn counts(conn: &Connection, since_day: i64) -> rusqlite::Result<Counts> {
    let row = |r: &Row<'_>, type_name: String, day: Option<i64>| -> rusqlite::Result<CountRow> {
        let tlp: i64 = r.get(2)?;
        let recipients: String = r.get(3)?;
        Ok(CountRow {
            collection: r.get(0)?,
            type_name,
            day,
            producer: r.get(1)?,
            tlp: (tlp >= 0).then(|| tlp_from_code(tlp)),
            recipients: recipients_of(Some(&recipients)),
            count: r.get::<_, i64>(4)?.max(0) as u64,
        })
    };
    let mut by_type = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT collection_id, producer, tlp, recipients, n, type FROM search.type_counts WHERE n > 0",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        by_type.push(row(r, r.get(5)?, None)?);
    }
    let mut by_day = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT collection_id, producer, tlp, recipients, n, sighting, day FROM search.day_counts WHERE day >= ?1 AND n > 0",
    )?;
    let mut rows = stmt.query([since_day])?;
    while let Some(r) = rows.next()? {
        let sighting: bool = r.get(5)?;
        let kind = if sighting { "sighting" } else { OTHER_TYPES };
        by_day.push(row(r, kind.to_owned(), Some(r.get(6)?))?);
    }
    Ok(Counts { by_type, by_day })
}

pub(crate) fn sighted(
    conn: &Connection,
    offset: usize,
    limit: usize,
) -> rusqlite::Result<Vec<SightedCounts>> {
    let objects: Vec<(String, i64)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT object, n FROM search.sighted_totals WHERE n > 0 ORDER BY n DESC, object LIMIT ?1 OFFSET ?2",
        )?;
        let rows = stmt.query_map(
            params![
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX)
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut groups_of = conn.prepare_cached(
        "SELECT collection_id, producer, tlp, recipients, n FROM search.sighting_counts WHERE indicator = ?1 AND n > 0",
    )?;
    let mut out = Vec::with_capacity(objects.len());
    for (object, total) in objects {
        let mut groups = Vec::new();
        let mut rows = groups_of.query([&object])?;
        while let Some(r) = rows.next()? {
            let tlp: i64 = r.get(2)?;
            let recipients: String = r.get(3)?;
            groups.push(CountRow {
                collection: r.get(0)?,
                type_name: "sighting".to_owned(),
                day: None,
                producer: r.get(1)?,
                tlp: (tlp >= 0).then(|| tlp_from_code(tlp)),
                recipients: recipients_of(Some(&recipients)),
                count: r.get::<_, i64>(4)?.max(0) as u64,
            });
        }
        out.push(SightedCounts {
            object,
            total: total.max(0) as u64,
            groups,
        });
    }
    Ok(out)
}

pub(crate) fn latest_alerts(
    conn: &Connection,
    filter: &AlertFilter,
) -> rusqlite::Result<Vec<ListedAlert>> {
    let mut sql = String::from(
        "SELECT a.seq, a.id, a.org_id, a.observed, a.raised, a.indicator, a.indicator_name, a.collection_id, a.source, a.retro, a.objects, a.fields,
                k.by_actor, k.at
         FROM alerts a LEFT JOIN alert_acks k ON k.alert_id = a.id
         WHERE a.org_id = ?1",
    );
    let mut args: Vec<SqlValue> = vec![SqlValue::Integer(filter.org)];
    let mut add = |clause: &str, value: SqlValue| {
        args.push(value);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(before) = filter.before {
        add("a.seq <", SqlValue::Integer(before));
    }
    if let Some(after) = filter.after {
        add("a.seq >", SqlValue::Integer(after));
    }
    if let Some(indicator) = &filter.indicator {
        add("a.indicator =", SqlValue::Text(indicator.clone()));
    }
    if let Some(collection) = &filter.collection {
        add("a.collection_id =", SqlValue::Text(collection.clone()));
    }
    if let Some(source) = &filter.source {
        add("a.source =", SqlValue::Text(source.clone()));
    }
    if let Some(retro) = filter.retro {
        add("a.retro =", SqlValue::Integer(i64::from(retro)));
    }
    if let Some(since) = filter.observed_since {
        add("a.observed >=", SqlValue::Integer(since.as_micros()));
    }
    if let Some(until) = filter.observed_until {
        add("a.observed <", SqlValue::Integer(until.as_micros()));
    }
    match filter.acknowledged {
        Some(true) => sql.push_str(" AND k.alert_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND k.alert_id IS NULL"),
        None => {}
    }
    args.push(SqlValue::Integer(
        i64::try_from(filter.limit).unwrap_or(i64::MAX),
    ));
    let order = if filter.oldest_first { "ASC" } else { "DESC" };
    sql.push_str(&format!(" ORDER BY a.seq {order} LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let (seq, alert) = crate::alert_from_row(r)?;
        let by: Option<String> = r.get(12)?;
        let at: Option<i64> = r.get(13)?;
        Ok(ListedAlert {
            seq,
            alert,
            acknowledged: by.zip(at).map(|(by, at)| Acknowledgement {
                by,
                at: Timestamp::from_micros(at),
            }),
        })
    })?;
    rows.collect()
}

pub(crate) fn acknowledge_alert(
    conn: &Connection,
    org: i64,
    id: &str,
    by: &str,
    at: Timestamp,
) -> rusqlite::Result<Option<Acknowledgement>> {
    conn.execute(
        "INSERT INTO alert_acks (alert_id, org_id, by_actor, at)
         SELECT id, org_id, ?3, ?4 FROM alerts WHERE org_id = ?1 AND id = ?2
         ON CONFLICT (alert_id) DO NOTHING",
        params![org, id, by, at.as_micros()],
    )?;
    conn.query_row(
        "SELECT by_actor, at FROM alert_acks WHERE alert_id = ?1 AND org_id = ?2",
        params![id, org],
        |r| {
            Ok(Acknowledgement {
                by: r.get(0)?,
                at: Timestamp::from_micros(r.get(1)?),
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tlp_codes_round_trip_through_the_count_key() {
        for tlp in stix::Tlp::ALL {
            let (key, _) = super::policy_key(Some(crate::tlp_code(tlp)), None);
            assert_eq!(crate::tlp_from_code(key), tlp);
        }
        assert_eq!(super::policy_key(None, None), (-1, String::new()));
    }
}
