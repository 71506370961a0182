//! The C2SP tlog-tiles layout: the tree served as static, cacheable files.
//!
//! A tile at level `L`, index `N` holds up to 256 consecutive hashes of tree level `8·L`: level-0
//! tiles hold leaf hashes, and each hash of a level-`L` tile is the root of a full tile of level
//! `L-1`. The seven tree levels between two tile levels are not stored: they are recomputed from
//! the tile's hashes. Tiles on the right edge of a tree are *partial* (width 1–255) and are
//! specific to a tree size. Entries are served alongside, 256 to an *entry bundle*, each entry
//! prefixed by its length as a big-endian `u16`.
//!
//! This module names tiles and their paths, says which tiles a proof needs, cuts tiles out of a
//! [`HashReader`] (the log side), and reads node hashes back out of fetched tiles
//! ([`TileHashReader`], the partner side). Fetching is the caller's business: anything that turns
//! a [`TileId`] into bytes will do. Tiles are not authenticated on their own; a proof built from
//! them and checked against a signed checkpoint's root is.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::hash::{node_hash, Hash, HASH_SIZE};
use crate::proof::{consistency_proof_subtrees, inclusion_proof_subtrees, ProofRequestError};
use crate::tree::{HashReader, NodeId, Subtree};

/// Tree levels covered by one tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;
/// Largest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;
/// Largest entry an entry bundle can carry (its length prefix is a `u16`).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Something wrong with a tile path, tile contents or an entry bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The path is not in the canonical form of the specification.
    #[error("malformed tile path {0:?}")]
    Path(String),
    /// Tile levels go from 0 to 63.
    #[error("tile level {0} is above {MAX_TILE_LEVEL}")]
    Level(u8),
    /// Widths go from 1 to 256.
    #[error("tile width {0} is not between 1 and {TILE_WIDTH}")]
    Width(u16),
    /// The tile's bytes are not `width` hashes.
    #[error("tile {tile} must be {expected} bytes, got {got}")]
    Length {
        /// The tile's path.
        tile: String,
        /// `32 · width`.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// An entry longer than a `u16` length prefix can say.
    #[error("entry of {0} bytes is longer than {MAX_ENTRY_SIZE}")]
    EntryTooLarge(usize),
    /// A bundle with no entries; empty tiles are never served.
    #[error("an entry bundle holds at least one entry")]
    EmptyBundle,
    /// A bundle with more than 256 entries.
    #[error("an entry bundle holds at most {TILE_WIDTH} entries")]
    BundleTooLarge,
    /// A bundle that ends inside a length prefix or an entry.
    #[error("entry bundle is truncated at byte {0}")]
    BundleTruncated(usize),
    /// A bundle whose entry count is not the width its path announced.
    #[error("entry bundle should hold {expected} entries, holds {got}")]
    BundleWidth {
        /// Width from the bundle's path.
        expected: u16,
        /// Entries found.
        got: usize,
    },
}

/// One tile of hashes: level, index and width (256 for a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    level: u8,
    index: u64,
    width: u16,
}

impl TileId {
    /// A tile, checking the level (0–63) and width (1–256).
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::Level(level));
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::Width(width));
        }
        Ok(TileId {
            level,
            index,
            width,
        })
    }

    /// Tile level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Index of the tile within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile holds all 256 hashes.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The tree level of the tile's hashes (`8 · level`); at least 64 for levels no 64-bit tree
    /// reaches.
    pub fn hash_level(&self) -> u32 {
        u32::from(self.level) * u32::from(TILE_HEIGHT)
    }

    /// The node whose hash is the tile's `i`-th.
    fn node(&self, i: u64) -> Option<NodeId> {
        let level = u8::try_from(self.hash_level()).ok().filter(|l| *l < 64)?;
        let index = self
            .index
            .checked_mul(u64::from(TILE_WIDTH))?
            .checked_add(i)?;
        Some(NodeId::new(level, index))
    }

    /// The nodes whose hashes the tile holds, left to right; empty for a tile beyond any tree.
    pub fn nodes(&self) -> Vec<NodeId> {
        (0..u64::from(self.width))
            .map_while(|i| self.node(i))
            .collect()
    }

    /// Size of the tile's contents in bytes.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// The path of the tile under the log's prefix: `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut p = format!("tile/{}/{}", self.level, index_path(self.index));
        push_width(&mut p, self.width);
        p
    }

    /// Parses a path made by [`TileId::path`]; only the canonical form is accepted.
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let bad = || TileError::Path(path.to_owned());
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (level, rest) = rest.split_once('/').ok_or_else(bad)?;
        if level == "entries" {
            return Err(bad());
        }
        let level = parse_decimal(level, u64::from(MAX_TILE_LEVEL)).ok_or_else(bad)?;
        let (index, width) = parse_index_and_width(rest).ok_or_else(bad)?;
        // Both bounded by the parsers above.
        TileId::new(level as u8, index, width).map_err(|_| bad())
    }

    /// Checks that `data` is this tile's size and splits it into hashes.
    pub fn hashes(&self, data: &[u8]) -> Result<Vec<Hash>, TileError> {
        if data.len() != self.byte_len() {
            return Err(TileError::Length {
                tile: self.path(),
                expected: self.byte_len(),
                got: data.len(),
            });
        }
        Ok(data
            .chunks_exact(HASH_SIZE)
            .filter_map(|c| Hash::try_from(c).ok())
            .collect())
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// One entry bundle: the entries of the level-0 tile with the same index and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryBundleId {
    index: u64,
    width: u16,
}

