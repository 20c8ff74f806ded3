//! Set-up shared by the server's API tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_crypto::threshold::KeyShare;
use urna_election::Manifest;
use urna_election::record::CeremonyMessage;

/// An honest 2-of-3 key ceremony for `m`: every round 1, then every
/// round 2 message goes through `post` as the body of
/// `POST /election/ceremony` (`post` checks the answer); no complaints.
/// The caller then finishes the ceremony. Returns the trustees' shares.
pub async fn honest_ceremony<F, Fut>(m: &Manifest, mut post: F) -> BTreeMap<u16, KeyShare>
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut rng = rand::rng();
    let params = CeremonyParams::new(3, 2).unwrap();
    let body = |msg: CeremonyMessage| json!({ "message": hex::encode(msg.encode()) });
    let (mut r1s, mut msgs1) = (Vec::new(), Vec::new());
    for i in 1..=3 {
        let tr = Trustee::new(params, i, m.hash(), KeyPair::generate(&mut rng)).unwrap();
        let (r1, msg) = tr.start(&mut rng);
        post(body(CeremonyMessage::Round1(msg.clone()))).await;
        r1s.push(r1);
        msgs1.push(msg);
    }
    let (mut r2s, mut msgs2) = (Vec::new(), Vec::new());
    for r1 in r1s {
        let (r2, msg) = r1.deal(&msgs1, &mut rng).unwrap();
        post(body(CeremonyMessage::Round2(msg.clone()))).await;
        r2s.push(r2);
        msgs2.push(msg);
    }
    let mut shares = BTreeMap::new();
    for r2 in r2s {
        let (r3, complaints) = r2.receive(&msgs2, &mut rng);
        assert!(complaints.is_empty());
        let q = r3.finish(&[], &mut rng).unwrap();
        shares.insert(q.key_share().index(), q.key_share().clone());
    }
    shares
}
