//! The [`Store`] on SQLite: WAL journal, one writer connection, a pool of readers.
//!
//! `date_added` is handed out by the single writer inside its transaction, so commits happen in
//! `date_added` order and a reader's snapshot always holds a prefix of each collection: paging
//! with `added_after` or `next` neither skips nor repeats an object under concurrent writes.
//! Every acknowledged write survives a crash of the process or of the machine: a write returns
//! only after the WAL holding its commit has been synced (see [`SqliteStore::sync_wal`]).

mod console;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kawal_core::log::ObjectLeaf;
use kawal_core::store::{DeletionLeafFn, StatusFn};
use kawal_core::{
    AuditEvent, AuditQuery, Collection, GroupId, InsertOutcome, NewCollection, NewVersion, OrgId,
    Organisation, Role, Scan, Session, SharingGroup, Store, StoreError, StoreResult, StoredStatus,
    StoredVersion, Token, User, WitnessSwap, WitnessedCheckpoint, Writers,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, Row};
use stix::{Timestamp, Tlp};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    country TEXT,
    identity_id TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id),
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (group_id, org_id)
);
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT,
    group_id INTEGER NOT NULL REFERENCES groups(id),
    writers_all INTEGER NOT NULL,
    default_tlp INTEGER NOT NULL,
    public INTEGER NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collection_writers (
    collection_id TEXT NOT NULL REFERENCES collections(id),
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (collection_id, org_id)
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS objects (
    collection_id TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    date_added INTEGER NOT NULL,
    type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    producer INTEGER NOT NULL,
    tlp INTEGER,
    recipients TEXT,
    sha256 BLOB NOT NULL,
    raw TEXT NOT NULL,
    -- NULL for versions stored while the transparency log was off.
    leaf INTEGER,
    -- `object_key(collection_id, id)`.
    okey INTEGER NOT NULL
);
-- Where each version of an object is, under its `object_key`: a 64-bit hash, so a lookup also
-- checks the row's collection and id. An index on `(collection_id, id, version)` had ~100-byte
-- entries in random order: every commit dirtied about one page of it per object, and at
-- 1,000,000 objects copying those pages into the WAL and back was most of the writer's work.
-- New entries go to `recent_keys`, small enough that a commit's inserts share its pages, and
-- move into `object_keys` in one sorted sweep once it holds `RECENT_KEYS`. The writer checks
-- that no two rows share a collection, id and version.
CREATE TABLE IF NOT EXISTS object_keys (
    key INTEGER NOT NULL, version INTEGER NOT NULL, row INTEGER NOT NULL,
    PRIMARY KEY (key, version, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recent_keys (
    key INTEGER NOT NULL, version INTEGER NOT NULL, row INTEGER NOT NULL,
    PRIMARY KEY (key, version, row)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS version_keys AS
    SELECT key, version, row FROM object_keys UNION ALL SELECT key, version, row FROM recent_keys;
CREATE UNIQUE INDEX IF NOT EXISTS objects_by_date_added ON objects (collection_id, date_added);
CREATE TABLE IF NOT EXISTS statuses (
    id TEXT PRIMARY KEY,
    owner INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    org_id INTEGER,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    org_id INTEGER NOT NULL,
    observed INTEGER NOT NULL,
    raised INTEGER NOT NULL,
    indicator TEXT NOT NULL,
    indicator_name TEXT,
    collection_id TEXT NOT NULL,
    source TEXT NOT NULL,
    retro INTEGER NOT NULL,
    objects TEXT NOT NULL,
    -- The event's fields no cyber-observable took: a JSON object.
    fields TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alerts_by_org ON alerts (org_id, seq);
-- An organisation's choice, per collection, of sharing its sightings; no row means shared.
CREATE TABLE IF NOT EXISTS sighting_sharing (
    collection_id TEXT NOT NULL REFERENCES collections(id),
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    share INTEGER NOT NULL,
    PRIMARY KEY (collection_id, org_id)
);
-- Collections that hold a case (an incident with the case extension and its contributions).
CREATE TABLE IF NOT EXISTS case_collections (collection_id TEXT PRIMARY KEY, marked INTEGER NOT NULL);
-- Uploads of evidence bytes (<data>/evidence/<2 hex>/<sha256>) and the artifact and file objects
-- they stored; only these grant reading the bytes.
CREATE TABLE IF NOT EXISTS evidence (
    seq INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    UNIQUE (sha256, collection_id, artifact_id, file_id)
);
-- A leaf's hash lives with its data; the data of an object version's leaf is empty while the
-- version is stored, and rendered from its row (`render_object_leaf`). `log_nodes` holds the interior nodes at heights 8, 16, …
-- (the hashes of tiles above level 0); the others are computed from those when asked for.
-- `object_row` is the rowid of the `objects` row an empty `data` is rendered from (rather
-- than an index on `objects.leaf`, which every insert had to update). Rowids of
-- `objects` are never renumbered (the store does not VACUUM); a reader also checks that the
-- row names the leaf, and that the rendering hashes to the stored hash.
CREATE TABLE IF NOT EXISTS log_leaves (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL, data BLOB NOT NULL, object_row INTEGER);
CREATE TABLE IF NOT EXISTS log_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_state (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS witnessed (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
"#;

/// `PRAGMA user_version` of the layout below; [`migrate`] brings older databases to it.
const SCHEMA_VERSION: i64 = 5;

/// Brings a database written by an earlier version of the store to [`SCHEMA_VERSION`].
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let populated: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'objects'",
        [],
        |r| r.get(0),
    )?;
    if version > SCHEMA_VERSION {
        return Err(rusqlite::Error::ToSqlConversionFailure(
            format!("the database has layout {version}, newer than this Kawal's ({SCHEMA_VERSION}); run a newer Kawal").into(),
        ));
    }
    if version == 0 && populated {
        // Layout 1 kept each leaf's object in `log_leaves`, behind an index every insert paid
        // for; the version row now holds the index of its leaf.
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE objects ADD COLUMN leaf INTEGER;
             UPDATE objects SET leaf = (SELECT max(l.idx) FROM log_leaves l
                 WHERE l.collection_id = objects.collection_id AND l.object_id = objects.id AND l.version = objects.version);
             DROP INDEX IF EXISTS log_leaves_by_object;
             ALTER TABLE log_leaves DROP COLUMN collection_id;
             ALTER TABLE log_leaves DROP COLUMN object_id;
             ALTER TABLE log_leaves DROP COLUMN version;
             ALTER TABLE log_leaves ADD COLUMN hash BLOB NOT NULL DEFAULT x'';
             UPDATE log_leaves SET hash = coalesce((SELECT n.hash FROM log_nodes n WHERE n.level = 0 AND n.idx = log_leaves.idx), x'');
             DELETE FROM log_nodes WHERE level = 0;
             PRAGMA user_version = 2;
             COMMIT;",
        )?;
    }
    if version <= 2 && populated {
        // Layout 2 found a leaf's row through an index on `objects.leaf`; layout 3 keeps the
        // row's id with the leaf.
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             ALTER TABLE log_leaves ADD COLUMN object_row INTEGER;
             CREATE INDEX IF NOT EXISTS objects_by_leaf ON objects (leaf) WHERE leaf IS NOT NULL;
             UPDATE log_leaves SET object_row = (SELECT o.rowid FROM objects o WHERE o.leaf = log_leaves.idx)
                 WHERE length(data) = 0;
             DROP INDEX objects_by_leaf;
             PRAGMA user_version = 3;
             COMMIT;",
        )?;
    }
    if version <= 3 && populated {
        // Layout 3 found versions through a unique index on `(collection_id, id, version)`.
        conn.execute_batch(
            "BEGIN IMMEDIATE; ALTER TABLE objects ADD COLUMN okey INTEGER NOT NULL DEFAULT 0;",
        )?;
        conn.execute_batch(SCHEMA)?;
        {
            let mut rows = conn.prepare("SELECT rowid, collection_id, id, version FROM objects")?;
            let mut set_key = conn.prepare("UPDATE objects SET okey = ?2 WHERE rowid = ?1")?;
            let mut file =
                conn.prepare("INSERT INTO object_keys (key, version, row) VALUES (?1, ?2, ?3)")?;
            let mut rows = rows.query([])?;
            while let Some(r) = rows.next()? {
                let row: i64 = r.get(0)?;
                let key = object_key(r.get_ref(1)?.as_str()?, r.get_ref(2)?.as_str()?);
                set_key.execute(params![row, key])?;
                file.execute(params![key, r.get::<_, i64>(3)?, row])?;
            }
        }
        conn.execute_batch("DROP INDEX objects_by_version; PRAGMA user_version = 4; COMMIT;")?;
    }
    if version <= 4 && populated {
        // Layout 4 kept only an alert's cyber-observables. A database migrated from an older
        // layout above may have had its alerts table created by this layout's schema.
        let has_fields: bool = conn.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('alerts') WHERE name = 'fields'",
            [],
            |r| r.get(0),
        )?;
        let add = if has_fields {
            ""
        } else {
            "ALTER TABLE alerts ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';"
        };
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {add} PRAGMA user_version = 5; COMMIT;"
        ))?;
    }
    Ok(())
}