impl EntryBundleId {
    /// A bundle, checking the width (1–256).
    pub fn new(index: u64, width: u16) -> Result<Self, TileError> {
        if width == 0 || width > TILE_WIDTH {
            return Err(TileError::Width(width));
        }
        Ok(EntryBundleId { index, width })
    }

    /// The bundle holding entry `entry` in a tree of `size` leaves; `None` past the tree.
    pub fn for_entry(entry: u64, size: u64) -> Option<Self> {
        if entry >= size {
            return None;
        }
        let index = entry >> TILE_HEIGHT;
        let width = width_at(index, size);
        Some(EntryBundleId { index, width })
    }

    /// Index of the bundle.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of entries.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Index of the bundle's first entry (a multiple of 256; saturates past `u64::MAX`).
    pub fn first_entry(&self) -> u64 {
        self.index.saturating_mul(u64::from(TILE_WIDTH))
    }

    /// The level-0 tile holding the leaf hashes of this bundle's entries.
    pub fn leaf_tile(&self) -> TileId {
        TileId {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// The path of the bundle under the log's prefix: `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut p = format!("tile/entries/{}", index_path(self.index));
        push_width(&mut p, self.width);
        p
    }

    /// Parses a path made by [`EntryBundleId::path`]; only the canonical form is accepted.
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let bad = || TileError::Path(path.to_owned());
        let rest = path.strip_prefix("tile/entries/").ok_or_else(bad)?;
        let (index, width) = parse_index_and_width(rest).ok_or_else(bad)?;
        EntryBundleId::new(index, width).map_err(|_| bad())
    }

    /// Decodes a bundle and checks it holds exactly `width` entries.
    pub fn decode<'a>(&self, data: &'a [u8]) -> Result<Vec<&'a [u8]>, TileError> {
        let entries = decode_entry_bundle(data)?;
        if entries.len() != usize::from(self.width) {
            return Err(TileError::BundleWidth {
                expected: self.width,
                got: entries.len(),
            });
        }
        Ok(entries)
    }
}

impl fmt::Display for EntryBundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the last prefixed with
/// `x`: 1234067 becomes `x001/x234/067`. Directories and files then never share a name.
pub fn index_path(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    out
}

fn push_width(path: &mut String, width: u16) {
    if width < TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
}

/// A decimal with no sign and no leading zeros (other than `0` itself), at most `max`.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse::<u64>().ok().filter(|v| *v <= max)
}

