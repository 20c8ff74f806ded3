//! Payload round trips and strict rejects (spec/record.md §R1–§R12).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use urna_board::MAX_PAYLOAD_LEN;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::{Ciphertext, KeyPair};
use urna_crypto::encoding::Element;
use urna_crypto::threshold::KeyShare;
use urna_election::record::*;
use urna_election::{RecordError, Timestamp};

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(99)
}

/// Every proper prefix fails with `truncated`, one more byte with
/// `trailing_bytes`, and another version byte with `unknown_version`.
fn strict<T>(payload: &[u8], decode: impl Fn(&[u8]) -> Result<T, RecordError>) {
    for cut in 0..payload.len() {
        let e = decode(&payload[..cut])
            .err()
            .unwrap_or_else(|| panic!("prefix {cut} accepted"));
        assert!(
            matches!(
                e.code(),
                "truncated" | "inconsistent_chunks" | "out_of_bounds"
            ),
            "prefix {cut}: {e}"
        );
    }
    let mut longer = payload.to_vec();
    longer.push(0);
    let e = decode(&longer).err().expect("trailing byte accepted");
    assert!(
        matches!(e.code(), "trailing_bytes" | "out_of_bounds" | "truncated"),
        "{e}"
    );
    let mut v2 = payload.to_vec();
    v2[0] = 2;
    assert_eq!(
        decode(&v2).err().expect("version 2 accepted").code(),
        "unknown_version"
    );
}

fn creds(n: usize) -> Vec<Element> {
    let mut r = rng();
    let mut v: Vec<Element> = (0..n)
        .map(|_| *CredentialKey::generate(&mut r).public())
        .collect();
    v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    v
}

#[test]
fn manifest_chunks() {
    let big: Vec<u8> = (0..150_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let payloads = ManifestChunk::payloads(&big).unwrap();
    assert_eq!(payloads.len(), 3);
    assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD_LEN));
    let chunks: Vec<ManifestChunk> = payloads
        .iter()
        .map(|p| ManifestChunk::decode(p).unwrap())
        .collect();
    assert_eq!(ManifestChunk::join(&chunks).unwrap(), big);
    // Out of order or missing chunks are refused.
    let swapped = vec![chunks[1].clone(), chunks[0].clone(), chunks[2].clone()];
    assert_eq!(
        ManifestChunk::join(&swapped).unwrap_err().code(),
        "inconsistent_chunks"
    );
    assert_eq!(
        ManifestChunk::join(&chunks[..2]).unwrap_err().code(),
        "inconsistent_chunks"
    );
    // Strictness on a small one; index ≥ count is out of bounds.
    let small = ManifestChunk::payloads(b"id = 1").unwrap().remove(0);
    assert_eq!(small, [1, 0, 0, 0, 1, b'i', b'd', b' ', b'=', b' ', b'1']);
    let mut bad = small.clone();
    bad[2] = 1;
    assert_eq!(
        ManifestChunk::decode(&bad).unwrap_err().code(),
        "out_of_bounds"
    );
    let mut v2 = small.clone();
    v2[0] = 2;
    assert_eq!(
        ManifestChunk::decode(&v2).unwrap_err().code(),
        "unknown_version"
    );
    assert_eq!(
        ManifestChunk::decode(&small[..5]).unwrap_err().code(),
        "inconsistent_chunks"
    );
}