/// The key an object's versions are found by in `object_keys`: FNV-1a (64 bits) of its
/// collection, a NUL and its id. Stored, so it must never change.
fn object_key(collection: &str, id: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in collection.bytes().chain([0]).chain(id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// `recent_keys` entries past which they move into `object_keys`. Each commit's inserts touch
/// most of `recent_keys`' pages, and each move touches most of `object_keys`' pages: this
/// balances the two at a few thousand objects per commit and a million objects stored.
pub const RECENT_KEYS: i64 = 32_768;

/// The row and SHA-256 of a stored version, looked up with one plain search of each key table
/// and, only when an entry is there, of its row: a new version, the common case, costs two
/// searches (a join through `version_keys` cost ~10 % of the writer's time).
struct StoredVersionRow<'c> {
    filed: [rusqlite::CachedStatement<'c>; 2],
    row: rusqlite::CachedStatement<'c>,
}

impl<'c> StoredVersionRow<'c> {
    fn prepare(tx: &'c Connection) -> rusqlite::Result<Self> {
        Ok(StoredVersionRow {
            filed: [
                tx.prepare_cached("SELECT row FROM recent_keys WHERE key = ?1 AND version = ?2")?,
                tx.prepare_cached("SELECT row FROM object_keys WHERE key = ?1 AND version = ?2")?,
            ],
            row: tx.prepare_cached(
                "SELECT rowid, sha256 FROM objects WHERE rowid = ?1 AND collection_id = ?2 AND id = ?3",
            )?,
        })
    }

    fn find(
        &mut self,
        key: i64,
        version: i64,
        collection: &str,
        id: &str,
    ) -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
        for filed in &mut self.filed {
            let mut rows = filed.query(params![key, version])?;
            while let Some(r) = rows.next()? {
                let found = self
                    .row
                    .query_row(params![r.get::<_, i64>(0)?, collection, id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }
}

/// Moves the `recent_keys` entries into `object_keys` once there are [`RECENT_KEYS`] of them.
fn settle_keys(tx: &Connection) -> rusqlite::Result<()> {
    let recent: i64 = tx.query_row("SELECT count(*) FROM recent_keys", [], |r| r.get(0))?;
    if recent >= RECENT_KEYS {
        tx.execute_batch(
            "INSERT INTO object_keys (key, version, row)
                 SELECT key, version, row FROM recent_keys ORDER BY key, version, row;
             DELETE FROM recent_keys;",
        )?;
    }
    Ok(())
}

const DATE_ADDED_MARK: &str = "date_added_high_water_mark";

/// Bytes of each database file every connection maps: as much as SQLite allows (2 GiB). Pages
/// past the map are read into each connection's small page cache; at 1,000,000 objects
/// (1.4 GB) a TAXII read spent a third of its time there, and mapping the whole file took it
/// from 88,000 to 111,000 objects/s.
pub(crate) const MMAP_SIZE: i64 = 2_147_418_112;
const READERS: usize = 4;

pub struct SqliteStore {
    writer: Mutex<Writer>,
    /// The WAL file, synced after each commit.
    wal: std::path::PathBuf,
    /// Threads waiting for the writer. An ingest that sees one leaves its transaction open for
    /// it (group commit) instead of committing at once.
    queued: AtomicUsize,
    groups: Mutex<Groups>,
    group_finished: Condvar,
    readers: Mutex<Vec<Connection>>,
    reader_freed: Condvar,
    /// Fills `search.db`; see [`console`].
    indexer: Mutex<console::Indexer>,
    /// When a transaction last committed, in microseconds since `opened`.
    last_commit: AtomicU64,
    opened: Instant,
}

/// Group commit: ingests that arrive while another holds the writer share its IMMEDIATE
/// transaction, and the last of them commits for all, so concurrent producers share one WAL
/// write and one fsync. Nobody is answered before the commit that holds their objects has
/// succeeded. A write that fails ends the group's transaction for all its writers: they are
/// told, and nothing of theirs was acknowledged, so they may retry. Writes fail only when the
/// database does (a full disk, an I/O error); a savepoint per write would spare the others
/// then, but costs every write a copy of each page it touches (~12 % of the writer's time).
struct Group {
    epoch: u64,
    writes: usize,
    opened: Instant,
    /// The log's frontier and the `date_added` mark as the group's writes leave them; saved
    /// once, when the group commits.
    frontier: tlog::Frontier,
    mark: i64,
}

/// A group takes no more writes than this, and no more after this long, so that its first
/// writer's answer is not held back indefinitely by a stream of others.
const GROUP_MAX_WRITES: usize = 8;
const GROUP_MAX_AGE: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Groups {
    next_epoch: u64,
    /// Every group up to this epoch has committed or failed.
    finished: u64,
    /// The most recent failed commits, by epoch.
    failed: VecDeque<(u64, String)>,
}

/// The one writing connection of this process. Other processes (the command line while the
/// server runs) write to the same file, so nothing written is cached here: the `date_added`
/// mark and the log's frontier are read inside each IMMEDIATE transaction, which holds the
/// database's write lock from its first statement.
struct Writer {
    conn: Connection,
    checkpointer: Checkpointer,
    group: Option<Group>,
}

/// Copies committed WAL pages back into the database on its own thread and connection. A
/// PASSIVE checkpoint never blocks the writer; once it has caught up, the next write starts
/// the WAL over from its beginning, so the WAL stays about as large as what is written
/// between two checkpoints. The WAL file keeps its size when it starts over: overwriting
/// pages the kernel already holds costs a commit far less than growing the file again.
struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
}

/// WAL frames (pages) past which the checkpointer makes the WAL start over: 64 MiB of 4 KiB
/// pages.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// A restart waits for passive passes (at most this many) to leave no more than this to copy.
const RESTART_LEFT_FRAMES: i64 = 1_024;
const CATCH_UP_PASSES: usize = 4;

/// Pause between checkpoints, so that one copies the pages of many commits.
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

impl Checkpointer {
    fn start(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch("PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;")
            .map_err(backend)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || {
                // Ends when the store, and with it the sender, is dropped.
                while woken.recv().is_ok() {
                    let passive = || {
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                        })
                    };
                    // Under a steady stream of commits a passive checkpoint never finds the
                    // WAL idle, so the WAL never starts over and every page lookup searches a
                    // growing index. Past a bound, restart it: that waits for the writer and
                    // holds it up while it copies what is left, so passive passes first copy
                    // what arrived during the previous one until little is left.
                    let mut state = passive();
                    for _ in 0..CATCH_UP_PASSES {
                        match state {
                            Ok((frames, copied))
                                if frames > WAL_RESTART_FRAMES
                                    && frames - copied > RESTART_LEFT_FRAMES =>
                            {
                                state = passive();
                            }
                            _ => break,
                        }
                    }
                    let checked = match state {
                        Ok((frames, _)) if frames > WAL_RESTART_FRAMES => {
                            conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
                        }
                        other => other.map(drop),
                    };
                    if let Err(e) = checked {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                    std::thread::sleep(CHECKPOINT_PAUSE);
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the WAL checkpointer: {e}")))?;
        Ok(Checkpointer { wake })
    }

    /// Called after each commit; never waits.
    fn nudge(&self) {
        let _ = self.wake.try_send(());
    }
}

fn immediate(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// The greatest `date_added` ever handed out, including for since-deleted objects. Every write
/// saves it, so the table is searched only in a database that has never recorded it.
fn date_added_mark(tx: &Connection) -> rusqlite::Result<i64> {
    let mark: Option<String> = tx
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [DATE_ADDED_MARK],
            |r| r.get(0),
        )
        .optional()?;
    match mark.and_then(|m| m.parse().ok()) {
        Some(mark) => Ok(mark),
        None => tx
            .query_row("SELECT max(date_added) FROM objects", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map(Option::unwrap_or_default),
    }
}

fn load_frontier(conn: &Connection) -> rusqlite::Result<tlog::Frontier> {
    let bytes: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM log_state WHERE key = 'frontier'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match bytes {
        Some(b) => tlog::Frontier::from_bytes(&b)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e))),
        None => Ok(tlog::Frontier::new()),
    }
}

/// Appends one leaf inside an open transaction, storing every node hash it completes. The
/// caller saves the frontier once its transaction's leaves are all appended.
fn append_leaf(
    tx: &Connection,
    frontier: &mut tlog::Frontier,
    data: &[u8],
    kept: LeafText,
) -> rusqlite::Result<u64> {
    let mut node =
        tx.prepare_cached("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
    let mut failed = None;
    let leaf_hash = tlog::leaf_hash(data);
    let index = frontier
        .append_with(leaf_hash, |id, hash| {
            if id.level > 0 && id.level % STORED_LEVELS == 0 && failed.is_none() {
                failed = node
                    .execute(params![id.level, id.index as i64, &hash[..]])
                    .err();
            }
        })
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    if let Some(e) = failed {
        return Err(e);
    }
    let (stored, object_row) = match kept {
        LeafText::Stored => (data, None),
        LeafText::RenderedFromRow(row) => (&[][..], Some(row)),
    };
    tx.prepare_cached(
        "INSERT INTO log_leaves (idx, hash, data, object_row) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![index as i64, &leaf_hash[..], stored, object_row])?;
    Ok(index)
}

/// Stores the text of a version's leaf before its row, which it was rendered from, goes.
fn keep_leaf_text(
    tx: &Connection,
    collection: &str,
    id: &str,
    version: i64,
) -> rusqlite::Result<()> {
    let leaf = tx
        .prepare_cached(&format!(
            "SELECT o.leaf, {LEAF_COLUMNS} FROM {VERSION_ROWS}
             WHERE k.key = ?4 AND k.version = ?3 AND o.collection_id = ?1 AND o.id = ?2 AND o.leaf IS NOT NULL"
        ))?
        .query_row(params![collection, id, version, object_key(collection, id)], |r| {
            Ok((r.get::<_, i64>(0)?, render_object_leaf(r, 1)?))
        })
        .optional()?;
    if let Some((index, text)) = leaf {
        tx.prepare_cached(
            "UPDATE log_leaves SET data = ?2, object_row = NULL WHERE idx = ?1 AND length(data) = 0",
        )?
            .execute(params![index, text])?;
    }
    Ok(())
}

/// Whether a leaf's text is stored, or rendered again from the object row (by rowid) that
/// names it.
#[derive(Clone, Copy)]
enum LeafText {
    Stored,
    RenderedFromRow(i64),
}

/// The columns `render_object_leaf` reads, for an `objects` row `o`.
const LEAF_COLUMNS: &str = "o.collection_id, o.id, o.version, o.date_added,
    coalesce((SELECT g.identity_id FROM orgs g WHERE g.id = o.producer), ''),
    coalesce(o.tlp, (SELECT c.default_tlp FROM collections c WHERE c.id = o.collection_id)),
    o.sha256";

/// The leaf text of an object version, from its row (`LEAF_COLUMNS` from column `first`), as
/// `insert_versions` hashed it.
fn render_object_leaf(row: &Row<'_>, first: usize) -> rusqlite::Result<Vec<u8>> {
    let collection: String = row.get(first)?;
    let id: String = row.get(first + 1)?;
    let producer: String = row.get(first + 4)?;
    let sha256: Vec<u8> = row.get(first + 6)?;
    Ok(ObjectLeaf {
        deletion: false,
        collection: &collection,
        id: &id,
        version: Timestamp::from_micros(row.get(first + 2)?),
        date_added: Timestamp::from_micros(row.get(first + 3)?),
        producer: &producer,
        tlp: tlp_from_code(row.get(first + 5)?),
        sha256: sha256.try_into().unwrap_or([0; 32]),
    }
    .encode())
}

/// Interior nodes are stored only at heights that are multiples of this: one row per 256
/// leaves instead of one per leaf, and exactly the hashes C2SP tiles above level 0 hold.
const STORED_LEVELS: u8 = 8;

/// The hash of the complete subtree of height `level` at `index`, from the stored hashes at
/// the nearest stored height below it (at most 128 of them); `None` if any is missing.
fn subtree_hash(conn: &Connection, level: u8, index: u64) -> rusqlite::Result<Option<tlog::Hash>> {
    let base = level - level % STORED_LEVELS;
    let span = level - base;
    let (Some(first), Some(count)) = (
        index.checked_shl(u32::from(span)),
        1u64.checked_shl(u32::from(span)),
    ) else {
        return Ok(None);
    };
    let mut stmt = if base == 0 {
        conn.prepare_cached(
            "SELECT idx, hash FROM log_leaves WHERE idx >= ?2 AND idx < ?3 AND ?1 = 0 ORDER BY idx",
        )?
    } else {
        conn.prepare_cached(
            "SELECT idx, hash FROM log_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )?
    };
    let end = first.saturating_add(count);
    let rows = stmt.query_map(params![base, first as i64, end as i64], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut hashes: Vec<tlog::Hash> = Vec::with_capacity(count as usize);
    for (expected, row) in (first..end).zip(rows) {
        let (at, bytes) = row?;
        match <tlog::Hash>::try_from(bytes.as_slice()) {
            Ok(hash) if at == expected => hashes.push(hash),
            _ => return Ok(None),
        }
    }
    if hashes.len() as u64 != count {
        return Ok(None);
    }
    while hashes.len() > 1 {
        hashes = hashes
            .chunks(2)
            .map(|pair| tlog::node_hash(&pair[0], &pair[1]))
            .collect();
    }
    Ok(hashes.pop())
}

fn save_frontier(tx: &Connection, frontier: &tlog::Frontier) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO log_state (key, value) VALUES ('frontier', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [frontier.to_bytes()],
    )?;
    Ok(())
}

fn append_leaves<'a>(
    tx: &rusqlite::Transaction<'_>,
    leaves: impl IntoIterator<Item = &'a [u8]>,
) -> rusqlite::Result<()> {
    let mut frontier = load_frontier(tx)?;
    for data in leaves {
        append_leaf(tx, &mut frontier, data, LeafText::Stored)?;
    }
    save_frontier(tx, &frontier)
}

fn witnessed_from_row(row: &Row<'_>) -> rusqlite::Result<WitnessedCheckpoint> {
    let root: Vec<u8> = row.get(1)?;
    let root = tlog::Hash::try_from(root.as_slice()).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Blob,
            format!("a witnessed root is {} bytes, not 32", root.len()).into(),
        )
    })?;
    Ok(WitnessedCheckpoint {
        size: row.get::<_, i64>(0)? as u64,
        root,
        note: row.get(2)?,
    })
}

fn backend(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, ref msg)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Duplicate(
                msg.clone()
                    .unwrap_or_else(|| "a record with this key".to_owned()),
            )
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.execute_batch(&format!(
            // A 64 MiB page cache and memory-mapped reads (`MMAP_SIZE`) keep index lookups
            // off the disk as collections grow. The writer never checkpoints the WAL itself:
            // copying pages back into the database (and its fsync) happens on the
            // checkpointer's thread, off the path of an acknowledgement. `synchronous = NORMAL` keeps the WAL consistent but
            // leaves its fsync to `sync_wal`, which runs after the writer is released. The WAL
            // restarts past 64 MiB (plus what arrives while passive checkpoints catch up); it
            // is cut back only past 512 MiB, because a commit that extends the file has the
            // kernel zero and allocate every new block (it took a quarter of the writer's time
            // when the file was cut at 128 MiB and grew again after each restart).
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 10000; PRAGMA cache_size = -65536; PRAGMA mmap_size = {MMAP_SIZE};
             PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;
             PRAGMA journal_size_limit = 536870912;",
        ))
        .map_err(backend)?;
        migrate(&conn).map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        conn.execute_batch(console::SCHEMA).map_err(backend)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(backend)?;
        let index = console::index_path(path);
        // Opened first, so that the index exists when the readers attach it.
        let indexer = console::Indexer::open(path, &index).map_err(backend)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(backend)?;
            reader
                .execute_batch(&format!(
                    "PRAGMA busy_timeout = 10000; PRAGMA cache_size = -16384; PRAGMA mmap_size = {MMAP_SIZE};"
                ))
                .map_err(backend)?;
            console::attach_index(&reader, &index).map_err(backend)?;
            readers.push(reader);
        }
        let checkpointer = Checkpointer::start(path)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(SqliteStore {
            wal: wal.into(),
            writer: Mutex::new(Writer {
                conn,
                checkpointer,
                group: None,
            }),
            queued: AtomicUsize::new(0),
            groups: Mutex::new(Groups::default()),
            group_finished: Condvar::new(),
            readers: Mutex::new(readers),
            reader_freed: Condvar::new(),
            indexer: Mutex::new(indexer),
            last_commit: AtomicU64::new(0),
            opened: Instant::now(),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = {
            let mut pool = lock(&self.readers);
            loop {
                if let Some(conn) = pool.pop() {
                    break conn;
                }
                pool = self
                    .reader_freed
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = f(&conn);
        lock(&self.readers).push(conn);
        self.reader_freed.notify_one();
        result.map_err(backend)
    }

    fn note_commit(&self) {
        let since_opened = u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_commit.store(since_opened, Ordering::Relaxed);
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let writer = lock(&self.writer);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        writer
    }

    fn write<T>(&self, f: impl FnOnce(&mut Writer) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut writer = self.lock_writer();
        // A write outside the group commits the group first; if that fails, its writers learn
        // it and this write still runs.
        let group = self.commit_group(&mut writer);
        let result = f(&mut writer).map_err(backend);
        writer.checkpointer.nudge();
        drop(writer);
        // One sync makes both the group's commit and this write's durable.
        let synced = self.sync_wal();
        if let Some((epoch, committed)) = group {
            self.finish_group(epoch, committed.and(synced.clone()).err());
        }
        synced.map_err(StoreError::Backend)?;
        result
    }

    /// Makes every transaction committed so far durable. Commits write their WAL frames
    /// without syncing (`synchronous = NORMAL`), so the writer is free for the next
    /// transaction while this one's fsync runs; nobody is answered before it returns. An fsync
    /// covers the file, whichever descriptor asks, so a commit made before this call is on
    /// disk when it returns: either in the WAL, or already copied by a checkpoint (which syncs
    /// the database before the WAL starts over).
    fn sync_wal(&self) -> Result<(), String> {
        std::fs::File::open(&self.wal)
            .and_then(|wal| wal.sync_data())
            .map_err(|e| format!("cannot sync {}: {e}", self.wal.display()))
    }

    /// Runs `f` inside the open group transaction (opening one if needed) and returns once a
    /// commit holding its work succeeded; if `f` fails, the group's transaction is rolled back.
    fn write_grouped<T>(
        &self,
        f: impl FnOnce(&Connection, &mut Group) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let mut guard = self.lock_writer();
        let writer = &mut *guard;
        if writer.group.is_none() {
            writer.group = Some(self.open_group(&writer.conn).map_err(backend)?);
        }
        let Some(group) = writer.group.as_mut() else {
            return Err(StoreError::Backend("no open transaction".to_owned()));
        };
        let result = f(&writer.conn, group);
        group.writes += 1;
        let epoch = group.epoch;
        let written = match result {
            Ok(written) => written,
            Err(e) => {
                let _ = writer.conn.execute_batch("ROLLBACK");
                writer.group = None;
                self.finish_group(epoch, Some(e.to_string()));
                return Err(backend(e));
            }
        };
        let linger = self.queued.load(Ordering::SeqCst) > 0
            && group.writes < GROUP_MAX_WRITES
            && group.opened.elapsed() < GROUP_MAX_AGE;
        if linger {
            drop(guard);
            self.wait_for_group(epoch)?;
            return Ok(written);
        }
        let committed = self.commit_group(writer);
        drop(guard);
        if let Some((epoch, committed)) = committed {
            let durable = committed.and_then(|()| self.sync_wal());
            self.finish_group(epoch, durable.clone().err());
            durable.map_err(StoreError::Backend)?;
        }
        Ok(written)
    }

    fn open_group(&self, conn: &Connection) -> rusqlite::Result<Group> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let state = date_added_mark(conn).and_then(|mark| Ok((mark, load_frontier(conn)?)));
        let (mark, frontier) = match state {
            Ok(state) => state,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        };
        let mut groups = lock(&self.groups);
        groups.next_epoch += 1;
        Ok(Group {
            epoch: groups.next_epoch,
            writes: 0,
            opened: Instant::now(),
            frontier,
            mark,
        })
    }

    /// Commits the open group, if any, and returns its epoch and how the commit went. Its
    /// writers learn it (`finish_group`) once the caller has synced the WAL.
    fn commit_group(&self, writer: &mut Writer) -> Option<(u64, Result<(), String>)> {
        let group = writer.group.take()?;
        let committed = save_frontier(&writer.conn, &group.frontier)
            .and_then(|()| {
                writer.conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![DATE_ADDED_MARK, group.mark.to_string()],
                )
            })
            .and_then(|_| writer.conn.execute_batch("COMMIT"));
        if committed.is_ok() {
            self.note_commit();
        }
        if committed.is_err() && !writer.conn.is_autocommit() {
            let _ = writer.conn.execute_batch("ROLLBACK");
        }
        writer.checkpointer.nudge();
        Some((group.epoch, committed.map_err(|e| e.to_string())))
    }

    fn finish_group(&self, epoch: u64, failure: Option<String>) {
        let mut groups = lock(&self.groups);
        groups.finished = groups.finished.max(epoch);
        if let Some(failure) = failure {
            groups.failed.push_back((epoch, failure));
            // Writers of a failed group are all waiting already; a few suffice.
            if groups.failed.len() > 64 {
                groups.failed.pop_front();
            }
        }
        self.group_finished.notify_all();
    }

    fn wait_for_group(&self, epoch: u64) -> StoreResult<()> {
        let mut groups = lock(&self.groups);
        while groups.finished < epoch {
            groups = self
                .group_finished
                .wait(groups)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match groups.failed.iter().find(|(e, _)| *e == epoch) {
            Some((_, failure)) => Err(StoreError::Backend(format!(
                "the transaction holding this write failed to commit: {failure}"
            ))),
            None => Ok(()),
        }
    }
}

fn tlp_code(tlp: Tlp) -> i64 {
    Tlp::ALL
        .iter()
        .position(|t| *t == tlp)
        .map_or(4, |p| p as i64)
}

fn tlp_from_code(code: i64) -> Tlp {
    usize::try_from(code)
        .ok()
        .and_then(|i| Tlp::ALL.get(i))
        .copied()
        .unwrap_or(Tlp::Red)
}

fn org_from_row(row: &Row<'_>) -> rusqlite::Result<Organisation> {
    Ok(Organisation {
        id: row.get(0)?,
        name: row.get(1)?,
        country: row.get(2)?,
        identity_id: row.get(3)?,
        created: Timestamp::from_micros(row.get(4)?),
    })
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<Token> {
    let role: String = row.get(2)?;
    Ok(Token {
        id: row.get(0)?,
        org: row.get(1)?,
        // An unreadable role must not grant anything: fall back to the weakest.
        role: role.parse().unwrap_or(Role::Sensor),
        secret_hash: row.get(3)?,
        created: Timestamp::from_micros(row.get(4)?),
        revoked: row.get(5)?,
    })
}

fn alert_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, kawal_core::Alert)> {
    let objects: String = r.get(10)?;
    let fields: String = r.get(11)?;
    Ok((
        r.get(0)?,
        kawal_core::Alert {
            id: r.get(1)?,
            org: r.get(2)?,
            observed: Timestamp::from_micros(r.get(3)?),
            raised: Timestamp::from_micros(r.get(4)?),
            indicator: r.get(5)?,
            indicator_name: r.get(6)?,
            collection: r.get(7)?,
            source: r.get(8)?,
            retro: r.get(9)?,
            // Written by append_alerts from a JSON array and a JSON object.
            objects: serde_json::from_str(&objects).unwrap_or_default(),
            fields: serde_json::from_str(&fields).unwrap_or_default(),
        },
    ))
}

fn members(conn: &Connection, group: GroupId) -> rusqlite::Result<Vec<OrgId>> {
    let mut stmt = conn
        .prepare_cached("SELECT org_id FROM group_members WHERE group_id = ?1 ORDER BY org_id")?;
    let rows = stmt.query_map([group], |r| r.get(0))?;
    rows.collect()
}

const COLLECTION_COLUMNS: &str =
    "id, title, description, group_id, writers_all, default_tlp, public, created";

fn collection_from_row(conn: &Connection, row: &Row<'_>) -> rusqlite::Result<Collection> {
    let id: String = row.get(0)?;
    let group: GroupId = row.get(3)?;
    let writers_all: bool = row.get(4)?;
    let writers = if writers_all {
        Writers::AllMembers
    } else {
        let mut stmt = conn.prepare_cached(
            "SELECT org_id FROM collection_writers WHERE collection_id = ?1 ORDER BY org_id",
        )?;
        let ids = stmt
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<OrgId>>>()?;
        Writers::Only(ids)
    };
    Ok(Collection {
        title: row.get(1)?,
        description: row.get(2)?,
        group,
        members: members(conn, group)?,
        writers,
        default_tlp: tlp_from_code(row.get(5)?),
        public: row.get(6)?,
        created: Timestamp::from_micros(row.get(7)?),
        id,
    })
}

/// The last column holds the object's oldest and newest versions as `min max`: one walk of
/// the object's key entries instead of two searches (a page of 1,000 rows makes 1,000 of
/// them into randomly keyed tables). An entry that is not the row itself is checked against
/// its row, since keys may collide. It names the two key tables rather than `version_keys`:
/// SQLite does not carry the correlated key into the view under an aggregate, and scans it.
const VERSION_COLUMNS: &str =
    "o.id, o.type, o.spec_version, o.version, o.date_added, o.producer, o.tlp, o.recipients,
    (SELECT min(v) || ' ' || max(v) FROM (
        SELECT version v, row r FROM object_keys WHERE key = o.okey
        UNION ALL SELECT version, row FROM recent_keys WHERE key = o.okey)
     WHERE r = o.rowid OR EXISTS (SELECT 1 FROM objects m
        WHERE m.rowid = r AND m.collection_id = o.collection_id AND m.id = o.id))";

/// The rows `o` of an object's versions, found through their key entries `k`: a query adds
/// `k.key = object_key(collection, id)` and checks `o.collection_id` and `o.id`.
const VERSION_ROWS: &str = "version_keys k CROSS JOIN objects o ON o.rowid = k.row";

/// Whether `version` is the oldest and the newest of the `min max` bounds [`VERSION_COLUMNS`]
/// reads.
fn version_bounds(version: i64, bounds: &str) -> (bool, bool) {
    let mut ends = bounds.split(' ').map(str::parse::<i64>);
    match (ends.next(), ends.next()) {
        (Some(Ok(min)), Some(Ok(max))) => (version == min, version == max),
        // The row itself is among the versions, so this does not happen; if it did, claiming
        // neither has `first`/`last` selection read the object's versions instead.
        _ => (false, false),
    }
}

fn version_from_row(row: &Row<'_>, with_content: bool) -> rusqlite::Result<StoredVersion> {
    let recipients: Option<String> = row.get(7)?;
    let version: i64 = row.get(3)?;
    let (oldest, newest) = version_bounds(version, row.get_ref(8)?.as_str()?);
    Ok(StoredVersion {
        id: row.get(0)?,
        type_name: row.get(1)?,
        spec_version: row.get(2)?,
        version: Timestamp::from_micros(version),
        date_added: Timestamp::from_micros(row.get(4)?),
        producer: row.get(5)?,
        tlp: row.get::<_, Option<i64>>(6)?.map(tlp_from_code),
        recipients: recipients
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|r| r.parse().ok())
            .collect(),
        newest,
        oldest,
        raw: if with_content { row.get(9)? } else { None },
    })
}

impl Store for SqliteStore {
    fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )
                .map(drop)
        })
    }

    fn create_org(
        &self,
        name: &str,
        country: Option<&str>,
        identity_id: &str,
    ) -> StoreResult<Organisation> {
        let created = Timestamp::now();
        let id = self
            .write(|w| {
                w.conn.execute(
                    "INSERT INTO orgs (name, country, identity_id, created) VALUES (?1, ?2, ?3, ?4)",
                    params![name, country, identity_id, created.as_micros()],
                )?;
                Ok(w.conn.last_insert_rowid())
            })
            .map_err(|e| match e {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!("organisation `{name}`")),
                other => other,
            })?;
        Ok(Organisation {
            id,
            name: name.to_owned(),
            country: country.map(str::to_owned),
            identity_id: identity_id.to_owned(),
            created,
        })
    }

    fn org(&self, id: OrgId) -> StoreResult<Option<Organisation>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, name, country, identity_id, created FROM orgs WHERE id = ?1",
                [id],
                org_from_row,
            )
            .optional()
        })
    }

    fn org_by_name(&self, name: &str) -> StoreResult<Option<Organisation>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, name, country, identity_id, created FROM orgs WHERE name = ?1",
                [name],
                org_from_row,
            )
            .optional()
        })
    }

    fn orgs(&self) -> StoreResult<Vec<Organisation>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, country, identity_id, created FROM orgs ORDER BY id",
            )?;
            let rows = stmt.query_map([], org_from_row)?;
            rows.collect()
        })
    }

    fn create_group(&self, name: &str, members: &[OrgId]) -> StoreResult<SharingGroup> {
        let id = self
            .write(|w| {
                let tx = immediate(&mut w.conn)?;
                tx.execute("INSERT INTO groups (name) VALUES (?1)", [name])?;
                let id = tx.last_insert_rowid();
                for org in members {
                    tx.execute(
                        "INSERT OR IGNORE INTO group_members (group_id, org_id) VALUES (?1, ?2)",
                        [id, *org],
                    )?;
                }
                tx.commit()?;
                Ok(id)
            })
            .map_err(|e| match e {
                StoreError::Duplicate(_) => {
                    StoreError::Duplicate(format!("sharing group `{name}`"))
                }
                other => other,
            })?;
        let mut members = members.to_vec();
        members.sort_unstable();
        members.dedup();
        Ok(SharingGroup {
            id,
            name: name.to_owned(),
            members,
        })
    }

    fn group_by_name(&self, name: &str) -> StoreResult<Option<SharingGroup>> {
        self.read(|c| {
            let Some(id) = c
                .query_row("SELECT id FROM groups WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?
            else {
                return Ok(None);
            };
            Ok(Some(SharingGroup {
                id,
                name: name.to_owned(),
                members: members(c, id)?,
            }))
        })
    }

    fn groups(&self) -> StoreResult<Vec<SharingGroup>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, name FROM groups ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, GroupId>(0)?, r.get::<_, String>(1)?))
            })?;
            rows.map(|row| {
                let (id, name) = row?;
                Ok(SharingGroup {
                    id,
                    name,
                    members: members(c, id)?,
                })
            })
            .collect()
        })
    }

    fn create_collection(&self, new: &NewCollection) -> StoreResult<Collection> {
        let id = &new.id;
        let created = Timestamp::now();
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            tx.execute(
                "INSERT INTO collections (id, title, description, group_id, writers_all, default_tlp, public, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    new.title,
                    new.description,
                    new.group,
                    matches!(new.writers, Writers::AllMembers),
                    tlp_code(new.default_tlp),
                    new.public,
                    created.as_micros()
                ],
            )?;
            if let Writers::Only(writers) = &new.writers {
                for org in writers {
                    tx.execute(
                        "INSERT OR IGNORE INTO collection_writers (collection_id, org_id) VALUES (?1, ?2)",
                        params![id, org],
                    )?;
                }
            }
            tx.commit()
        })?;
        self.collection(id)?
            .ok_or_else(|| StoreError::Missing(format!("collection {id}")))
    }

    fn collection(&self, id: &str) -> StoreResult<Option<Collection>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {COLLECTION_COLUMNS} FROM collections WHERE id = ?1"),
                [id],
                |row| collection_from_row(c, row),
            )
            .optional()
        })
    }

    fn collections(&self) -> StoreResult<Vec<Collection>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLLECTION_COLUMNS} FROM collections ORDER BY created, id"
            ))?;
            let rows = stmt.query_map([], |row| collection_from_row(c, row))?;
            rows.collect()
        })
    }

    fn create_token(&self, token: &Token) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT INTO tokens (id, org_id, role, secret_hash, created, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![token.id, token.org, token.role.as_str(), token.secret_hash, token.created.as_micros(), token.revoked],
                )
                .map(drop)
        })
    }

    fn token(&self, id: &str) -> StoreResult<Option<Token>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, org_id, role, secret_hash, created, revoked FROM tokens WHERE id = ?1",
                [id],
                token_from_row,
            )
            .optional()
        })
    }

    fn tokens(&self) -> StoreResult<Vec<Token>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, org_id, role, secret_hash, created, revoked FROM tokens ORDER BY created, id")?;
            let rows = stmt.query_map([], token_from_row)?;
            rows.collect()
        })
    }

    fn deletion_mark(&self) -> StoreResult<i64> {
        self.read(|c| {
            c.prepare_cached("SELECT coalesce(max(seq), 0) FROM deleted_versions")?
                .query_row([], |r| r.get(0))
        })
    }

    fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        self.write(|w| {
            w.conn
                .execute("UPDATE tokens SET revoked = 1 WHERE id = ?1", [id])
                .map(|n| n > 0)
        })
    }

    fn insert_versions(
        &self,
        collection: &str,
        producer: OrgId,
        recipients: &[OrgId],
        versions: &[NewVersion],
        logged: bool,
        status: &StatusFn<'_>,
    ) -> StoreResult<Vec<InsertOutcome>> {
        let recipients = (!recipients.is_empty()).then(|| {
            recipients
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        self.write_grouped(|tx, group| {
            let mut outcomes = Vec::with_capacity(versions.len());
            let mut last = group.mark;
            let frontier = &mut group.frontier;
            // What every leaf of this write shares; `render_object_leaf` reads the same from
            // the row.
            let leaf_context = if logged {
                Some(tx.query_row(
                    "SELECT coalesce((SELECT identity_id FROM orgs WHERE id = ?2), ''), default_tlp
                     FROM collections WHERE id = ?1",
                    params![collection, producer],
                    |r| Ok((r.get::<_, String>(0)?, tlp_from_code(r.get(1)?))),
                )?)
            } else {
                None
            };
            {
                let mut stored = StoredVersionRow::prepare(tx)?;
                let mut same_bytes = tx.prepare_cached(&format!(
                    "SELECT o.version FROM {VERSION_ROWS}
                     WHERE k.key = ?1 AND o.collection_id = ?2 AND o.id = ?3 AND o.sha256 = ?4"
                ))?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO objects (collection_id, id, version, date_added, type, spec_version, producer, tlp, recipients, sha256, raw, leaf, okey)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?;
                let mut file_key = tx.prepare_cached(
                    "INSERT INTO recent_keys (key, version, row) VALUES (?1, ?2, ?3)",
                )?;
                let now = Timestamp::now().as_micros();
                for new in versions {
                    let object = &new.object;
                    let key = object_key(collection, &object.id);
                    let known_version: Option<i64> = match object.version() {
                        Some(version) => Some(version.as_micros()),
                        // Unversioned objects (cyber-observables) are identified by content.
                        None => same_bytes
                            .query_row(params![key, collection, object.id, &new.sha256[..]], |r| r.get(0))
                            .optional()?,
                    };
                    let date_added = now.max(last + 1);
                    let version = known_version.unwrap_or(date_added);
                    if let Some((_, stored)) = stored.find(key, version, collection, &object.id)? {
                        let version = Timestamp::from_micros(version);
                        outcomes.push(if stored[..] == new.sha256[..] {
                            InsertOutcome::AlreadyPresent { version }
                        } else {
                            InsertOutcome::Conflict { version }
                        });
                        continue;
                    }
                    insert.execute(params![
                        collection,
                        object.id,
                        version,
                        date_added,
                        object.type_name,
                        object.spec_version,
                        producer,
                        new.tlp.map(tlp_code),
                        recipients,
                        &new.sha256[..],
                        object.raw(),
                        leaf_context.as_ref().map(|_| frontier.size() as i64),
                        key
                    ])?;
                    let row = tx.last_insert_rowid();
                    file_key.execute(params![key, version, row])?;
                    last = date_added;
                    let (version, date_added) =
                        (Timestamp::from_micros(version), Timestamp::from_micros(date_added));
                    let leaf = match &leaf_context {
                        Some((producer, default_tlp)) => {
                            let text = ObjectLeaf {
                                deletion: false,
                                collection,
                                id: &object.id,
                                version,
                                date_added,
                                producer,
                                tlp: new.tlp.unwrap_or(*default_tlp),
                                sha256: new.sha256,
                            }
                            .encode();
                            Some(append_leaf(
                                tx,
                                frontier,
                                &text,
                                LeafText::RenderedFromRow(row),
                            )?)
                        }
                        None => None,
                    };
                    outcomes.push(InsertOutcome::Added { version, date_added, leaf });
                }
            }
            settle_keys(tx)?;
            group.mark = last;
            let stored = status(&outcomes);
            tx.execute(
                "INSERT INTO statuses (id, owner, json) VALUES (?1, ?2, ?3)",
                params![stored.id, stored.owner, stored.json],
            )?;
            Ok(outcomes)
        })
    }

    fn scan(
        &self,
        collection: &str,
        after: Option<Timestamp>,
        scan: &Scan,
    ) -> StoreResult<Vec<StoredVersion>> {
        let content = if scan.with_content { ", o.raw" } else { "" };
        // Asked for a few ids, SQLite would otherwise walk the whole collection along
        // `objects_by_date_added`; `+` has it find the ids' rows by their keys and sort those.
        let unindexed = if scan.ids.is_empty() { "" } else { "+" };
        let mut sql = format!(
            "SELECT {VERSION_COLUMNS}{content} FROM objects o WHERE {unindexed}o.collection_id = ?1"
        );
        let mut args: Vec<SqlValue> = vec![SqlValue::Text(collection.to_owned())];
        let lower = after
            .into_iter()
            .chain(scan.added_after)
            .map(Timestamp::as_micros)
            .max();
        if let Some(lower) = lower {
            args.push(SqlValue::Integer(lower));
            sql.push_str(&format!(" AND o.date_added > ?{}", args.len()));
        }
        if !scan.ids.is_empty() {
            let first = args.len() + 1;
            args.extend(
                scan.ids
                    .iter()
                    .map(|id| SqlValue::Integer(object_key(collection, id))),
            );
            let placeholders: Vec<String> = (first..=args.len()).map(|i| format!("?{i}")).collect();
            sql.push_str(&format!(
                " AND o.rowid IN (SELECT row FROM version_keys WHERE key IN ({}))",
                placeholders.join(", ")
            ));
        }
        for (column, values) in [
            ("o.id", &scan.ids),
            ("o.type", &scan.types),
            ("o.spec_version", &scan.spec_versions),
        ] {
            if values.is_empty() {
                continue;
            }
            let first = args.len() + 1;
            args.extend(values.iter().cloned().map(SqlValue::Text));
            let placeholders: Vec<String> = (first..=args.len()).map(|i| format!("?{i}")).collect();
            sql.push_str(&format!(" AND {column} IN ({})", placeholders.join(", ")));
        }
        args.push(SqlValue::Integer(
            i64::try_from(scan.batch).unwrap_or(i64::MAX),
        ));
        sql.push_str(&format!(
            " ORDER BY {unindexed}o.date_added LIMIT ?{}",
            args.len()
        ));
        self.read(|c| {
            // Mapped pages count in the process's memory, and a bulk read would map the whole
            // file; it reads through the system's page cache instead.
            if scan.bulk {
                c.pragma_update(None, "mmap_size", 0)?;
            }
            let rows = c.prepare_cached(&sql).and_then(|mut stmt| {
                stmt.query_map(params_from_iter(args), |row| {
                    version_from_row(row, scan.with_content)
                })?
                .collect()
            });
            if scan.bulk {
                c.pragma_update(None, "mmap_size", MMAP_SIZE)?;
            }
            rows
        })
    }

    fn versions(
        &self,
        collection: &str,
        id: &str,
        with_content: bool,
    ) -> StoreResult<Vec<StoredVersion>> {
        let content = if with_content { ", o.raw" } else { "" };
        let sql = format!(
            "SELECT {VERSION_COLUMNS}{content} FROM {VERSION_ROWS}
             WHERE k.key = ?3 AND o.collection_id = ?1 AND o.id = ?2 ORDER BY o.version"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![collection, id, object_key(collection, id)], |row| {
                    version_from_row(row, with_content)
                })?;
            rows.collect()
        })
    }

    fn delete_versions(
        &self,
        collection: &str,
        id: &str,
        versions: &[Timestamp],
        leaf: &DeletionLeafFn<'_>,
    ) -> StoreResult<usize> {
        let stored = self.versions(collection, id, false)?;
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            let (mut leaves, mut removed) = (Vec::new(), 0);
            {
                let key = object_key(collection, id);
                let mut stored_row = StoredVersionRow::prepare(&tx)?;
                let mut delete = tx.prepare_cached("DELETE FROM objects WHERE rowid = ?1")?;
                let mut forget_keys = [
                    tx.prepare_cached(
                        "DELETE FROM object_keys WHERE key = ?1 AND version = ?2 AND row = ?3",
                    )?,
                    tx.prepare_cached(
                        "DELETE FROM recent_keys WHERE key = ?1 AND version = ?2 AND row = ?3",
                    )?,
                ];
                let mut record = tx.prepare_cached(
                    "INSERT INTO deleted_versions (collection_id, id, version) VALUES (?1, ?2, ?3)",
                )?;
                for version in versions {
                    let found = stored_row.find(key, version.as_micros(), collection, id)?;
                    let (Some((row, sha)), Some(v)) =
                        (found, stored.iter().find(|v| v.version == *version))
                    else {
                        continue;
                    };
                    let sha: [u8; 32] = sha.try_into().unwrap_or([0; 32]);
                    keep_leaf_text(&tx, collection, id, version.as_micros())?;
                    delete.execute([row])?;
                    for forget in &mut forget_keys {
                        forget.execute(params![key, version.as_micros(), row])?;
                    }
                    record.execute(params![collection, id, version.as_micros()])?;
                    leaves.extend(leaf(v, &sha));
                    removed += 1;
                }
            }
            append_leaves(&tx, leaves.iter().map(Vec::as_slice))?;
            tx.commit()?;
            Ok(removed)
        })
    }

    fn append_log(&self, leaves: &[Vec<u8>]) -> StoreResult<()> {
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            append_leaves(&tx, leaves.iter().map(Vec::as_slice))?;
            tx.commit()
        })
    }

    fn log_head(&self) -> StoreResult<(u64, tlog::Hash)> {
        let frontier = self.read(load_frontier)?;
        Ok((frontier.size(), frontier.root()))
    }

    fn sync(&self) -> StoreResult<()> {
        self.sync_wal().map_err(StoreError::Backend)
    }

    fn log_hashes(&self, nodes: &[tlog::NodeId]) -> StoreResult<Vec<Option<tlog::Hash>>> {
        self.read(|c| {
            nodes
                .iter()
                .map(|n| subtree_hash(c, n.level, n.index))
                .collect()
        })
    }

    fn log_leaves(&self, start: u64, end: u64) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT l.idx, l.hash, l.data, o.rowid, {LEAF_COLUMNS} FROM log_leaves l
                 LEFT JOIN objects o ON o.rowid = l.object_row AND o.leaf = l.idx
                 WHERE l.idx >= ?1 AND l.idx < ?2 ORDER BY l.idx"
            ))?;
            let rows = stmt.query_map(params![start as i64, end as i64], |r| {
                let index = r.get::<_, i64>(0)? as u64;
                let data: Vec<u8> = r.get(2)?;
                if !data.is_empty() || r.get::<_, Option<i64>>(3)?.is_none() {
                    return Ok((index, data));
                }
                let text = render_object_leaf(r, 4)?;
                // A rendering that drifted from what was hashed must not be served as the leaf.
                if tlog::leaf_hash(&text)[..] != r.get::<_, Vec<u8>>(1)?[..] {
                    return Err(rusqlite::Error::ToSqlConversionFailure(
                        format!("leaf {index} rendered from its object does not match its hash")
                            .into(),
                    ));
                }
                Ok((index, text))
            })?;
            rows.collect()
        })
    }

    fn leaf_of(&self, collection: &str, id: &str, version: Timestamp) -> StoreResult<Option<u64>> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT o.leaf FROM {VERSION_ROWS}
                     WHERE k.key = ?4 AND k.version = ?3 AND o.collection_id = ?1 AND o.id = ?2"
                ),
                params![
                    collection,
                    id,
                    version.as_micros(),
                    object_key(collection, id)
                ],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(|i| i.flatten().map(|i| i as u64))
        })
    }

    fn save_checkpoint(&self, size: u64, note: &str) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?1, ?2)",
                    params![size as i64, note],
                )
                .map(drop)
        })
    }

    fn latest_checkpoint(&self) -> StoreResult<Option<(u64, String)>> {
        self.read(|c| {
            c.query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
        })
    }

    fn witnessed(&self, origin: &str) -> StoreResult<Option<WitnessedCheckpoint>> {
        self.read(|c| {
            c.query_row(
                "SELECT size, root, note FROM witnessed WHERE origin = ?1",
                [origin],
                witnessed_from_row,
            )
            .optional()
        })
    }

    fn swap_witnessed(
        &self,
        origin: &str,
        old_size: u64,
        new: &WitnessedCheckpoint,
    ) -> StoreResult<WitnessSwap> {
        self.write(|w| {
            // IMMEDIATE: the size read and the row written belong to one locked transaction,
            // whichever process submits.
            let tx = immediate(&mut w.conn)?;
            let current: u64 = tx
                .query_row(
                    "SELECT size FROM witnessed WHERE origin = ?1",
                    [origin],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .map_or(0, |s| s as u64);
            if current != old_size {
                return Ok(WitnessSwap::Moved { current });
            }
            tx.execute(
                "INSERT INTO witnessed (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note",
                params![origin, new.size as i64, &new.root[..], new.note],
            )?;
            tx.commit()?;
            Ok(WitnessSwap::Swapped)
        })
    }

    fn save_status(&self, status: &StoredStatus) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT INTO statuses (id, owner, json) VALUES (?1, ?2, ?3)",
                    params![status.id, status.owner, status.json],
                )
                .map(drop)
        })
    }

    fn status(&self, id: &str) -> StoreResult<Option<StoredStatus>> {
        self.read(|c| {
            c.query_row(
                "SELECT id, owner, json FROM statuses WHERE id = ?1",
                [id],
                |r| {
                    Ok(StoredStatus {
                        id: r.get(0)?,
                        owner: r.get(1)?,
                        json: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO audit (at, actor, org_id, action, target, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for e in events {
                    insert.execute(params![e.at.as_micros(), e.actor, e.org, e.action, e.target, e.outcome])?;
                }
            }
            tx.commit()
        })
    }

    fn set_sighting_sharing(&self, collection: &str, org: OrgId, share: bool) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT INTO sighting_sharing (collection_id, org_id, share) VALUES (?1, ?2, ?3)
                     ON CONFLICT (collection_id, org_id) DO UPDATE SET share = excluded.share",
                    params![collection, org, share],
                )
                .map(drop)
        })
    }

    fn sightings_withheld(&self, org: OrgId) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT collection_id FROM sighting_sharing WHERE org_id = ?1 AND share = 0 ORDER BY collection_id",
            )?;
            let rows = stmt.query_map([org], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn add_group_members(&self, group: GroupId, orgs: &[OrgId]) -> StoreResult<()> {
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            for org in orgs {
                tx.execute(
                    "INSERT OR IGNORE INTO group_members (group_id, org_id) VALUES (?1, ?2)",
                    [group, *org],
                )?;
            }
            tx.commit()
        })
    }

    fn mark_case_collection(&self, collection: &str) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT OR IGNORE INTO case_collections (collection_id, marked) VALUES (?1, ?2)",
                    params![collection, Timestamp::now().as_micros()],
                )
                .map(drop)
        })
    }

    fn case_collections(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT collection_id FROM case_collections ORDER BY marked, collection_id",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn record_evidence(&self, evidence: &kawal_core::EvidenceRecord) -> StoreResult<()> {
        self.write(|w| {
            w.conn
                .execute(
                    "INSERT OR IGNORE INTO evidence (sha256, collection_id, artifact_id, file_id) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        evidence.sha256,
                        evidence.collection,
                        evidence.artifact,
                        evidence.file
                    ],
                )
                .map(drop)
        })
    }

    fn evidence(&self, sha256: &str) -> StoreResult<Vec<kawal_core::EvidenceRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT sha256, collection_id, artifact_id, file_id FROM evidence WHERE sha256 = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([sha256], |r| {
                Ok(kawal_core::EvidenceRecord {
                    sha256: r.get(0)?,
                    collection: r.get(1)?,
                    artifact: r.get(2)?,
                    file: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    fn alert(&self, org: OrgId, id: &str) -> StoreResult<Option<kawal_core::Alert>> {
        self.read(|c| {
            c.query_row(
                "SELECT seq, id, org_id, observed, raised, indicator, indicator_name, collection_id, source, retro, objects, fields
                 FROM alerts WHERE org_id = ?1 AND id = ?2",
                params![org, id],
                alert_from_row,
            )
            .optional()
        })
        .map(|found| found.map(|(_, alert)| alert))
    }

    fn latest_alerts(
        &self,
        filter: &kawal_core::AlertFilter,
    ) -> StoreResult<Vec<kawal_core::ListedAlert>> {
        self.read(|c| console::latest_alerts(c, filter))
    }

    fn acknowledge_alert(
        &self,
        org: OrgId,
        id: &str,
        by: &str,
        at: Timestamp,
    ) -> StoreResult<Option<kawal_core::Acknowledgement>> {
        self.write(|w| console::acknowledge_alert(&w.conn, org, id, by, at))
    }

    fn append_alerts(&self, alerts: &[kawal_core::Alert]) -> StoreResult<()> {
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO alerts (id, org_id, observed, raised, indicator, indicator_name, collection_id, source, retro, objects, fields)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for a in alerts {
                    insert.execute(params![
                        a.id,
                        a.org,
                        a.observed.as_micros(),
                        a.raised.as_micros(),
                        a.indicator,
                        a.indicator_name,
                        a.collection,
                        a.source,
                        a.retro,
                        serde_json::Value::from(a.objects.clone()).to_string(),
                        serde_json::Value::Object(a.fields.clone()).to_string()
                    ])?;
                }
            }
            tx.commit()
        })
    }

    fn alerts(&self, query: &kawal_core::AlertQuery) -> StoreResult<Vec<(i64, kawal_core::Alert)>> {
        let mut sql = "SELECT seq, id, org_id, observed, raised, indicator, indicator_name, collection_id, source, retro, objects, fields
                       FROM alerts WHERE org_id = ?1"
            .to_owned();
        let mut args: Vec<SqlValue> = vec![SqlValue::Integer(query.org)];
        let mut filter = |clause: &str, value: SqlValue| {
            args.push(value);
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        };
        if let Some(after) = query.after {
            filter("seq >", SqlValue::Integer(after));
        }
        if let Some(indicator) = &query.indicator {
            filter("indicator =", SqlValue::Text(indicator.clone()));
        }
        if let Some(since) = query.observed_since {
            filter("observed >=", SqlValue::Integer(since.as_micros()));
        }
        if let Some(until) = query.observed_until {
            filter("observed <", SqlValue::Integer(until.as_micros()));
        }
        if let Some(retro) = query.retro {
            filter("retro =", SqlValue::Integer(i64::from(retro)));
        }
        args.push(SqlValue::Integer(query.limit as i64));
        sql.push_str(&format!(" ORDER BY seq LIMIT ?{}", args.len()));
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), alert_from_row)?;
            rows.collect()
        })
    }

    fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<(i64, AuditEvent)>> {
        let mut sql =
            "SELECT seq, at, actor, org_id, action, target, outcome FROM audit WHERE 1 = 1"
                .to_owned();
        let mut args: Vec<SqlValue> = Vec::new();
        let mut condition = |clause: &str, value: SqlValue| {
            args.push(value);
            sql.push_str(&format!(
                " AND {}",
                clause.replace('?', &format!("?{}", args.len()))
            ));
        };
        // LIKE patterns built from text the caller typed: its wildcards match themselves.
        let literal = |text: &str| {
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        };
        if let Some(actor) = &query.actor {
            condition("actor = ?", SqlValue::Text(actor.clone()));
        }
        if let Some(action) = &query.action {
            condition("action = ?", SqlValue::Text(action.clone()));
        }
        if let Some(target) = &query.target {
            condition(
                "target LIKE ? ESCAPE '\\'",
                SqlValue::Text(format!("%{}%", literal(target))),
            );
        }
        if let Some(outcome) = &query.outcome {
            condition(
                "outcome LIKE ? ESCAPE '\\'",
                SqlValue::Text(format!("{}%", literal(outcome))),
            );
        }
        if let Some(org) = query.org {
            condition("org_id = ?", SqlValue::Integer(org));
        }
        if let Some(since) = query.since {
            condition("at >= ?", SqlValue::Integer(since.as_micros()));
        }
        if let Some(until) = query.until {
            condition("at <= ?", SqlValue::Integer(until.as_micros()));
        }
        if let Some(before) = query.before {
            condition("seq < ?", SqlValue::Integer(before));
        }
        args.push(SqlValue::Integer(
            i64::try_from(query.limit).unwrap_or(i64::MAX),
        ));
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", args.len()));
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((
                    r.get(0)?,
                    AuditEvent {
                        at: Timestamp::from_micros(r.get(1)?),
                        actor: r.get(2)?,
                        org: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        outcome: r.get(6)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    fn create_user(
        &self,
        org: OrgId,
        username: &str,
        role: Role,
        password_hash: &str,
    ) -> StoreResult<User> {
        self.write(|w| console::create_user(&w.conn, org, username, role, password_hash))
            .map_err(|e| match e {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!("user `{username}`")),
                other => other,
            })
    }

    fn user(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(|c| console::user(c, id))
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|c| console::user_by_name(c, username))
    }

    fn users(&self) -> StoreResult<Vec<User>> {
        self.read(console::users)
    }

    fn set_user_disabled(&self, id: i64, disabled: bool) -> StoreResult<bool> {
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            let found = console::set_user_disabled(&tx, id, disabled)?;
            tx.commit()?;
            Ok(found)
        })
    }

    fn delete_user(&self, id: i64) -> StoreResult<bool> {
        self.write(|w| {
            let tx = immediate(&mut w.conn)?;
            let found = console::delete_user(&tx, id)?;
            tx.commit()?;
            Ok(found)
        })
    }

    fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.write(|w| console::create_session(&w.conn, session))
    }

    fn session(&self, secret_sha256: &[u8; 32]) -> StoreResult<Option<Session>> {
        self.read(|c| console::session(c, secret_sha256))
    }

    fn delete_session(&self, secret_sha256: &[u8; 32]) -> StoreResult<bool> {
        self.write(|w| {
            w.conn
                .execute(
                    "DELETE FROM sessions WHERE secret_sha256 = ?1",
                    [&secret_sha256[..]],
                )
                .map(|n| n > 0)
        })
    }

    fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<usize> {
        self.write(|w| {
            w.conn.execute(
                "DELETE FROM sessions WHERE expires <= ?1",
                [now.as_micros()],
            )
        })
    }

    fn index_step(&self, batch: usize) -> StoreResult<usize> {
        lock(&self.indexer).step(batch).map_err(backend)
    }

    fn since_last_commit(&self) -> Duration {
        let last = Duration::from_micros(self.last_commit.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    fn search(
        &self,
        query: &kawal_core::search::IndexQuery,
    ) -> StoreResult<Vec<kawal_core::search::IndexedVersion>> {
        self.read(|c| console::search(c, query))
    }

    fn counts(&self, since_day: i64) -> StoreResult<kawal_core::search::Counts> {
        self.read(|c| console::counts(c, since_day))
    }

    fn sighted(
        &self,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<kawal_core::search::SightedCounts>> {
        self.read(|c| console::sighted(c, offset, limit))
    }
}
