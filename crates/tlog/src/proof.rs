//! Inclusion and consistency proofs: which hashes they hold, generating them from stored node
//! hashes, and verifying them.
//!
//! Generation works in two steps so that callers can see, and batch, what is needed:
//! the `*_subtrees` functions list the subtrees whose hashes make up a proof (following the
//! recursive definitions of RFC 9162 §2.1.3.1 and §2.1.4.1, generalised to any subtree by
//! draft-ietf-plants-merkle-tree-certs §4.3–4.4); each subtree hash is then folded from the
//! complete nodes that [`Subtree::nodes`] names, read from a [`HashReader`] in one batch. Because
//! only complete nodes are read, a proof for any tree size, including sizes whose right edge is
//! not a complete node, comes from the same stored hashes.
//!
//! Verification follows the step-by-step algorithms of RFC 9162 §2.1.3.2 (inclusion) and
//! §2.1.4.2 (consistency), and of the draft for subtree inclusion and subtree consistency, with
//! an error saying which check failed.

use crate::hash::{node_hash, Hash, EMPTY_ROOT};
use crate::tree::{fold_nodes, HashReader, NodeId, Subtree};

/// A proof asked for arguments that describe no proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRequestError {
    /// The leaf is not in the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index asked for.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The old tree is bigger than the new one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    OldSizeAfterNew {
        /// Older tree size.
        old: u64,
        /// Newer tree size.
        new: u64,
    },
    /// A proof from the empty tree would prove nothing, and verifiers refuse it.
    #[error("no consistency proof from the empty tree to size {new}")]
    EmptyOldTree {
        /// Newer tree size.
        new: u64,
    },
    /// The range is not a subtree ([`Subtree::is_valid`]).
    #[error("{0} is not a subtree")]
    InvalidSubtree(Subtree),
    /// The subtree reaches past the end of the tree.
    #[error("subtree {subtree} reaches past tree size {size}")]
    SubtreeBeyondTree {
        /// The subtree.
        subtree: Subtree,
        /// Tree size.
        size: u64,
    },
}