#[test]
fn credential_chunks() {
    let list = creds(5000);
    let payloads = CredentialChunk::payloads("msk-1", &list).unwrap();
    assert_eq!(payloads.len(), 3);
    let chunks: Vec<CredentialChunk> = payloads
        .iter()
        .map(|p| CredentialChunk::decode(p).unwrap())
        .collect();
    check_chunk_sequence(&chunks.iter().map(|c| c.pos).collect::<Vec<_>>()).unwrap();
    let back: Vec<Element> = chunks.into_iter().flat_map(|c| c.credentials).collect();
    assert_eq!(back, list);
    // An empty district still has one chunk.
    let empty = CredentialChunk::payloads("d", &[]).unwrap();
    assert_eq!(empty.len(), 1);
    assert!(
        CredentialChunk::decode(&empty[0])
            .unwrap()
            .credentials
            .is_empty()
    );
    let few = CredentialChunk::payloads("msk-1", &list[..3])
        .unwrap()
        .remove(0);
    strict(&few, CredentialChunk::decode);
    // Unsorted input cannot be encoded; unsorted bytes cannot be decoded.
    let mut rev = list[..3].to_vec();
    rev.reverse();
    assert!(CredentialChunk::payloads("msk-1", &rev).is_err());
    let mut swapped = few.clone();
    let start = few.len() - 96;
    let (a, b) = (
        few[start..start + 32].to_vec(),
        few[start + 32..start + 64].to_vec(),
    );
    swapped[start..start + 32].copy_from_slice(&b);
    swapped[start + 32..start + 64].copy_from_slice(&a);
    assert_eq!(
        CredentialChunk::decode(&swapped).unwrap_err().code(),
        "not_canonical_order"
    );
    // The identity is not a credential; a bad identifier is refused.
    let mut ident = few.clone();
    ident[start..start + 32].fill(0);
    assert_eq!(
        CredentialChunk::decode(&ident).unwrap_err().code(),
        "identity_element"
    );
    let mut upper = few.clone();
    upper[2] = b'M';
    assert_eq!(
        CredentialChunk::decode(&upper).unwrap_err().code(),
        "bad_identifier"
    );
    assert!(CredentialChunk::payloads("Bad Id", &list[..1]).is_err());
}

#[test]
fn markers() {
    let o = VotingOpened {
        manifest_hash: [7; 32],
        time: Timestamp::from_unix(1_593_068_400),
        credentials: 12,
    };
    let p = o.encode();
    assert_eq!(p.len(), 49);
    assert_eq!(VotingOpened::decode(&p).unwrap(), o);
    strict(&p, VotingOpened::decode);
    let c = VotingClosed {
        manifest_hash: [7; 32],
        time: Timestamp::from_unix(1_593_536_400),
        ballots: 5,
        audited: 1,
    };
    let p = c.encode();
    assert_eq!(p.len(), 57);
    assert_eq!(VotingClosed::decode(&p).unwrap(), c);
    strict(&p, VotingClosed::decode);
}

#[test]
fn ballot_header() {
    let h = BallotHeader {
        election: [3; 32],
        district: "smd-208".into(),
    };
    let b = h.encode().unwrap();
    assert_eq!(b.len(), BallotHeader::encoded_len("smd-208"));
    assert_eq!(BallotHeader::decode(&b).unwrap(), h);
    strict(&b, BallotHeader::decode);
}

#[test]
fn ceremony_messages() {
    let k = *KeyPair::generate(&mut rng()).public().element();
    let p = CeremonyMessage::JointKey(k).encode();
    assert_eq!(p.len(), 34);
    assert_eq!(
        CeremonyMessage::decode(&p).unwrap(),
        CeremonyMessage::JointKey(k)
    );
    strict(&p, CeremonyMessage::decode);
    let mut tag = p.clone();
    tag[1] = 9;
    assert_eq!(
        CeremonyMessage::decode(&tag).unwrap_err().code(),
        "unknown_tag"
    );
    let mut zero = p.clone();
    zero[2..].fill(0);
    assert_eq!(
        CeremonyMessage::decode(&zero).unwrap_err().code(),
        "identity_element"
    );
    // Round 1 from urna-crypto inside the envelope.
    let params = urna_crypto::dkg::CeremonyParams::new(3, 2).unwrap();
    let tr =
        urna_crypto::dkg::Trustee::new(params, 1, &[1; 32], KeyPair::generate(&mut rng())).unwrap();
    let (_, m1) = tr.start(&mut rng());
    let p = CeremonyMessage::Round1(m1.clone()).encode();
    assert_eq!(
        CeremonyMessage::decode(&p).unwrap(),
        CeremonyMessage::Round1(m1)
    );
    strict(&p, CeremonyMessage::decode);
}

