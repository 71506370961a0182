//! Tile paths, tile sets and proofs built from tiles (C2SP tlog-tiles).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use tlog::tile::{
    consistency_proof_tiles, decode_entry_bundle, encode_entry_bundle, inclusion_proof_tiles,
    index_path, root_tiles, tile_bytes, tiles_for_size, EntryBundleId, TileError, TileReadError,
};
use tlog::tree::root_at;
use tlog::{consistency_proof, inclusion_proof, leaf_hash, MemoryTree, TileHashReader, TileId};

#[test]
fn spec_index_encoding() {
    // "index 1234067 will be encoded as x001/x234/067"
    assert_eq!(index_path(1234067), "x001/x234/067");
    let t = TileId::new(0, 1234067, 256).expect("valid tile");
    assert_eq!(t.path(), "tile/0/x001/x234/067");
    let t = TileId::new(2, 1234067, 5).expect("valid tile");
    assert_eq!(t.path(), "tile/2/x001/x234/067.p/5");
    let b = EntryBundleId::new(1234067, 256).expect("valid bundle");
    assert_eq!(b.path(), "tile/entries/x001/x234/067");
    let b = EntryBundleId::new(7, 112).expect("valid bundle");
    assert_eq!(b.path(), "tile/entries/007.p/112");
}

#[test]
fn paths_round_trip() {
    for (level, index, width) in [
        (0, 0, 256),
        (0, 0, 1),
        (1, 999, 255),
        (1, 1000, 17),
        (63, u64::MAX, 256),
        (5, 1_000_000, 3),
    ] {
        let t = TileId::new(level, index, width).expect("valid tile");
        assert_eq!(TileId::parse_path(&t.path()), Ok(t), "{t}");
        let b = EntryBundleId::new(index, width).expect("valid bundle");
        assert_eq!(EntryBundleId::parse_path(&b.path()), Ok(b), "{b}");
    }
}

#[test]
fn non_canonical_paths_are_rejected() {
    for p in [
        "tile/0/5",
        "tile/0/0005",
        "tile/0/x000/005",
        "tile/00/005",
        "tile/64/000",
        "tile/-1/000",
        "tile/0/x1/005",
        "tile/0/001/005",
        "tile/0/005.p/0",
        "tile/0/005.p/256",
        "tile/0/005.p/05",
        "tile/0/005.p/",
        "tile/0/005/",
        "tile/0/",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/entries/000",
        "tiles/0/000",
        "/tile/0/000",
    ] {
        assert_eq!(
            TileId::parse_path(p),
            Err(TileError::Path(p.to_owned())),
            "{p}"
        );
    }
    for p in ["tile/entries/5", "tile/entries/000.p/256", "tile/0/000"] {
        assert!(EntryBundleId::parse_path(p).is_err(), "{p}");
    }
    assert_eq!(TileId::new(64, 0, 1), Err(TileError::Level(64)));
    assert_eq!(TileId::new(0, 0, 0), Err(TileError::Width(0)));
    assert_eq!(TileId::new(0, 0, 257), Err(TileError::Width(257)));
}

#[test]
fn spec_tile_sets() {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0
    // tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one
    // partial level 2 tile of width 1."
    let tiles: Vec<TileId> = tiles_for_size(70_000).collect();
    let full0 = tiles
        .iter()
        .filter(|t| t.level() == 0 && t.is_full())
        .count();
    assert_eq!(full0, 273);
    let rest: Vec<String> = tiles
        .iter()
        .filter(|t| !(t.level() == 0 && t.is_full()))
        .map(TileId::path)
        .collect();
    assert_eq!(
        rest,
        [
            "tile/0/273.p/112",
            "tile/1/000",
            "tile/1/001.p/17",
            "tile/2/000.p/1"
        ]
    );
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile
    // of width 1."
    let paths: Vec<String> = tiles_for_size(256).map(|t| t.path()).collect();
    assert_eq!(paths, ["tile/0/000", "tile/1/000.p/1"]);
    assert_eq!(tiles_for_size(0).count(), 0);
}

const BIG: u64 = 70_000;

fn big_tree() -> &'static MemoryTree {
    static TREE: OnceLock<MemoryTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut t = MemoryTree::new();
        for i in 0..BIG {
            t.append(leaf_hash(format!("entry {i}").as_bytes()));
        }
        t
    })
}

#[derive(Debug)]
struct NotServed(String);
impl std::fmt::Display for NotServed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not served for this tree size", self.0)
    }
}
impl std::error::Error for NotServed {}

/// A log serving the tiles of the tree at `size`, cut from its stored hashes; it refuses any
/// tile that does not exist at that size.
fn server(size: u64) -> impl Fn(&TileId) -> Result<Vec<u8>, NotServed> {
    let served: BTreeSet<TileId> = tiles_for_size(size).collect();
    move |t: &TileId| {
        if !served.contains(t) {
            return Err(NotServed(t.path()));
        }
        tile_bytes(big_tree(), t).map_err(|e| NotServed(e.to_string()))
    }
}