/// A proof could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E: std::error::Error + 'static> {
    /// The arguments describe no proof.
    #[error(transparent)]
    Request(#[from] ProofRequestError),
    /// The store could not supply a node hash.
    #[error("reading stored node hashes")]
    Read(#[source] E),
}

/// The subtrees whose hashes form the inclusion proof for leaf `index` in a tree of `size`
/// (RFC 9162 §2.1.3.1 `PATH`), bottom-up, the order the proof lists them.
pub fn inclusion_proof_subtrees(index: u64, size: u64) -> Result<Vec<Subtree>, ProofRequestError> {
    if index >= size {
        return Err(ProofRequestError::IndexOutOfRange { index, size });
    }
    // PATH(m, D[n]) is the subtree consistency proof of [m, m+1).
    Ok(subtree_proof_subtrees(index, index + 1, size))
}

/// The subtrees whose hashes form the inclusion proof of leaf `index` in `subtree`
/// (draft-ietf-plants-merkle-tree-certs §4.3): RFC 9162 `PATH` over the subtree's own leaves.
pub fn subtree_inclusion_proof_subtrees(
    index: u64,
    subtree: Subtree,
) -> Result<Vec<Subtree>, ProofRequestError> {
    if !subtree.is_valid() {
        return Err(ProofRequestError::InvalidSubtree(subtree));
    }
    if index < subtree.start || index >= subtree.end {
        return Err(ProofRequestError::IndexOutOfRange {
            index,
            size: subtree.end,
        });
    }
    // The subtree's start is a multiple of a power of two at least its size, so shifting a
    // subtree of [0, size) by it gives a subtree again, and no sum overflows past `end`.
    let local = inclusion_proof_subtrees(index - subtree.start, subtree.size())?;
    Ok(local
        .into_iter()
        .map(|s| Subtree::new(s.start + subtree.start, s.end + subtree.start))
        .collect())
}

/// The subtrees whose hashes form the consistency proof from `old` to `new`
/// (RFC 9162 §2.1.4.1 `PROOF`), in proof order. Empty when the sizes are equal.
pub fn consistency_proof_subtrees(old: u64, new: u64) -> Result<Vec<Subtree>, ProofRequestError> {
    if old > new {
        return Err(ProofRequestError::OldSizeAfterNew { old, new });
    }
    if old == 0 && new > 0 {
        return Err(ProofRequestError::EmptyOldTree { new });
    }
    // PROOF(m, D[n]) is the subtree consistency proof of [0, m).
    Ok(subtree_proof_subtrees(0, old, new))
}

/// The subtrees whose hashes form the subtree consistency proof of `subtree` in a tree of
/// `size` (draft-ietf-plants-merkle-tree-certs §4.4.1 `SUBTREE_PROOF`), in proof order.
pub fn subtree_consistency_proof_subtrees(
    subtree: Subtree,
    size: u64,
) -> Result<Vec<Subtree>, ProofRequestError> {
    if !subtree.is_valid() {
        return Err(ProofRequestError::InvalidSubtree(subtree));
    }
    if subtree.end > size {
        return Err(ProofRequestError::SubtreeBeyondTree { subtree, size });
    }
    Ok(subtree_proof_subtrees(subtree.start, subtree.end, size))
}

/// `SUBTREE_PROOF(start, end, D_size)` for a valid subtree with `end <= size`.
fn subtree_proof_subtrees(start: u64, end: u64, size: u64) -> Vec<Subtree> {
    let mut out = Vec::new();
    if start < end {
        subproof(start, end, 0, size, true, &mut out);
    }
    out
}

/// `SUBTREE_SUBPROOF(start, end, D[lo:lo+n], known)` in absolute leaf positions. `known` says
/// whether the verifier already holds the hash of `[start, end)`, so it can be left out when the
/// recursion reaches it as a whole node. The depth is at most 64, one level per split.
fn subproof(start: u64, end: u64, lo: u64, n: u64, known: bool, out: &mut Vec<Subtree>) {
    if start == lo && end == lo + n {
        if !known {
            out.push(Subtree::new(lo, lo + n));
        }
        return;
    }
    // A one-leaf tree always equals the non-empty subtree inside it, so here n > 1; the guard
    // only keeps a broken caller from underflowing.
    if n <= 1 {
        return;
    }
    // k is the largest power of two smaller than n.
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    let mid = lo + k;
    if end <= mid {
        subproof(start, end, lo, k, known, out);
        out.push(Subtree::new(mid, lo + n));
    } else if start >= mid {
        subproof(start, end, mid, n - k, known, out);
        out.push(Subtree::new(lo, mid));
    } else {
        // start < mid < end, which for a valid subtree means start == lo: its left part is the
        // complete node [lo, mid), and only its right part is still to be proven.
        subproof(mid, end, mid, n - k, false, out);
        out.push(Subtree::new(lo, mid));
    }
}

/// Reads the hashes of `subtrees` from `reader` in one batch and folds each into its hash.
pub fn read_subtree_hashes<R: HashReader>(
    reader: &R,
    subtrees: &[Subtree],
) -> Result<Vec<Hash>, R::Error> {
    let per: Vec<Vec<NodeId>> = subtrees.iter().map(Subtree::nodes).collect();
    let all: Vec<NodeId> = per.iter().flatten().copied().collect();
    let hashes = reader.hashes_at(&all)?;
    let mut out = Vec::with_capacity(per.len());
    let mut rest = hashes.as_slice();
    for nodes in &per {
        // A reader that returns fewer hashes than asked is wrong; fold what is there rather
        // than panic, and the proof will fail to verify.
        let take = nodes.len().min(rest.len());
        let (these, tail) = rest.split_at(take);
        out.push(fold_nodes(these));
        rest = tail;
    }
    Ok(out)
}

/// The inclusion proof for leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<R: HashReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let subtrees = inclusion_proof_subtrees(index, size)?;
    read_subtree_hashes(reader, &subtrees).map_err(ProveError::Read)
}