#[test]
fn audited_ballot() {
    let mut r = rng();
    let kp = KeyPair::generate(&mut r);
    let fp = Fingerprint::election(&[1; 32], kp.public().element());
    let cred = CredentialKey::generate(&mut r);
    let shapes = [
        ContestShape::choose(2, 1, 1),
        ContestShape {
            options: 2,
            option_max: 3,
            min: 0,
            max: 4,
        },
    ];
    let (b, secrets) = Ballot::encrypt(
        kp.public(),
        &fp,
        &cred,
        b"hdr",
        &shapes,
        &[vec![0, 1], vec![3, 1]],
        &mut r,
    )
    .unwrap();
    let bytes = b.encode().unwrap();
    let p = AuditedBallot::encode(&bytes, &secrets).unwrap();
    assert_eq!(p.len(), 1 + 4 + bytes.len() + 4 * 33);
    let a = AuditedBallot::decode(&p).unwrap();
    assert_eq!(a.ballot_bytes, bytes);
    assert_eq!(a.secrets.selections, [vec![0, 1], vec![3, 1]]);
    a.ballot.check_audit(kp.public(), &a.secrets).unwrap();
    strict(&p, AuditedBallot::decode);
    // A revealed value above option_max is out of bounds; a nonce ≥ ℓ is not canonical.
    let mut over = p.clone();
    let first_value = 5 + bytes.len();
    over[first_value] = 2;
    assert_eq!(
        AuditedBallot::decode(&over).unwrap_err().code(),
        "out_of_bounds"
    );
    let mut nonce = p.clone();
    nonce[first_value + 1..first_value + 33].fill(0xff);
    assert_eq!(
        AuditedBallot::decode(&nonce).unwrap_err().code(),
        "non_canonical_scalar"
    );
}

#[test]
fn reconciliation() {
    let list: Vec<(Element, AnnulReason)> = creds(4)
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c,
                if i % 2 == 0 {
                    AnnulReason::PaperVote
                } else {
                    AnnulReason::Decision
                },
            )
        })
        .collect();
    let payloads =
        ReconciliationChunk::payloads(urna_election::PaperPolicy::EvoteAnnulled, &list).unwrap();
    let c = ReconciliationChunk::decode(&payloads[0]).unwrap();
    assert_eq!(c.annulled, list);
    assert_eq!(c.policy, urna_election::PaperPolicy::EvoteAnnulled);
    strict(&payloads[0], ReconciliationChunk::decode);
    let mut reason = payloads[0].clone();
    let last = reason.len() - 1;
    reason[last] = 7;
    assert_eq!(
        ReconciliationChunk::decode(&reason).unwrap_err().code(),
        "unknown_tag"
    );
    let mut policy = payloads[0].clone();
    policy[1] = 0;
    assert_eq!(
        ReconciliationChunk::decode(&policy).unwrap_err().code(),
        "unknown_tag"
    );
    // Many annulments are split into chunks that all fit.
    let many: Vec<(Element, AnnulReason)> = creds(3000)
        .into_iter()
        .map(|c| (c, AnnulReason::PaperVote))
        .collect();
    let p =
        ReconciliationChunk::payloads(urna_election::PaperPolicy::EvoteAnnulled, &many).unwrap();
    assert_eq!(p.len(), 2);
    let back: Vec<_> = p
        .iter()
        .flat_map(|x| ReconciliationChunk::decode(x).unwrap().annulled)
        .collect();
    assert_eq!(back, many);
}

