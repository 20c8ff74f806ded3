//! Entry envelope: round trips and every malformed form.

// clippy.toml allows unwrap in #[test] fns; this extends it to the helpers here.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use urna_board::*;

fn raw(version: u8, tag: u16, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![version];
    v.extend_from_slice(&tag.to_be_bytes());
    v.extend_from_slice(&declared.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[test]
fn leaf_hash_is_pinned() {
    // SHA-256(0x00 || 01 0201 00000003 "abc"), computed independently.
    let e = Entry::new(EntryKind::Ballot, b"abc").unwrap();
    assert_eq!(
        hex::encode(e.leaf_hash()),
        "f55d14e62fd07faf38e954eb795e98c49ca03a23eb2706204ba647cd84e6c713"
    );
}

#[test]
fn every_malformed_envelope_has_its_error() {
    let ballot = EntryKind::Ballot.tag();
    let cases: Vec<(Vec<u8>, EntryError)> = vec![
        (vec![], EntryError::TruncatedHeader { len: 0 }),
        (
            vec![1, 2, 1, 0, 0, 0],
            EntryError::TruncatedHeader { len: 6 },
        ),
        (raw(0, ballot, 0, b""), EntryError::UnsupportedVersion(0)),
        (raw(2, ballot, 0, b""), EntryError::UnsupportedVersion(2)),
        (raw(1, 0x0000, 0, b""), EntryError::UnknownKind(0)),
        (raw(1, 0x0104, 0, b""), EntryError::UnknownKind(0x0104)),
        (raw(1, 0xffff, 0, b""), EntryError::UnknownKind(0xffff)),
        (
            raw(1, ballot, 5, b"abcd"),
            EntryError::TruncatedPayload {
                declared: 5,
                actual: 4,
            },
        ),
        (raw(1, ballot, 3, b"abcd"), EntryError::TrailingBytes(1)),
        (raw(1, ballot, 0, b"\0"), EntryError::TrailingBytes(1)),
        (
            raw(1, ballot, MAX_PAYLOAD_LEN as u32 + 1, b""),
            EntryError::PayloadTooLarge {
                len: MAX_PAYLOAD_LEN as u64 + 1,
            },
        ),
        (
            raw(1, ballot, u32::MAX, b""),
            EntryError::PayloadTooLarge {
                len: u64::from(u32::MAX),
            },
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(Entry::from_bytes(bytes.clone()), Err(want), "{bytes:02x?}");
    }

    let too_big = vec![0u8; MAX_PAYLOAD_LEN + 1];
    assert_eq!(
        Entry::new(EntryKind::Ballot, &too_big),
        Err(EntryError::PayloadTooLarge {
            len: MAX_PAYLOAD_LEN as u64 + 1
        })
    );
    let largest = Entry::new(EntryKind::Ballot, &too_big[1..]).unwrap();
    assert_eq!(largest.bytes().len(), MAX_ENTRY_LEN);
    assert_eq!(Entry::from_bytes(largest.bytes().to_vec()), Ok(largest));
}

proptest! {
    #[test]
    fn round_trip(kind_i in 0..EntryKind::ALL.len(), payload in proptest::collection::vec(any::<u8>(), 0..600)) {
        let kind = EntryKind::ALL[kind_i];
        let e = Entry::new(kind, &payload).unwrap();
        prop_assert_eq!(e.kind(), kind);
        prop_assert_eq!(e.payload(), &payload[..]);
        prop_assert_eq!(e.bytes().len(), ENTRY_HEADER_LEN + payload.len());
        prop_assert_eq!(e.leaf_hash(), leaf_hash(e.bytes()));
        let parsed = Entry::from_bytes(e.bytes().to_vec()).unwrap();
        prop_assert_eq!(&parsed, &e);
        prop_assert_eq!(parsed.into_bytes(), e.bytes().to_vec());
    }

    /// Arbitrary bytes either fail or parse to an entry whose bytes are exactly the input.
    #[test]
    fn parse_is_exact(bytes in proptest::collection::vec(any::<u8>(), 0..40), tag_i in 0..EntryKind::ALL.len(), valid_header: bool) {
        let mut bytes = bytes;
        if valid_header && bytes.len() >= ENTRY_HEADER_LEN {
            let len = (bytes.len() - ENTRY_HEADER_LEN) as u32;
            bytes[0] = ENTRY_VERSION;
            bytes[1..3].copy_from_slice(&EntryKind::ALL[tag_i].tag().to_be_bytes());
            bytes[3..7].copy_from_slice(&len.to_be_bytes());
        }
        match Entry::from_bytes(bytes.clone()) {
            Ok(e) => {
                prop_assert_eq!(e.bytes(), &bytes[..]);
                prop_assert_eq!(Entry::new(e.kind(), e.payload()).unwrap(), e);
            }
            Err(_) => prop_assert!(!(valid_header && bytes.len() >= ENTRY_HEADER_LEN)),
        }
    }
}
