//! External test vectors.
//!
//! * Merkle tree: leaves, node hashes, roots and reference proofs from
//!   transparency-dev/merkle `testonly/constants.go` and
//!   `testonly/reference_test.go` (RFC 6962 hashing, Apache-2.0), used as
//!   test data only.
//! * Signed notes: keys and notes from golang.org/x/mod `sumdb/note/note_test.go`
//!   (BSD-3-Clause), used as test data only.
//! * Checkpoint and cosignature line: the example of C2SP tlog-checkpoint
//!   and tlog-cosignature.

// clippy.toml allows unwrap in #[test] fns; this extends it to the helpers here.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use urna_board::*;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// transparency-dev/merkle testonly.LeafInputs().
fn leaf_inputs() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

/// transparency-dev/merkle testonly.RootHashes(), by tree size 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// transparency-dev/merkle testonly.NodeHashes(): [level][index].
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

fn tree() -> MemoryTree {
    MemoryTree::from_leaves(leaf_inputs().iter().map(|l| leaf_hash(l))).unwrap()
}

#[test]
fn roots_of_every_prefix() {
    let leaves: Vec<Hash> = leaf_inputs().iter().map(|l| leaf_hash(l)).collect();
    let t = tree();
    let mut f = Frontier::new();
    for (size, want) in ROOTS.iter().enumerate() {
        let want = h(want);
        assert_eq!(root_of(&leaves[..size]), want, "root_of size {size}");
        assert_eq!(t.root_at(size as u64).unwrap(), want, "root_at size {size}");
        assert_eq!(f.root(), want, "frontier size {size}");
        if size < leaves.len() {
            f.push(leaves[size]).unwrap();
        }
    }
}

#[test]
fn every_perfect_subtree_hash() {
    let t = tree();
    for (level, row) in NODES.iter().enumerate() {
        for (index, want) in row.iter().enumerate() {
            let id = SubtreeId::new(level as u8, index as u64);
            assert_eq!(t.perfect(id), Some(h(want)), "{id}");
        }
    }
}

