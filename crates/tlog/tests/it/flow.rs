//! A log and a partner, end to end: the log appends with a frontier, stores node hashes and
//! signs checkpoints; the partner verifies checkpoints, then consistency and inclusion from
//! tiles, with the same proof code.

use std::collections::BTreeMap;

use tlog::note::Signer;
use tlog::tile::tile_bytes;
use tlog::{
    consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion,
    Checkpoint, Frontier, Hash, HashReader, NodeId, TileHashReader, TileId,
};

/// The log's node table, as a database would hold it: one row per complete node.
#[derive(Default)]
struct NodeTable(BTreeMap<NodeId, Hash>);

#[derive(Debug)]
struct Missing(NodeId);
impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no row for node {}", self.0)
    }
}
impl std::error::Error for Missing {}

impl HashReader for NodeTable {
    type Error = Missing;
    fn hash_at(&self, level: u8, index: u64) -> Result<Hash, Missing> {
        let id = NodeId::new(level, index);
        self.0.get(&id).copied().ok_or(Missing(id))
    }
}

#[derive(Debug)]
struct Unavailable;
impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tile unavailable")
    }
}
impl std::error::Error for Unavailable {}

#[test]
fn log_and_partner() {
    let signer = Signer::from_seed("kawal.example/log", &[42; 32]).expect("valid");
    let verifier = signer.verifier();
    let mut table = NodeTable::default();
    // The frontier lives in a database row between appends.
    let mut frontier_row = Frontier::new().to_bytes();
    let mut checkpoints = Vec::new();
    let mut entries = Vec::new();

    for batch in [1u64, 7, 250, 10, 300, 1] {
        let mut f = Frontier::from_bytes(&frontier_row).expect("stored frontier");
        for _ in 0..batch {
            let entry = format!("object {}", entries.len()).into_bytes();
            let index = f
                .append_with(leaf_hash(&entry), |node, hash| {
                    table.0.insert(node, *hash);
                })
                .expect("room to grow");
            assert_eq!(index, entries.len() as u64);
            entries.push(entry);
        }
        frontier_row = f.to_bytes();
        let cp = Checkpoint::new("kawal.example/log", f.size(), f.root()).expect("valid");
        checkpoints.push(cp.sign(&[&signer]).expect("signable"));
    }

    // The partner: verifies each checkpoint, then its consistency with the previous one and the
    // inclusion of every new entry, fetching tiles the log cuts from its node table.
    let mut trusted: Option<Checkpoint> = None;
    for signed in &checkpoints {
        let (cp, _) = Checkpoint::open(signed.as_bytes(), &[&verifier]).expect("log signed it");
        let fetch = |t: &TileId| tile_bytes(&table, t).map_err(|_| Unavailable);
        let tiles = TileHashReader::new(cp.size(), fetch);
        let first_new = trusted.as_ref().map_or(0, Checkpoint::size);
        if let Some(old) = &trusted {
            let proof = consistency_proof(&tiles, old.size(), cp.size()).expect("tiles");
            // The log's own store gives the same proof.
            assert_eq!(
                consistency_proof(&table, old.size(), cp.size()).ok(),
                Some(proof.clone())
            );
            verify_consistency(old.size(), cp.size(), old.root(), cp.root(), &proof)
                .expect("append-only");
        }
        for i in first_new..cp.size() {
            let proof = inclusion_proof(&tiles, i, cp.size()).expect("tiles");
            let leaf = leaf_hash(&entries[i as usize]);
            verify_inclusion(&leaf, i, cp.size(), &proof, cp.root()).expect("included");
        }
        trusted = Some(cp);
    }
    assert_eq!(trusted.map(|c| c.size()), Some(entries.len() as u64));
}