#[test]
fn tally_and_partials() {
    let mut r = rng();
    let kp = KeyPair::generate(&mut r);
    let records: Vec<TallyRecord> = (0..700)
        .map(|i| TallyRecord {
            district: format!("d{i}"),
            contest: "list".into(),
            ballots: i,
            sums: (0..2).map(|m| kp.public().encrypt(m, &mut r).0).collect(),
        })
        .collect();
    let payloads = TallyChunk::payloads(&records).unwrap();
    assert!(payloads.len() >= 2 && payloads.iter().all(|p| p.len() <= MAX_PAYLOAD_LEN));
    let chunks: Vec<TallyChunk> = payloads
        .iter()
        .map(|p| TallyChunk::decode(p).unwrap())
        .collect();
    check_chunk_sequence(&chunks.iter().map(|c| c.pos).collect::<Vec<_>>()).unwrap();
    let back: Vec<TallyRecord> = chunks.into_iter().flat_map(|c| c.records).collect();
    assert_eq!(back, records);
    // The zero sum (no ballots) has identity α and is still encodable.
    let zero = vec![TallyRecord {
        district: "d".into(),
        contest: "c".into(),
        ballots: 0,
        sums: vec![Ciphertext::zero()],
    }];
    let p = TallyChunk::payloads(&zero).unwrap().remove(0);
    assert_eq!(TallyChunk::decode(&p).unwrap().records, zero);
    strict(&p, TallyChunk::decode);

    let fp = Fingerprint::election(&[2; 32], kp.public().element());
    let share = KeyShare::new(2, kp.secret().clone(), *kp.public().element()).unwrap();
    let items = urna_election::rules::tally_items(&records);
    let partials = share.partial_decrypt_batch(&fp, &items, &mut r);
    let payloads = PartialChunk::payloads(2, &partials).unwrap();
    assert_eq!(payloads.len(), 3); // 1400 × 131 bytes
    let back: Vec<_> = payloads
        .iter()
        .flat_map(|p| PartialChunk::decode(p).unwrap().partials)
        .collect();
    assert_eq!(back, partials);
    let one = PartialChunk::payloads(2, &partials[..2]).unwrap().remove(0);
    strict(&one, PartialChunk::decode);
    // An item of another trustee inside the chunk is refused.
    let mut other = one.clone();
    other[16..18].copy_from_slice(&3u16.to_be_bytes());
    assert_eq!(
        PartialChunk::decode(&other).unwrap_err().code(),
        "bad_trustee_index"
    );
    assert!(PartialChunk::payloads(1, &partials[..1]).is_err());
    // Labels bind district, contest and option.
    assert_eq!(tally_label("d1", "c", 1), [2, b'd', b'1', 1, b'c', 0, 1]);
}

#[test]
fn results() {
    let recs = vec![
        ResultRecord {
            scope: ResultScope::District("d1".into()),
            contest: "q".into(),
            ballots: 3,
            counts: vec![2, 1],
        },
        ResultRecord {
            scope: ResultScope::Region("r1".into()),
            contest: "q".into(),
            ballots: 3,
            counts: vec![2, 1],
        },
        ResultRecord {
            scope: ResultScope::Total,
            contest: "q".into(),
            ballots: 3,
            counts: vec![2, 1],
        },
    ];
    let p = ResultsChunk::payloads(&recs).unwrap().remove(0);
    assert_eq!(ResultsChunk::decode(&p).unwrap().records, recs);
    strict(&p, ResultsChunk::decode);
    let mut scope = p.clone();
    scope[13] = 3;
    assert_eq!(
        ResultsChunk::decode(&scope).unwrap_err().code(),
        "unknown_tag"
    );
}

#[test]
fn tracking_code_is_sha256_of_the_ballot_bytes() {
    use sha2::{Digest, Sha256};
    let code = tracking_code(b"ballot");
    assert_eq!(code, <[u8; 32]>::from(Sha256::digest(b"ballot")));
}
