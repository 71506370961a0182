//! Addressing stored node hashes, and computing any subtree hash from them.
//!
//! A log keeps the hash of every *complete* node: the node at `(level, index)` is the root of the
//! perfect subtree over leaves `[index·2^level, (index+1)·2^level)`, and level 0 holds the leaf
//! hashes. Complete nodes never change once the tree has grown past them, which makes them safe
//! to store in a database row or a tile. The hashes the tree needs on its right edge, where
//! subtrees are not yet full, are *ephemeral*: they are recomputed from complete nodes whenever a
//! proof asks for them (see [`Subtree::nodes`]).

use crate::hash::{node_hash, Hash, EMPTY_ROOT};

/// The position of a complete node: it covers leaves `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves; 0 for leaf hashes.
    pub level: u8,
    /// Position among the nodes of the same level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `(level, index)`.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// First leaf under this node, or `None` when it does not fit in 64 bits.
    pub fn first_leaf(&self) -> Option<u64> {
        self.index.checked_shl(u32::from(self.level)).and_then(|v| {
            // `checked_shl` only checks the shift amount, not lost bits.
            (v >> self.level == self.index).then_some(v)
        })
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {})", self.level, self.index)
    }
}

/// A half-open range of leaves `[start, end)`; see [`Subtree::is_valid`] for the ranges that are
/// subtrees of the Merkle tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subtree {
    /// First leaf.
    pub start: u64,
    /// One past the last leaf.
    pub end: u64,
}

impl Subtree {
    /// The range `[start, end)`, not yet checked.
    pub const fn new(start: u64, end: u64) -> Self {
        Subtree { start, end }
    }

    /// Number of leaves.
    pub const fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether `[start, end)` is a subtree in the sense of draft-ietf-plants-merkle-tree-certs §4.1:
    /// `start <= end` and `start` is a multiple of the smallest power of two `>= end - start`.
    /// These are exactly the ranges whose hash `MTH(D[start:end])` appears in every tree of size
    /// at least `end`, either as a complete node or as a right-edge node; every hash in an
    /// RFC 9162 proof is the hash of one of them.
    pub fn is_valid(&self) -> bool {
        if self.start > self.end {
            return false;
        }
        let size = self.end - self.start;
        if size > 1 << 63 {
            // The next power of two would be 2^64; only start 0 is a multiple of it.
            return self.start == 0;
        }
        self.start & (size.next_power_of_two() - 1) == 0
    }

    /// The complete nodes whose hashes combine into this subtree's hash, left to right: one per
    /// set bit of the size, largest first. Empty for an empty or invalid range.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut out = Vec::new();
        if !self.is_valid() {
            return out;
        }
        let mut pos = self.start;
        let size = self.size();
        for level in (0..64u8).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                out.push(NodeId::new(level, pos >> level));
                // Cannot overflow: pos + width <= end.
                pos += width;
            }
        }
        out
    }
}

