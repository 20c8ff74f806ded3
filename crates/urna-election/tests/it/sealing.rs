//! Applications withdrawn before the open are left out of the sealed
//! lists (spec/record.md §R4, spec/registration.md §G4): the lists, the
//! count in `voting_opened` and the turnout's eligible voters hold only the
//! credentials that stand, and a left-out credential cannot vote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_election::record::{CeremonyMessage, CredentialChunk, VotingOpened};
use urna_election::{Election, Registration, Timestamp, ballot_header};

const MANIFEST: &str = concat!(
    r#"
id = "seal-2021"
kind = "referendum"
title = { en = "Sealing" }
"#,
    urna_testkit::calendar_and_rules!(),
    urna_testkit::region_r1!(),
    r#"
[[contests]]
id = "q"
kind = "question"
title = "Question"
min = 1
max = 1
options = [{ id = "yes", name = "Yes" }, { id = "no", name = "No" }]
"#,
);

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// The election after a real three-trustee ceremony.
fn registration(rng: &mut ChaCha20Rng) -> Election<Registration> {
    let (mut e, _) = Election::new(MANIFEST.as_bytes())
        .unwrap()
        .publish()
        .unwrap();
    let m = e.manifest().clone();
    let params = CeremonyParams::new(3, 2).unwrap();
    let mut r1s = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=3 {
        let tr = Trustee::new(params, i, m.hash(), KeyPair::generate(rng)).unwrap();
        let (r1, msg) = tr.start(rng);
        e.accept(&CeremonyMessage::Round1(msg.clone()).encode())
            .unwrap();
        r1s.push(r1);
        msgs1.push(msg);
    }
    for r1 in r1s {
        let (_, msg) = r1.deal(&msgs1, rng).unwrap();
        e.accept(&CeremonyMessage::Round2(msg).encode()).unwrap();
    }
    e.finish(rng).unwrap().0
}

#[test]
fn withdrawn_credentials_are_not_sealed() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut e = registration(&mut rng);
    let app = t("2021-09-01T12:00:00+03:00");
    let keys: Vec<CredentialKey> = (0..4).map(|_| CredentialKey::generate(&mut rng)).collect();
    for (k, d) in keys.iter().zip(["d1", "d1", "d1", "d2"]) {
        e.register(d, *k.public(), app).unwrap();
    }
    let opens = e.manifest().schedule().voting_opens;
    let gone = *keys[1].public().as_bytes();

    // Leaving out a credential never registered, or one twice, changes nothing.
    let stranger = *CredentialKey::generate(&mut rng).public().as_bytes();
    let stuck = e.open_without(opens, &[stranger]).unwrap_err();
    assert_eq!(stuck.error.code(), "not_registered");
    let stuck = stuck
        .election
        .open_without(opens, &[gone, gone])
        .unwrap_err();
    assert_eq!(stuck.error.code(), "not_registered");
    // A failed open (too early) leaves every registration in place.
    let early = Timestamp::from_unix(opens.unix() - 1);
    let stuck = stuck.election.open_without(early, &[gone]).unwrap_err();
    assert_eq!(stuck.error.code(), "too_early");
    let e = stuck.election;
    assert_eq!(e.registered(), 4);

    let keys_pub = e.keys().clone();
    let m = e.manifest().clone();
    let (mut v, out) = e.open_without(opens, &[gone]).unwrap();
    let d1 = CredentialChunk::decode(out[0].payload()).unwrap();
    let mut expected: Vec<[u8; 32]> = [&keys[0], &keys[2]]
        .iter()
        .map(|k| *k.public().as_bytes())
        .collect();
    expected.sort_unstable();
    let sealed: Vec<[u8; 32]> = d1.credentials.iter().map(|c| *c.as_bytes()).collect();
    assert_eq!((d1.district.as_str(), sealed), ("d1", expected));
    let d2 = CredentialChunk::decode(out[1].payload()).unwrap();
    assert_eq!(d2.credentials.len(), 1);
    assert_eq!(
        VotingOpened::decode(out[2].payload()).unwrap().credentials,
        3
    );
    let eligible: Vec<u64> = v.turnout().iter().map(|d| d.eligible).collect();
    assert_eq!(eligible, [2, 1]);

    // The withdrawn voter's ballot is refused; a sealed voter's is cast.
    let header = ballot_header(&m, "d1").unwrap();
    let shapes = &m.style_of("d1").unwrap().shapes;
    let ballot = |k: &CredentialKey, rng: &mut ChaCha20Rng| {
        let (b, _) = Ballot::encrypt(
            &keys_pub.key,
            &keys_pub.fingerprint,
            k,
            &header,
            shapes,
            &[vec![1, 0]],
            rng,
        )
        .unwrap();
        b.encode().unwrap()
    };
    let refused = ballot(&keys[1], &mut rng);
    let err = v.cast(refused, opens, &mut rng).unwrap_err();
    assert_eq!(err.code(), "unknown_credential");
    let ok = ballot(&keys[0], &mut rng);
    v.cast(ok, opens, &mut rng).unwrap();
}