/// The inclusion proof of leaf `index` in `subtree`, whose leaves must all be in the store.
pub fn subtree_inclusion_proof<R: HashReader>(
    reader: &R,
    index: u64,
    subtree: Subtree,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let subtrees = subtree_inclusion_proof_subtrees(index, subtree)?;
    read_subtree_hashes(reader, &subtrees).map_err(ProveError::Read)
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
pub fn consistency_proof<R: HashReader>(
    reader: &R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let subtrees = consistency_proof_subtrees(old, new)?;
    read_subtree_hashes(reader, &subtrees).map_err(ProveError::Read)
}

/// The proof that `subtree` is part of the tree of `size` leaves.
pub fn subtree_consistency_proof<R: HashReader>(
    reader: &R,
    subtree: Subtree,
    size: u64,
) -> Result<Vec<Hash>, ProveError<R::Error>> {
    let subtrees = subtree_consistency_proof_subtrees(subtree, size)?;
    read_subtree_hashes(reader, &subtrees).map_err(ProveError::Read)
}

/// Which root a mismatch is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The root of the tree (or subtree) the proof starts from.
    Old,
    /// The root of the tree the proof leads to.
    New,
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not in the tree or subtree.
    #[error("leaf index {index} is outside [{start}, {end})")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// First leaf of the tree or subtree (0 for a whole tree).
        start: u64,
        /// Tree size, or end of the subtree.
        end: u64,
    },
    /// The old tree is bigger than the new one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    OldSizeAfterNew {
        /// Older tree size.
        old: u64,
        /// Newer tree size.
        new: u64,
    },
    /// Consistency with the empty tree proves nothing; RFC 9162 requires `0 < first`.
    #[error("consistency from the empty tree is not verified")]
    EmptyOldTree,
    /// The range is not a subtree.
    #[error("{0} is not a subtree")]
    InvalidSubtree(Subtree),
    /// The subtree reaches past the end of the tree.
    #[error("subtree {subtree} reaches past tree size {size}")]
    SubtreeBeyondTree {
        /// The subtree.
        subtree: Subtree,
        /// Tree size.
        size: u64,
    },
    /// The proof has more hashes than the tree shape allows.
    #[error("proof has {len} hashes, more than the tree shape uses")]
    ProofTooLong {
        /// Number of hashes in the proof.
        len: usize,
    },
    /// The proof has fewer hashes than the tree shape needs (including none at all).
    #[error("proof has {len} hashes, fewer than the tree shape needs")]
    ProofTooShort {
        /// Number of hashes in the proof.
        len: usize,
    },
    /// The proof must be empty here (equal sizes, or an empty subtree) and is not.
    #[error("proof must be empty, has {len} hashes")]
    ProofNotEmpty {
        /// Number of hashes in the proof.
        len: usize,
    },
    /// The hash recomputed from the proof differs from the one given.
    #[error("{which:?} root mismatch: proof gives {}, expected {}", crate::hash::hash_to_hex(.computed), crate::hash::hash_to_hex(.expected))]
    RootMismatch {
        /// Which root.
        which: Which,
        /// What the proof leads to.
        computed: Hash,
        /// What the caller expected.
        expected: Hash,
    },
}

fn check_root(which: Which, computed: Hash, expected: &Hash) -> Result<(), VerifyError> {
    if computed == *expected {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            which,
            computed,
            expected: *expected,
        })
    }
}

/// Evaluates an inclusion proof: the root a tree of `size` leaves must have if `leaf_hash` is at
/// `index` (RFC 9162 §2.1.3.2, steps 1–4 and the `sn` check of step 5).
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    // 1. leaf_index must be below tree_size.
    if index >= size {
        return Err(VerifyError::IndexOutOfRange {
            index,
            start: 0,
            end: size,
        });
    }
    // 2. fn is the leaf's position, sn the last leaf's; both walk up the tree together.
    let (mut fn_, mut sn) = (index, size - 1);
    // 3.
    let mut r = *leaf_hash;
    // 4.
    for p in proof {
        // a. The path already reached the root: extra hashes.
        if sn == 0 {
            return Err(VerifyError::ProofTooLong { len: proof.len() });
        }
        // b. A right child, or the last node of its level (whose sibling is on the left).
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            // Levels where the node has no right sibling (the right edge) take no proof hash.
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. (first half) All levels up to the root consumed a hash.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort { len: proof.len() });
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
///
/// `size` and `root` must come together from one verified checkpoint: the proof does not
/// authenticate the size by itself. Two sizes can give a proof the same shape (index 0 in trees
/// of 3 and 4 leaves), and then the same proof leads to the same root for both; only one of them
/// is the real size for that root.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let r = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    // 5. (second half)
    check_root(Which::New, r, root)
}