impl std::fmt::Display for Subtree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// Folds the hashes of a subtree's complete nodes, given left to right as [`Subtree::nodes`]
/// lists them, into the subtree hash. MTH splits a tree at its largest power of two, so the
/// leftmost node joins the hash of everything to its right: the fold runs right to left.
/// An empty list gives the empty-tree hash.
pub fn fold_nodes(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// Read access to the stored hashes of complete nodes.
///
/// A log store implements this over its table of node hashes; a partner implements it over tiles
/// it fetched ([`crate::tile::TileHashReader`]). Proof generation only ever asks for complete
/// nodes of the tree size it was given, so a store may refuse anything else.
pub trait HashReader {
    /// Why a hash could not be read.
    type Error: std::error::Error + 'static;

    /// The hash of the complete node at `(level, index)`.
    fn hash_at(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;

    /// The hashes of several nodes, in the order asked. Stores that can fetch many rows at once
    /// should override this: proof generation asks for all of a proof's nodes in one call.
    fn hashes_at(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        nodes
            .iter()
            .map(|n| self.hash_at(n.level, n.index))
            .collect()
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;
    fn hash_at(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).hash_at(level, index)
    }
    fn hashes_at(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, Self::Error> {
        (**self).hashes_at(nodes)
    }
}

/// Computes `MTH(D[start:end])` for a valid subtree from stored complete nodes.
/// For an invalid range the result is the empty-tree hash; callers check validity first.
pub fn subtree_hash<R: HashReader>(reader: &R, subtree: Subtree) -> Result<Hash, R::Error> {
    let hashes = reader.hashes_at(&subtree.nodes())?;
    Ok(fold_nodes(&hashes))
}

/// The root hash of the tree of the given size, from stored complete nodes.
pub fn root_at<R: HashReader>(reader: &R, size: u64) -> Result<Hash, R::Error> {
    subtree_hash(reader, Subtree::new(0, size))
}

/// A node a [`MemoryTree`] does not have: it is not complete at the tree's current size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node {0} is not a complete node of this tree")]
pub struct MissingNode(pub NodeId);

/// A whole tree held in memory, every complete node of every level. For tests and small tools;
/// a log keeps the same hashes in its database and a [`crate::Frontier`] for appending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l]` holds the complete nodes of level `l`, left to right.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash, completing any nodes it closes, and returns its index.
    pub fn append(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.size();
        let mut level = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            // An even count means the new node is a right child whose sibling is complete.
            if n & 1 == 1 {
                break;
            }
            hash = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
        index
    }

    /// Appends the leaf hash of `data`, returning its index.
    pub fn append_data(&mut self, data: &[u8]) -> u64 {
        self.append(crate::hash::leaf_hash(data))
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or(EMPTY_ROOT)
    }

    /// The root hash the tree had at an earlier size; `None` beyond the current size.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        root_at(self, size).ok()
    }
}

impl HashReader for MemoryTree {
    type Error = MissingNode;

    fn hash_at(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        let id = NodeId::new(level, index);
        let row = self.levels.get(usize::from(level)).ok_or(MissingNode(id))?;
        let i = usize::try_from(index).map_err(|_| MissingNode(id))?;
        row.get(i).copied().ok_or(MissingNode(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn valid_subtrees() {
        for (s, e, ok) in [
            (0, 0, true),
            (5, 5, true),
            (0, 13, true),
            (4, 8, true),
            (8, 13, true),
            (8, 16, true),
            (1, 2, true),
            (2, 5, false),
            (2, 6, false),
            (1, 3, false),
            (3, 5, false),
            (2, 1, false),
            (1, (1 << 63) + 2, false),
            (0, u64::MAX, true),
        ] {
            assert_eq!(Subtree::new(s, e).is_valid(), ok, "[{s}, {e})");
        }
    }

    #[test]
    fn subtree_nodes_decompose_by_size_bits() {
        assert_eq!(
            Subtree::new(8, 13).nodes(),
            vec![NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        assert_eq!(
            Subtree::new(0, 7).nodes(),
            vec![NodeId::new(2, 0), NodeId::new(1, 2), NodeId::new(0, 6)]
        );
        assert!(Subtree::new(2, 5).nodes().is_empty());
    }

    #[test]
    fn memory_tree_roots_match_the_rfc_example() {
        // Roots of the RFC 6962 reference tree over these eight entries.
        let entries: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let mut t = MemoryTree::new();
        for e in entries {
            t.append(leaf_hash(e));
        }
        assert_eq!(
            crate::hash::hash_to_hex(&t.root_at(7).unwrap_or_default()),
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"
        );
        assert_eq!(
            crate::hash::hash_to_hex(&t.root()),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
        assert_eq!(t.root_at(0), Some(EMPTY_ROOT));
        assert_eq!(t.root_at(9), None);
        assert_eq!(t.hash_at(3, 1), Err(MissingNode(NodeId::new(3, 1))));
    }
}
