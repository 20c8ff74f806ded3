//! Tiles and entry bundles built from stored perfect-subtree hashes.

// clippy.toml allows unwrap in #[test] fns; this extends it to the helpers here.
#![allow(clippy::unwrap_used)]

use urna_board::*;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

#[test]
fn tiles_hold_the_c2sp_hashes() {
    // Enough leaves for a full level-1 tile and a partial level-2 tile.
    let n = 70_000u64;
    let l = leaves(n);
    let tree = MemoryTree::from_leaves(l.iter().copied()).unwrap();
    let tiles = changed_tiles(0, n);
    for tile in &tiles {
        let bytes = tile.encode(&tree).unwrap();
        assert_eq!(bytes.len(), usize::from(tile.width()) * HASH_LEN);
        let hashes = tile.decode(&bytes).unwrap();
        let ordered: Vec<Hash> = tile
            .subtrees()
            .iter()
            .map(|&id| tree.perfect(id).unwrap())
            .collect();
        assert_eq!(tile.encode_ordered(&ordered).unwrap(), bytes);
        // C2SP tlog-tiles: hash i of tile (l, n) is
        // MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]).
        let span = 256usize.pow(u32::from(tile.level()));
        for (i, h) in hashes.iter().enumerate() {
            let start = (tile.index() as usize * 256 + i) * span;
            assert_eq!(*h, root_of(&l[start..start + span]), "{tile} hash {i}");
        }
    }
    assert_eq!(tiles.len(), 274 + 2 + 1);
    // A tile that does not exist yet cannot be encoded.
    let missing = TileId::new(0, 274, 1).unwrap();
    assert!(!missing.is_within(n));
    assert!(matches!(
        missing.encode(&tree),
        Err(ProofError::MissingSubtree(_))
    ));
    assert!(tiles[0].decode(&[0; 31]).is_none());
}

#[test]
fn partial_tiles_are_prefixes_of_full_ones() {
    let l = leaves(600);
    let tree = MemoryTree::from_leaves(l.iter().copied()).unwrap();
    let full = TileId::new(0, 1, 256).unwrap().encode(&tree).unwrap();
    for w in [1u16, 17, 255] {
        let part = TileId::new(0, 1, w).unwrap();
        assert_eq!(
            part.encode(&tree).unwrap(),
            full[..usize::from(w) * HASH_LEN]
        );
    }
    // Growing from 300 to 600 rewrites tile 1 (partial 44 -> full) and adds tile 2.
    assert_eq!(
        changed_tiles(300, 600),
        [
            TileId::new(0, 1, 256).unwrap(),
            TileId::new(0, 2, 88).unwrap(),
            TileId::new(1, 0, 2).unwrap(),
        ]
    );
}

#[test]
fn entry_bundles_round_trip() {
    let entries: Vec<Entry> = (0..300u32)
        .map(|i| Entry::new(EntryKind::Ballot, &i.to_be_bytes()).unwrap())
        .collect();
    let full = BundleId::new(0, 256).unwrap();
    let bytes = full.encode(&entries[..256]).unwrap();
    assert_eq!(full.decode(&bytes).unwrap(), entries[..256]);
    // Each entry hashes to the matching level-0 tile hash.
    let tree = MemoryTree::from_leaves(entries.iter().map(Entry::leaf_hash)).unwrap();
    let tile = TileId::new(0, 0, 256).unwrap();
    let decoded = full.decode(&bytes).unwrap();
    let tile_hashes = tile.decode(&tile.encode(&tree).unwrap()).unwrap();
    for (e, h) in decoded.iter().zip(tile_hashes) {
        assert_eq!(e.leaf_hash(), h);
    }

    let part = BundleId::new(1, 44).unwrap();
    assert_eq!(part.entries(), 256..300);
    assert!(part.is_within(300) && !part.is_within(299));
    let pbytes = part.encode(&entries[256..]).unwrap();
    assert_eq!(part.decode(&pbytes).unwrap(), entries[256..]);
    assert_eq!(
        part.encode(&entries[255..]),
        Err(TileError::WrongEntryCount {
            expected: 44,
            actual: 45
        })
    );
    assert_eq!(
        part.decode(&pbytes[..pbytes.len() - 1]),
        Err(TileError::TruncatedBundle)
    );
    assert_eq!(
        part.decode(&pbytes[..pbytes.len() - 13]),
        Err(TileError::WrongEntryCount {
            expected: 44,
            actual: 43
        })
    );
    let mut bad = pbytes.clone();
    bad[2] = 9; // version byte of entry 0
    assert_eq!(
        part.decode(&bad),
        Err(TileError::Entry {
            index: 0,
            error: EntryError::UnsupportedVersion(9)
        })
    );
    assert_eq!(part.decode(&[0]), Err(TileError::TruncatedBundle));

    // The largest entry still fits the uint16 prefix.
    let big = Entry::new(EntryKind::Ballot, &vec![7; MAX_PAYLOAD_LEN]).unwrap();
    let one = BundleId::new(0, 1).unwrap();
    let b = one.encode(std::slice::from_ref(&big)).unwrap();
    assert_eq!(&b[..2], &[0xff, 0xff]);
    assert_eq!(one.decode(&b).unwrap(), [big]);
}

#[test]
fn tile_constructors_validate() {
    assert_eq!(TileId::new(8, 0, 1), Err(TileError::LevelTooHigh(8)));
    assert_eq!(TileId::new(0, 0, 0), Err(TileError::InvalidWidth(0)));
    assert_eq!(TileId::new(0, 0, 257), Err(TileError::InvalidWidth(257)));
    assert_eq!(BundleId::new(0, 0), Err(TileError::InvalidWidth(0)));
    assert!(TileId::new(0, (1 << 56) - 1, 256).is_ok());
    assert_eq!(
        TileId::new(0, 1 << 56, 256),
        Err(TileError::IndexTooLarge(1 << 56))
    );
    assert_eq!(
        parse_tile_path("tile/entries/x001/000.p/3"),
        Ok(TilePath::Entries(BundleId::new(1000, 3).unwrap()))
    );
    assert_eq!(
        parse_tile_path("tile/entries/000.p/0"),
        Err(TileError::InvalidPath("tile/entries/000.p/0".into()))
    );
}