#[test]
fn proofs_from_tiles_equal_proofs_from_the_store() {
    let t = big_tree();
    let sizes = [
        1, 2, 255, 256, 257, 511, 4096, 65_535, 65_536, 65_537, 69_999, BIG,
    ];
    for &size in &sizes {
        let root = root_at(t, size).expect("stored");
        let reader = TileHashReader::new(size, server(size));
        assert_eq!(root_at(&reader, size).ok(), Some(root), "root at {size}");
        assert_eq!(reader.fetched(), root_tiles(size), "root tiles at {size}");

        for index in [0, size / 3, size / 2, size - 1] {
            let reader = TileHashReader::new(size, server(size));
            let from_tiles = inclusion_proof(&reader, index, size).expect("tiles present");
            let from_store = inclusion_proof(t, index, size).expect("stored");
            assert_eq!(from_tiles, from_store, "inclusion {index} at {size}");
            assert_eq!(
                Ok(reader.fetched()),
                inclusion_proof_tiles(index, size),
                "inclusion tiles {index} at {size}"
            );
        }
        for &old in sizes.iter().filter(|&&o| o <= size) {
            let reader = TileHashReader::new(size, server(size));
            let from_tiles = consistency_proof(&reader, old, size).expect("tiles present");
            let from_store = consistency_proof(t, old, size).expect("stored");
            assert_eq!(from_tiles, from_store, "consistency {old} to {size}");
            assert_eq!(
                Ok(reader.fetched()),
                consistency_proof_tiles(old, size),
                "consistency tiles {old} to {size}"
            );
        }
    }
}

#[test]
fn bad_tiles_are_reported() {
    let short = |_: &TileId| -> Result<Vec<u8>, NotServed> { Ok(vec![0; 31]) };
    let reader = TileHashReader::new(10, short);
    match inclusion_proof(&reader, 3, 10) {
        Err(tlog::proof::ProveError::Read(TileReadError::Tile(TileError::Length {
            expected: 320,
            got: 31,
            ..
        }))) => {}
        other => panic!("unexpected {other:?}"),
    }
    let reader = TileHashReader::new(10, server(10));
    assert!(matches!(
        tlog::HashReader::hash_at(&reader, 4, 0),
        Err(TileReadError::NotInTree { .. })
    ));
}

#[test]
fn entry_bundles() {
    let entries: Vec<Vec<u8>> = (0..256u32).map(|i| vec![i as u8; i as usize * 3]).collect();
    let bundle = encode_entry_bundle(entries.iter().map(Vec::as_slice)).expect("encodable");
    let decoded = decode_entry_bundle(&bundle).expect("decodable");
    assert_eq!(decoded.len(), 256);
    assert!(decoded
        .iter()
        .zip(&entries)
        .all(|(d, e)| *d == e.as_slice()));
    assert_eq!(&bundle[..5], &[0, 0, 0, 3, 1]);

    let id = EntryBundleId::new(0, 256).expect("valid bundle");
    assert_eq!(id.decode(&bundle).map(|d| d.len()), Ok(256));
    let partial = EntryBundleId::new(0, 5).expect("valid bundle");
    assert_eq!(
        partial.decode(&bundle),
        Err(TileError::BundleWidth {
            expected: 5,
            got: 256
        })
    );

    assert_eq!(
        decode_entry_bundle(&bundle[..bundle.len() - 1]),
        Err(TileError::BundleTruncated(bundle.len() - 767))
    );
    assert_eq!(
        decode_entry_bundle(&[0]),
        Err(TileError::BundleTruncated(0))
    );
    assert_eq!(decode_entry_bundle(&[]), Err(TileError::EmptyBundle));
    let mut too_many = bundle.clone();
    too_many.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode_entry_bundle(&too_many),
        Err(TileError::BundleTooLarge)
    );
    let big = vec![0u8; 65_536];
    assert_eq!(
        encode_entry_bundle([big.as_slice()]),
        Err(TileError::EntryTooLarge(65_536))
    );
    assert_eq!(
        encode_entry_bundle(std::iter::empty::<&[u8]>()),
        Err(TileError::EmptyBundle)
    );
    let max = vec![7u8; 65_535];
    let one = encode_entry_bundle([max.as_slice(), &[]]).expect("encodable");
    assert_eq!(decode_entry_bundle(&one), Ok(vec![max.as_slice(), &[][..]]));

    // Entries hash to the level-0 tile of the same index.
    let mut t = MemoryTree::new();
    for e in &entries {
        t.append(leaf_hash(e));
    }
    let tile = tile_bytes(&t, &id.leaf_tile()).expect("stored");
    let hashes = id.leaf_tile().hashes(&tile).expect("right size");
    assert!(decoded.iter().zip(&hashes).all(|(e, h)| leaf_hash(e) == *h));
    assert_eq!(
        EntryBundleId::for_entry(300, 1000),
        EntryBundleId::new(1, 256).ok()
    );
    assert_eq!(
        EntryBundleId::for_entry(900, 1000),
        EntryBundleId::new(3, 232).ok()
    );
    assert_eq!(EntryBundleId::for_entry(1000, 1000), None);
}