/// Parses `<N>[.p/<W>]`, accepting only what [`index_path`] and [`push_width`] produce.
fn parse_index_and_width(s: &str) -> Option<(u64, u16)> {
    let (n_part, width) = match s.split_once(".p/") {
        Some((n, w)) => {
            let w = parse_decimal(w, u64::from(TILE_WIDTH) - 1)?;
            if w == 0 {
                return None;
            }
            (n, w as u16)
        }
        None => (s, TILE_WIDTH),
    };
    let elems: Vec<&str> = n_part.split('/').collect();
    let mut index: u64 = 0;
    for (i, e) in elems.iter().enumerate() {
        let digits = if i + 1 < elems.len() {
            e.strip_prefix('x')?
        } else {
            e
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let g: u64 = digits.parse().ok()?;
        index = index.checked_mul(1000)?.checked_add(g)?;
    }
    // Rejects redundant leading groups such as `x000/005`.
    (index_path(index) == n_part).then_some((index, width))
}

/// The width of tile `index` at a level holding `count` complete hashes.
fn width_at(index: u64, count: u64) -> u16 {
    let full = count >> TILE_HEIGHT;
    if index < full {
        TILE_WIDTH
    } else {
        // Below 256 by construction.
        (count & u64::from(TILE_WIDTH - 1)) as u16
    }
}

/// Complete hashes at tree level `level` in a tree of `size` leaves.
fn complete_at(level: u32, size: u64) -> u64 {
    size.checked_shr(level).unwrap_or(0)
}

/// The tile of the tree of `size` leaves that holds (or lets one recompute) the hash of the
/// complete node `node`; `None` if the node is not complete in that tree.
pub fn tile_for_node(node: NodeId, size: u64) -> Option<TileId> {
    if node.level >= 64 {
        return None;
    }
    let end = node
        .index
        .checked_add(1)?
        .checked_shl(u32::from(node.level))?;
    if end >> node.level != node.index + 1 || end > size {
        return None;
    }
    let tile_level = node.level / TILE_HEIGHT;
    let below = node.level % TILE_HEIGHT;
    // The node covers 2^below hashes of the tile's level; the first one places it.
    let first = node.index << below;
    let index = first >> TILE_HEIGHT;
    let count = complete_at(u32::from(tile_level) * u32::from(TILE_HEIGHT), size);
    let width = width_at(index, count);
    Some(TileId {
        level: tile_level,
        index,
        width,
    })
}

/// The tiles, sorted and without repeats, holding the given complete nodes of a tree of `size`.
/// Nodes that are not complete in that tree are skipped.
pub fn tiles_for_nodes(nodes: &[NodeId], size: u64) -> Vec<TileId> {
    let mut tiles: Vec<TileId> = nodes
        .iter()
        .filter_map(|n| tile_for_node(*n, size))
        .collect();
    tiles.sort_unstable();
    tiles.dedup();
    tiles
}

fn tiles_for_subtrees(subtrees: &[Subtree], size: u64) -> Vec<TileId> {
    let nodes: Vec<NodeId> = subtrees.iter().flat_map(Subtree::nodes).collect();
    tiles_for_nodes(&nodes, size)
}

/// The tiles to fetch to build the inclusion proof of leaf `index` in the tree of `size`.
pub fn inclusion_proof_tiles(index: u64, size: u64) -> Result<Vec<TileId>, ProofRequestError> {
    Ok(tiles_for_subtrees(
        &inclusion_proof_subtrees(index, size)?,
        size,
    ))
}

/// The tiles to fetch to build the consistency proof from `old` to `new`.
pub fn consistency_proof_tiles(old: u64, new: u64) -> Result<Vec<TileId>, ProofRequestError> {
    Ok(tiles_for_subtrees(
        &consistency_proof_subtrees(old, new)?,
        new,
    ))
}

/// The tiles to fetch to compute the root of the tree of `size` leaves (for instance to check
/// a checkpoint against the tiles, or to rebuild a [`crate::Frontier`]).
pub fn root_tiles(size: u64) -> Vec<TileId> {
    tiles_for_subtrees(&[Subtree::new(0, size)], size)
}

/// Every tile of the tree of `size` leaves, level by level, full tiles then the partial one.
pub fn tiles_for_size(size: u64) -> impl Iterator<Item = TileId> {
    (0..=MAX_TILE_LEVEL)
        .map(move |level| {
            (
                level,
                complete_at(u32::from(level) * u32::from(TILE_HEIGHT), size),
            )
        })
        .take_while(|(_, count)| *count > 0)
        .flat_map(|(level, count)| {
            let full = count >> TILE_HEIGHT;
            let partial = width_at(full, count);
            let partial_tile = (partial > 0).then_some(TileId {
                level,
                index: full,
                width: partial,
            });
            (0..full)
                .map(move |index| TileId {
                    level,
                    index,
                    width: TILE_WIDTH,
                })
                .chain(partial_tile)
        })
}

/// Cuts a tile out of stored node hashes, as a log does to serve `tile`.
pub fn tile_bytes<R: HashReader>(reader: &R, tile: &TileId) -> Result<Vec<u8>, R::Error> {
    let hashes = reader.hashes_at(&tile.nodes())?;
    Ok(hashes.concat())
}

/// Encodes entries as an entry bundle: each prefixed by its length as a big-endian `u16`.
pub fn encode_entry_bundle<'a, I>(entries: I) -> Result<Vec<u8>, TileError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut out = Vec::new();
    let mut count = 0usize;
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge(e.len()))?;
        count += 1;
        if count > usize::from(TILE_WIDTH) {
            return Err(TileError::BundleTooLarge);
        }
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    if count == 0 {
        return Err(TileError::EmptyBundle);
    }
    Ok(out)
}

/// Splits an entry bundle into its entries, refusing truncation, emptiness and more than 256.
pub fn decode_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let at = data.len() - rest.len();
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(TileError::BundleTruncated(at))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(TileError::BundleTruncated(at));
        }
        let (entry, tail) = tail.split_at(len);
        if out.len() == usize::from(TILE_WIDTH) {
            return Err(TileError::BundleTooLarge);
        }
        out.push(entry);
        rest = tail;
    }
    if out.is_empty() {
        return Err(TileError::EmptyBundle);
    }
    Ok(out)
}