/// Verifies that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// As with [`verify_inclusion`], each size must come with its root from a verified checkpoint.
///
/// RFC 9162 defines the check for `0 < old_size < new_size`. For equal sizes the proof must be
/// empty and the roots equal (and, for size 0, the empty-tree hash). An old size of 0 with a
/// larger new size is refused: the empty tree is a prefix of everything, so such a check would
/// only hide a caller's mistake.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::OldSizeAfterNew {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(VerifyError::ProofNotEmpty { len: proof.len() });
        }
        if old_size == 0 {
            check_root(Which::Old, EMPTY_ROOT, old_root)?;
        }
        return check_root(Which::New, *old_root, new_root);
    }
    if old_size == 0 {
        return Err(VerifyError::EmptyOldTree);
    }
    // 1.
    if proof.is_empty() {
        return Err(VerifyError::ProofTooShort { len: 0 });
    }
    // 2. When the old tree is a perfect tree its root is a node of the new tree, and the proof
    // leaves it out because the verifier has it.
    let seed_known = old_size.is_power_of_two();
    let (first, rest) = if seed_known {
        (old_root, proof)
    } else {
        // Non-empty, checked above.
        let Some((first, rest)) = proof.split_first() else {
            return Err(VerifyError::ProofTooShort { len: 0 });
        };
        (first, rest)
    };
    // 3.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    // 4. Skip the levels where the old tree's last node is a right child: the first hash is
    // the root of the largest perfect subtree ending at the old tree's last leaf.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (*first, *first);
    // 6.
    for c in rest {
        // a.
        if sn == 0 {
            return Err(VerifyError::ProofTooLong { len: proof.len() });
        }
        // b. Left siblings are shared by both trees; right siblings only exist in the new one.
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort { len: proof.len() });
    }
    check_root(Which::Old, fr, old_root)?;
    check_root(Which::New, sr, new_root)
}

/// Evaluates a subtree inclusion proof: the hash subtree `[start, end)` must have if
/// `leaf_hash` is at `index` (draft-ietf-plants-merkle-tree-certs §4.3.2). This is RFC 9162's
/// algorithm on the subtree's own leaves.
pub fn root_from_subtree_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    subtree: Subtree,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if !subtree.is_valid() {
        return Err(VerifyError::InvalidSubtree(subtree));
    }
    if index < subtree.start || index >= subtree.end {
        return Err(VerifyError::IndexOutOfRange {
            index,
            start: subtree.start,
            end: subtree.end,
        });
    }
    root_from_inclusion_proof(
        leaf_hash,
        index - subtree.start,
        subtree.end - subtree.start,
        proof,
    )
    .map_err(|e| match e {
        VerifyError::IndexOutOfRange { .. } => VerifyError::IndexOutOfRange {
            index,
            start: subtree.start,
            end: subtree.end,
        },
        other => other,
    })
}

/// Verifies that `leaf_hash` is at `index` in `subtree`, whose hash is `subtree_hash`.
pub fn verify_subtree_inclusion(
    leaf_hash: &Hash,
    index: u64,
    subtree: Subtree,
    proof: &[Hash],
    subtree_hash: &Hash,
) -> Result<(), VerifyError> {
    let r = root_from_subtree_inclusion_proof(leaf_hash, index, subtree, proof)?;
    check_root(Which::Old, r, subtree_hash)
}

