//! A verifiable Merkle transparency log, as a pure library: no IO, no clock, no randomness.
//!
//! The log appends entries to an RFC 9162 Merkle tree, signs checkpoints of it as C2SP signed
//! notes, and serves its hashes as C2SP tiles. A partner holding a checkpoint checks inclusion of
//! an entry and consistency between two checkpoints with the same functions the log uses to
//! produce the proofs; only where the hashes come from differs (the log's store, or tiles).
//!
//! # Module layout
//!
//! | module | holds |
//! |---|---|
//! | [`hash`] | RFC 9162 §2.1.1 hashing: [`leaf_hash`] (`0x00` prefix), [`node_hash`] (`0x01`), [`EMPTY_ROOT`], base64/hex of hashes |
//! | [`tree`] | [`NodeId`] addresses of complete nodes, [`Subtree`] ranges, the [`HashReader`] trait over stored node hashes, [`MemoryTree`] |
//! | [`frontier`] | [`Frontier`], the compact range `[0, size)`: O(log n) appends and root, serialisable for a database row |
//! | [`proof`] | inclusion, consistency and subtree proofs: which subtrees they hold, generation from a [`HashReader`], verification per RFC 9162 §2.1.3.2 / §2.1.4.2 |
//! | [`tile`] | C2SP tlog-tiles: [`TileId`] and paths, entry bundles, tiles a proof needs, [`TileHashReader`] to build proofs from fetched tiles |
//! | [`note`] | C2SP signed-note with Ed25519: key IDs, verifier/signer key texts, strict parsing, [`note::sign`] and [`note::open`] |
//! | [`checkpoint`] | C2SP tlog-checkpoint bodies: origin, size, root hash, extension lines |
//! | [`cosignature`] | C2SP tlog-cosignature `cosignature/v1`: timestamped Ed25519 witness cosignatures |
//! | [`witness`] | C2SP tlog-witness `add-checkpoint`: request syntax, the witness's checks and refusals, reading its answer |
//!
//! # Storage
//!
//! The log stores the hash of every complete node (see [`tree`]): [`Frontier::append_with`]
//! reports each node an append completes, and the store writes them with the entry. Proofs for
//! any tree size, and tiles, are computed from those rows through [`HashReader`]; the
//! serialised [`Frontier`] is enough to append and to sign the next checkpoint.
//!
//! # Example
//!
//! ```
//! use tlog::{leaf_hash, proof, Frontier, MemoryTree};
//!
//! let mut store = MemoryTree::new(); // a log keeps these hashes in its database
//! let mut frontier = Frontier::new();
//! for entry in [&b"a"[..], b"b", b"c"] {
//!     let h = leaf_hash(entry);
//!     frontier.append(h).unwrap();
//!     store.append(h);
//! }
//! let root = frontier.root();
//! let p = proof::inclusion_proof(&store, 1, 3).unwrap();
//! proof::verify_inclusion(&leaf_hash(b"b"), 1, 3, &p, &root).unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod cosignature;
pub mod frontier;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tree;
pub mod witness;

pub use checkpoint::Checkpoint;
pub use frontier::Frontier;
pub use hash::{leaf_hash, node_hash, Hash, EMPTY_ROOT};
pub use proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion, VerifyError,
};
pub use tile::{TileHashReader, TileId};
pub use tree::{HashReader, MemoryTree, NodeId, Subtree};
