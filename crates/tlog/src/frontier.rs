//! The compact range `[0, size)`: what a log must keep to append and to compute its root.
//!
//! A tree of `size` leaves splits into one perfect subtree per set bit of `size`, largest on the
//! left. Their roots — at most 64 hashes — are all an appender needs: a new leaf merges with the
//! trailing perfect subtrees of equal height, exactly like a binary increment carries. Appending
//! costs O(log n) hashes and the root O(log n) more, without the rest of the tree in memory.

use crate::hash::{node_hash, Hash, HASH_SIZE};
use crate::tree::{fold_nodes, HashReader, NodeId, Subtree};

/// Version byte of the serialised form, so the format can change without misreading old rows.
const FORMAT_V1: u8 = 1;

/// Why a frontier could not be decoded, rebuilt or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// The serialised form is shorter than its header.
    #[error("serialised frontier is truncated: {0} bytes")]
    Truncated(usize),
    /// The serialised form starts with a version this code does not know.
    #[error("unknown frontier format version {0}")]
    Version(u8),
    /// The number of hashes does not match the tree size (one per set bit).
    #[error("a frontier of size {size} holds {expected} hashes, got {bytes} bytes of hashes")]
    HashCount {
        /// Tree size from the header.
        size: u64,
        /// Hashes that size implies.
        expected: u32,
        /// Bytes found after the header.
        bytes: usize,
    },
    /// The tree cannot grow past `u64::MAX` leaves.
    #[error("the tree is full")]
    Full,
}

/// The compact range `[0, size)` of a Merkle tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of the perfect subtrees, left (largest) to right (smallest).
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree `[0, size)`; the empty-tree hash at size 0.
    pub fn root(&self) -> Hash {
        fold_nodes(&self.hashes)
    }

    /// The perfect subtrees making up the tree, left to right, with their root hashes.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, Hash)> + '_ {
        Subtree::new(0, self.size)
            .nodes()
            .into_iter()
            .zip(self.hashes.iter().copied())
    }

    /// Appends a leaf hash and returns its index.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<u64, FrontierError> {
        self.append_with(leaf_hash, |_, _| {})
    }

    /// Appends a leaf hash and returns its index, calling `completed` for the leaf and for every
    /// interior node the leaf completes, bottom-up. Those are the hashes a log stores (in the same
    /// transaction as the entry) so that proofs can be generated later.
    pub fn append_with(
        &mut self,
        leaf_hash: Hash,
        mut completed: impl FnMut(NodeId, &Hash),
    ) -> Result<u64, FrontierError> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(FrontierError::Full)?;
        let mut hash = leaf_hash;
        completed(NodeId::new(0, index), &hash);
        // Each trailing one bit of the old size is a perfect subtree of the same height as the
        // node being carried: merge them, as in a binary increment.
        let mut level: u8 = 0;
        while (index >> level) & 1 == 1 {
            // The size has a bit set here, so a hash is present for it.
            let Some(left) = self.hashes.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            level += 1;
            completed(NodeId::new(level, index >> level), &hash);
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(index)
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored complete nodes, for instance
    /// after losing the serialised form, or to start appending from tiles.
    pub fn from_reader<R: HashReader>(reader: &R, size: u64) -> Result<Self, R::Error> {
        let hashes = reader.hashes_at(&Subtree::new(0, size).nodes())?;
        Ok(Frontier { size, hashes })
    }

    /// The serialised form: a version byte, the size as 8 big-endian bytes, then the perfect
    /// subtree roots left to right. At most 1 + 8 + 64·32 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.hashes.len() * HASH_SIZE);
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Parses [`Frontier::to_bytes`] output, checking that the hash count matches the size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FrontierError> {
        let (&version, rest) = bytes
            .split_first()
            .ok_or(FrontierError::Truncated(bytes.len()))?;
        if version != FORMAT_V1 {
            return Err(FrontierError::Version(version));
        }
        let (size_bytes, hash_bytes) = rest
            .split_first_chunk::<8>()
            .ok_or(FrontierError::Truncated(bytes.len()))?;
        let size = u64::from_be_bytes(*size_bytes);
        let expected = size.count_ones();
        if hash_bytes.len() != expected as usize * HASH_SIZE {
            return Err(FrontierError::HashCount {
                size,
                expected,
                bytes: hash_bytes.len(),
            });
        }
        let hashes = hash_bytes
            .chunks_exact(HASH_SIZE)
            .filter_map(|c| Hash::try_from(c).ok())
            .collect();
        Ok(Frontier { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, EMPTY_ROOT};
    use crate::tree::MemoryTree;

    #[test]
    fn appends_report_completed_nodes() {
        let mut f = Frontier::new();
        let mut seen = Vec::new();
        for i in 0..8u64 {
            let idx = f
                .append_with(leaf_hash(&i.to_be_bytes()), |n, _| seen.push(n))
                .unwrap_or(u64::MAX);
            assert_eq!(idx, i);
        }
        let want: Vec<NodeId> = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
            (0, 5),
            (1, 2),
            (0, 6),
            (0, 7),
            (1, 3),
            (2, 1),
            (3, 0),
        ]
        .into_iter()
        .map(|(l, i)| NodeId::new(l, i))
        .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn matches_memory_tree_and_round_trips() {
        let mut f = Frontier::new();
        let mut t = MemoryTree::new();
        assert_eq!(f.root(), EMPTY_ROOT);
        for i in 0..300u64 {
            let h = leaf_hash(&i.to_le_bytes());
            assert_eq!(f.append(h), Ok(t.append(h)));
            assert_eq!(f.root(), t.root());
            let back = Frontier::from_bytes(&f.to_bytes());
            assert_eq!(back.as_ref(), Ok(&f));
            assert_eq!(Frontier::from_reader(&t, t.size()).as_ref(), Ok(&f));
        }
    }

    #[test]
    fn rejects_bad_bytes() {
        assert_eq!(Frontier::from_bytes(&[]), Err(FrontierError::Truncated(0)));
        assert_eq!(Frontier::from_bytes(&[2]), Err(FrontierError::Version(2)));
        assert_eq!(
            Frontier::from_bytes(&[1, 0, 0]),
            Err(FrontierError::Truncated(3))
        );
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(&[0; 32]);
        assert_eq!(
            Frontier::from_bytes(&b),
            Err(FrontierError::HashCount {
                size: 3,
                expected: 2,
                bytes: 32
            })
        );
    }

    #[test]
    fn full_tree_refuses_to_grow() {
        let mut f = Frontier {
            size: u64::MAX,
            hashes: vec![[0; 32]; 64],
        };
        assert_eq!(f.append([1; 32]), Err(FrontierError::Full));
    }
}
