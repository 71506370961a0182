//! What the transparency log records, and how.
//!
//! Every accepted object version, every deletion and every administrative action appends one
//! *leaf* to an RFC 9162 Merkle tree (crate `tlog`). A leaf is UTF-8 text, one `key value`
//! line per field in a fixed order, each line ending in `\n`:
//!
//! ```text
//! kawal-leaf/v1
//! kind object
//! collection 9cfa669c-ee94-4ece-afd2-f8edac37d8fd
//! id indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f
//! version 2020-01-01T00:00:00.000000Z
//! date_added 2026-11-23T04:00:20.935774Z
//! producer identity--2cb76b20-db7e-40a0-9984-d18fedeb64eb
//! tlp amber
//! sha256 4f1c…(64 hex digits of the SHA-256 of the object's exact bytes)
//! ```
//!
//! `kind deletion` leaves have the same fields, the `sha256` of the deleted bytes and
//! `date_added` the time of deletion. `kind audit` leaves hold `at`, `actor`, `action`,
//! `target` and `outcome`. Leaves never hold content: a TLP:RED object's existence is
//! committed to while its content stays with its readers. Anyone holding an object recomputes
//! its leaf from the object's bytes and these fields, hashes it with `tlog::leaf_hash`, and
//! checks an inclusion proof against a signed checkpoint.

use stix::{Timestamp, Tlp};

use crate::model::AuditEvent;

pub const LEAF_FORMAT: &str = "kawal-leaf/v1";

/// What a leaf says about one object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLeaf<'a> {
    pub deletion: bool,
    pub collection: &'a str,
    pub id: &'a str,
    pub version: Timestamp,
    pub date_added: Timestamp,
    pub producer: &'a str,
    /// The TLP that governs the version: its marking, else the collection's default.
    pub tlp: Tlp,
    pub sha256: [u8; 32],
}

/// Field values never contain a line break: ids, UUIDs and timestamps cannot, and free text
/// (audit targets) has them replaced, so every leaf reads back unambiguously.
fn clean(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\n', '\r']) {
        value.replace(['\n', '\r'], " ").into()
    } else {
        value.into()
    }
}

impl ObjectLeaf<'_> {
    pub fn encode(&self) -> Vec<u8> {
        use std::fmt::Write as _;
        // Written into one buffer: the writer encodes a leaf per stored version while it
        // holds the database's write lock.
        let mut leaf = String::with_capacity(384);
        let _ = write!(
            leaf,
            "{LEAF_FORMAT}\nkind {}\ncollection {}\nid {}\nversion {}\ndate_added {}\nproducer {}\ntlp {}\nsha256 ",
            if self.deletion { "deletion" } else { "object" },
            clean(self.collection),
            clean(self.id),
            self.version,
            self.date_added,
            clean(self.producer),
            self.tlp,
        );
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for byte in self.sha256 {
            leaf.push(char::from(HEX[usize::from(byte >> 4)]));
            leaf.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        leaf.push('\n');
        leaf.into_bytes()
    }
}

/// The leaf of an administrative action.
pub fn audit_leaf(event: &AuditEvent) -> Vec<u8> {
    format!(
        "{LEAF_FORMAT}\nkind audit\nat {}\nactor {}\naction {}\ntarget {}\noutcome {}\n",
        event.at,
        clean(&event.actor),
        clean(&event.action),
        clean(&event.target),
        clean(&event.outcome)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_are_canonical_text() {
        let leaf = ObjectLeaf {
            deletion: false,
            collection: "c",
            id: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            version: Timestamp::from_micros(0),
            date_added: Timestamp::from_micros(1),
            producer: "identity--x",
            tlp: Tlp::Red,
            sha256: [0xab; 32],
        };
        let text = String::from_utf8(leaf.encode()).unwrap();
        assert_eq!(
            text,
            format!(
                "kawal-leaf/v1\nkind object\ncollection c\nid indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\nversion 1970-01-01T00:00:00.000000Z\ndate_added 1970-01-01T00:00:00.000001Z\nproducer identity--x\ntlp red\nsha256 {}\n",
                "ab".repeat(32)
            )
        );
        let event = AuditEvent {
            at: Timestamp::from_micros(0),
            actor: "local".into(),
            org: None,
            action: "org.add".into(),
            target: "evil\nkind object".into(),
            outcome: "ok".into(),
        };
        assert!(String::from_utf8(audit_leaf(&event))
            .unwrap()
            .contains("target evil kind object\n"));
    }
}