/// Where tiles come from: an HTTP client, a cache, a directory. Any
/// `Fn(&TileId) -> Result<Vec<u8>, E>` is one.
pub trait TileSource {
    /// Why a tile could not be fetched.
    type Error: std::error::Error + 'static;
    /// The bytes of `tile`.
    fn fetch(&self, tile: &TileId) -> Result<Vec<u8>, Self::Error>;
}

impl<F, E> TileSource for F
where
    F: Fn(&TileId) -> Result<Vec<u8>, E>,
    E: std::error::Error + 'static,
{
    type Error = E;
    fn fetch(&self, tile: &TileId) -> Result<Vec<u8>, E> {
        self(tile)
    }
}

/// A node hash could not be read from tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileReadError<E: std::error::Error + 'static> {
    /// The node is not complete in the tree the reader was made for.
    #[error("node {node} is not complete in a tree of size {size}")]
    NotInTree {
        /// The node asked for.
        node: NodeId,
        /// The reader's tree size.
        size: u64,
    },
    /// The source failed.
    #[error("fetching {tile}")]
    Fetch {
        /// The tile's path.
        tile: String,
        /// The source's error.
        #[source]
        source: E,
    },
    /// The source returned something that is not the tile.
    #[error(transparent)]
    Tile(#[from] TileError),
}

/// Reads node hashes of the tree of a given size from its tiles, so that
/// [`crate::proof::inclusion_proof`] and friends work on a partner's side exactly as on the
/// log's. Each tile is fetched at most once per reader.
pub struct TileHashReader<S> {
    size: u64,
    source: S,
    cache: RefCell<BTreeMap<TileId, Rc<[Hash]>>>,
}

impl<S: TileSource> TileHashReader<S> {
    /// A reader for the tree of `size` leaves (the size of a verified checkpoint: partial tiles
    /// are only meaningful for sizes a checkpoint committed to).
    pub fn new(size: u64, source: S) -> Self {
        TileHashReader {
            size,
            source,
            cache: RefCell::new(BTreeMap::new()),
        }
    }

    /// The tree size this reader serves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tiles fetched so far.
    pub fn fetched(&self) -> Vec<TileId> {
        self.cache.borrow().keys().copied().collect()
    }

    fn tile(&self, tile: &TileId) -> Result<Rc<[Hash]>, TileReadError<S::Error>> {
        if let Some(h) = self.cache.borrow().get(tile) {
            return Ok(Rc::clone(h));
        }
        let data = self
            .source
            .fetch(tile)
            .map_err(|source| TileReadError::Fetch {
                tile: tile.path(),
                source,
            })?;
        let hashes: Rc<[Hash]> = tile.hashes(&data)?.into();
        self.cache.borrow_mut().insert(*tile, Rc::clone(&hashes));
        Ok(hashes)
    }
}

impl<S: TileSource> HashReader for TileHashReader<S> {
    type Error = TileReadError<S::Error>;

    fn hash_at(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        let node = NodeId::new(level, index);
        let not_in_tree = || TileReadError::NotInTree {
            node,
            size: self.size,
        };
        let tile = tile_for_node(node, self.size).ok_or_else(not_in_tree)?;
        let hashes = self.tile(&tile)?;
        // The node spans 2^below consecutive hashes of the tile, all present since the node is
        // complete in this tree; fold them pairwise up to the node.
        let below = level % TILE_HEIGHT;
        let span = 1usize << below;
        // Both below 256.
        let first = ((index << below) & u64::from(TILE_WIDTH - 1)) as usize;
        let mut row: Vec<Hash> = hashes
            .get(first..first + span)
            .ok_or_else(not_in_tree)?
            .to_vec();
        while row.len() > 1 {
            row = row
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
        }
        row.first().copied().ok_or_else(not_in_tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(5), "005");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(index_path(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }

    #[test]
    fn node_to_tile() {
        // Leaf 300 of a tree of 1000: level-0 tile 1, full.
        assert_eq!(
            tile_for_node(NodeId::new(0, 300), 1000),
            TileId::new(0, 1, 256).ok()
        );
        // Leaf 900 of a tree of 1000: the partial level-0 tile 3 of width 1000 - 768.
        assert_eq!(
            tile_for_node(NodeId::new(0, 900), 1000),
            TileId::new(0, 3, 232).ok()
        );
        // Level 8 is level-1 tile hashes.
        assert_eq!(
            tile_for_node(NodeId::new(8, 2), 1000),
            TileId::new(1, 0, 3).ok()
        );
        // Level 7 is recomputed from 128 level-0 hashes.
        assert_eq!(
            tile_for_node(NodeId::new(7, 5), 1000),
            TileId::new(0, 2, 256).ok()
        );
        assert_eq!(tile_for_node(NodeId::new(7, 7), 1000), None);
    }
}