/// Verifies that `subtree`, with hash `subtree_hash`, is part of the tree of `size` leaves with
/// root `root` (draft-ietf-plants-merkle-tree-certs §4.4.3). With `subtree.start == 0` this is
/// a consistency proof; with a one-leaf subtree, an inclusion proof.
pub fn verify_subtree_consistency(
    subtree: Subtree,
    size: u64,
    proof: &[Hash],
    subtree_hash: &Hash,
    root: &Hash,
) -> Result<(), VerifyError> {
    // 1.
    if !subtree.is_valid() {
        return Err(VerifyError::InvalidSubtree(subtree));
    }
    if subtree.end > size {
        return Err(VerifyError::SubtreeBeyondTree { subtree, size });
    }
    // 2. The empty subtree is part of every tree; only its hash can be wrong.
    if subtree.start == subtree.end {
        if !proof.is_empty() {
            return Err(VerifyError::ProofNotEmpty { len: proof.len() });
        }
        return check_root(Which::Old, EMPTY_ROOT, subtree_hash);
    }
    // 3. fn and sn are the subtree's first and last leaves, tn the tree's last leaf.
    let (mut fn_, mut sn, mut tn) = (subtree.start, subtree.end - 1, size - 1);
    // 4–5. Climb to the lowest node of the tree that the proof starts from: the subtree's own
    // root when it is a node of the tree, or else the largest node ending at its last leaf.
    if sn == tn {
        while fn_ != sn {
            fn_ >>= 1;
            sn >>= 1;
            tn >>= 1;
        }
    } else {
        while fn_ != sn && sn & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
            tn >>= 1;
        }
    }
    // 6–7.
    let (seed, rest) = if fn_ == sn {
        (subtree_hash, proof)
    } else {
        let Some((first, rest)) = proof.split_first() else {
            return Err(VerifyError::ProofTooShort { len: 0 });
        };
        (first, rest)
    };
    let (mut fr, mut sr) = (*seed, *seed);
    // 8.
    for c in rest {
        if tn == 0 {
            return Err(VerifyError::ProofTooLong { len: proof.len() });
        }
        if sn & 1 == 1 || sn == tn {
            // Below the subtree's root, left siblings belong to the subtree too.
            if fn_ < sn {
                fr = node_hash(c, &fr);
            }
            sr = node_hash(c, &sr);
            // sn == tn > 0 here unless sn is odd, so this stops.
            while sn & 1 == 0 && sn != 0 {
                fn_ >>= 1;
                sn >>= 1;
                tn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
        tn >>= 1;
    }
    // 9.
    if tn != 0 {
        return Err(VerifyError::ProofTooShort { len: proof.len() });
    }
    check_root(Which::Old, fr, subtree_hash)?;
    check_root(Which::New, sr, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6962_example_proof_shapes() {
        // RFC 6962 §2.1.3: in a 7-leaf tree, PATH(0) = [b, h, l], PATH(3) = [c, g, l],
        // PATH(4) = [f, j, k], PATH(6) = [i, k].
        let s = |a, b| Subtree::new(a, b);
        assert_eq!(
            inclusion_proof_subtrees(0, 7),
            Ok(vec![s(1, 2), s(2, 4), s(4, 7)])
        );
        assert_eq!(
            inclusion_proof_subtrees(3, 7),
            Ok(vec![s(2, 3), s(0, 2), s(4, 7)])
        );
        assert_eq!(
            inclusion_proof_subtrees(4, 7),
            Ok(vec![s(5, 6), s(6, 7), s(0, 4)])
        );
        assert_eq!(inclusion_proof_subtrees(6, 7), Ok(vec![s(4, 6), s(0, 4)]));
        // PROOF(3) = [c, d, g, l], PROOF(4) = [l], PROOF(6) = [i, j, k].
        assert_eq!(
            consistency_proof_subtrees(3, 7),
            Ok(vec![s(2, 3), s(3, 4), s(0, 2), s(4, 7)])
        );
        assert_eq!(consistency_proof_subtrees(4, 7), Ok(vec![s(4, 7)]));
        assert_eq!(
            consistency_proof_subtrees(6, 7),
            Ok(vec![s(4, 6), s(6, 7), s(0, 4)])
        );
    }

    #[test]
    fn draft_subtree_consistency_examples() {
        // [4, 8) in a tree of 14: MTH(D[0:4]) and MTH(D[8:14]).
        let s = |a, b| Subtree::new(a, b);
        assert_eq!(
            subtree_consistency_proof_subtrees(s(4, 8), 14),
            Ok(vec![s(0, 4), s(8, 14)])
        );
        // [8, 13) in a tree of 14: d[12], d[13], MTH(D[8:12]), MTH(D[0:8]).
        assert_eq!(
            subtree_consistency_proof_subtrees(s(8, 13), 14),
            Ok(vec![s(12, 13), s(13, 14), s(8, 12), s(0, 8)])
        );
    }

    #[test]
    fn request_errors() {
        assert_eq!(
            inclusion_proof_subtrees(3, 3),
            Err(ProofRequestError::IndexOutOfRange { index: 3, size: 3 })
        );
        assert_eq!(
            consistency_proof_subtrees(4, 3),
            Err(ProofRequestError::OldSizeAfterNew { old: 4, new: 3 })
        );
        assert_eq!(
            consistency_proof_subtrees(0, 3),
            Err(ProofRequestError::EmptyOldTree { new: 3 })
        );
        assert_eq!(consistency_proof_subtrees(0, 0), Ok(vec![]));
        assert_eq!(consistency_proof_subtrees(5, 5), Ok(vec![]));
    }
}