#[test]
fn reference_inclusion_proofs() {
    // testonly.TestRefInclusionProof
    let cases: &[(u64, u64, &[&str])] = &[
        (0, 1, &[]),
        (
            0,
            2,
            &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        ),
        (
            1,
            2,
            &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let t = tree();
    let leaves = leaf_inputs();
    for &(index, size, want) in cases {
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        let got = t.inclusion_proof(index, size).unwrap();
        assert_eq!(got, want, "inclusion {index} in {size}");
        let root = h(ROOTS[size as usize]);
        verify_inclusion(
            &leaf_hash(&leaves[index as usize]),
            index,
            size,
            &got,
            &root,
        )
        .unwrap();
    }
}

#[test]
fn reference_consistency_proofs() {
    // testonly.TestRefConsistencyProof
    let cases: &[(u64, u64, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    let t = tree();
    for &(old, new, want) in cases {
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        let got = t.consistency_proof(old, new).unwrap();
        assert_eq!(got, want, "consistency {old} -> {new}");
        verify_consistency(
            old,
            new,
            &got,
            &h(ROOTS[old as usize]),
            &h(ROOTS[new as usize]),
        )
        .unwrap();
    }
}

// ---- golang.org/x/mod/sumdb/note vectors ----

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter_key() -> BoardSigningKey {
    // Go's private key string is "PRIVATE+KEY+PeterNeumann+c74f20a3+" followed
    // by base64(0x01 || Ed25519 seed).
    let raw = B64.decode(PETER_SKEY_B64).unwrap();
    assert_eq!(raw[0], 0x01);
    BoardSigningKey::from_secret_bytes("PeterNeumann", raw[1..].try_into().unwrap()).unwrap()
}

#[test]
fn go_note_key_derivation_and_signature_byte_for_byte() {
    let key = peter_key();
    assert_eq!(key.verifier_key().to_string(), PETER_VKEY);
    let sig = key.sign_text(TEXT).unwrap();
    let note = SignedNote::new(TEXT.to_owned(), vec![sig]).unwrap();
    assert_eq!(note.to_text(), format!("{TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_note_verifier_key_round_trip_and_manglings() {
    for vkey in [PETER_VKEY, ENOCH_VKEY] {
        assert_eq!(VerifierKey::parse(vkey).unwrap().to_string(), vkey);
    }
    // note_test.go TestNewVerifier: every proper substring and every
    // single-byte increment must be rejected.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if (i, j) != (0, b.len()) {
                let s = String::from_utf8_lossy(&b[i..j]);
                assert!(VerifierKey::parse(&s).is_err(), "{s:?} accepted");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(VerifierKey::parse(&s).is_err(), "{s:?} accepted");
    }
    // Wrong key length with adjusted key hash; unknown algorithm with adjusted hash.
    // (Its base64 also has non-zero padding bits, so it fails as non-canonical first.)
    assert!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnsupportedSignatureType(0x65))
    );
    // Uppercase hex is another spelling of the same key: not canonical.
    assert_eq!(
        VerifierKey::parse(&PETER_VKEY.replace("c74f20a3", "C74F20A3")),
        Err(KeyError::MalformedVerifierKey)
    );
}

#[test]
fn go_note_open() {
    let peter = VerifierKey::parse(PETER_VKEY).unwrap();
    let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let note = SignedNote::parse(msg.as_bytes()).unwrap();
    assert_eq!(note.text(), TEXT);
    assert_eq!(note.to_text(), msg);

    // One trusted: the other signature is kept but ignored.
    let v = note.verify(std::slice::from_ref(&peter)).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].name, "PeterNeumann");
    assert_eq!(v[0].key_id, [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(note.signatures().len(), 2);

    let v = note.verify(&[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(v.iter().map(|s| s.key_index).collect::<Vec<_>>(), [0, 1]);

    assert_eq!(note.verify(&[]), Err(NoteError::NoTrustedSignature));
    assert!(matches!(
        note.verify(&[enoch.clone(), peter.clone(), enoch.clone()]),
        Err(NoteError::AmbiguousKey { .. })
    ));

    // 101 signatures.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        SignedNote::parse(many.as_bytes()),
        Err(NoteError::TooManySignatures)
    );
    // 100 duplicates of one signature are fine and count once.
    let hundred = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
    let note = SignedNote::parse(hundred.as_bytes()).unwrap();
    assert_eq!(note.verify(std::slice::from_ref(&peter)).unwrap().len(), 1);

    // A corrupted trusted signature rejects the whole note.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let note = SignedNote::parse(bad.as_bytes()).unwrap();
    assert!(matches!(
        note.verify(std::slice::from_ref(&peter)),
        Err(NoteError::InvalidSignature { .. })
    ));

    // Malformed encodings from note_test.go TestOpen.
    let bad_msgs = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for m in &bad_msgs {
        assert!(SignedNote::parse(m.as_bytes()).is_err(), "{m:?} accepted");
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(SignedNote::parse(&invalid_utf8), Err(NoteError::NotUtf8));
}

// ---- C2SP examples ----

#[test]
fn c2sp_checkpoint_example() {
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let cp = Checkpoint::parse(body).unwrap();
    assert_eq!(cp.origin(), "example.com/behind-the-sofa");
    assert_eq!(cp.size(), 20852163);
    assert_eq!(cp.to_text(), body);

    // The tlog-cosignature example note: the witness line carries key ID,
    // then the 8-byte big-endian timestamp 1679315147 (the spec's example
    // message says "time 1679315147"), then a 64-byte signature.
    let note = format!(
        "{body}\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
         — witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    );
    let note = SignedNote::parse(note.as_bytes()).unwrap();
    let w = &note.signatures()[1];
    assert_eq!(w.name(), "witness.example.com/w1");
    assert_eq!(w.signature().len(), 72);
    assert_eq!(
        u64::from_be_bytes(w.signature()[..8].try_into().unwrap()),
        1679315147
    );
    assert_eq!(
        String::from_utf8(cosignature_message(note.text(), 1679315147)).unwrap(),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
         CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}
