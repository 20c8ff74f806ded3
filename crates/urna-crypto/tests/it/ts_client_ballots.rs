//! Ballots made by the TypeScript browser client (`web/src/crypto`) verify
//! here, with the Rust code: strict decoding, every proof and the credential
//! signature (spec §7.4), the Benaloh audit (§7.5) and the §R7 audit payload
//! layout. The fixture is written by `web/scripts/ts-ballots.ts`;
//! `web/ci.sh` regenerates it with the current client and points
//! `URNA_TS_BALLOTS` at the fresh file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::Value;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, BallotSecrets, ContestShape};
use urna_crypto::batch::verify_one;
use urna_crypto::elgamal::{PublicKey, SecretScalar};
use urna_crypto::encoding::{Element, decode_scalar};

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}
fn b32(v: &Value) -> [u8; 32] {
    bytes(v).try_into().unwrap()
}

#[test]
fn ballots_from_the_typescript_client_verify() {
    let path = std::env::var_os("URNA_TS_BALLOTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/fixtures/ts-ballots.json"),
        PathBuf::from,
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let e = &v["election"];
    let key = Element::decode(&b32(&e["joint_key"])).unwrap();
    let f = Fingerprint::election(&b32(&e["manifest_hash"]), &key);
    assert_eq!(f, Fingerprint(b32(&e["fingerprint"])), "fingerprint");
    let pk = PublicKey::new(key).unwrap();
    let mut rng = rand::rng();
    let ballots = v["ballots"].as_array().unwrap();
    assert!(!ballots.is_empty());
    for (i, b) in ballots.iter().enumerate() {
        let raw = bytes(&b["ballot"]);
        let shapes: Vec<ContestShape> = b["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| ContestShape {
                options: s["options"].as_u64().unwrap() as u16,
                option_max: s["option_max"].as_u64().unwrap() as u32,
                min: s["min"].as_u64().unwrap() as u32,
                max: s["max"].as_u64().unwrap() as u32,
            })
            .collect();
        let ballot = Ballot::decode(&raw).unwrap();
        assert_eq!(ballot.encode().unwrap(), raw, "ballot {i} re-encodes");
        assert_eq!(ballot.header, bytes(&v["header"]));
        verify_one(
            &ballot
                .statement(&key, &f, &shapes)
                .with_signed_bytes(&raw[..raw.len() - 64]),
            Some(&key),
            &mut rng,
        )
        .unwrap_or_else(|err| panic!("ballot {i}: {err}"));
        // A flipped bit anywhere in the last proof or signature is refused.
        let mut bad = raw.clone();
        let at = bad.len() - 100;
        bad[at] ^= 1;
        let refused = Ballot::decode(&bad).map(|bb| {
            verify_one(
                &bb.statement(&key, &f, &shapes)
                    .with_signed_bytes(&bad[..bad.len() - 64]),
                Some(&key),
                &mut rng,
            )
        });
        assert!(
            !matches!(refused, Ok(Ok(()))),
            "ballot {i} with a flipped bit"
        );
        // The audit secrets re-encrypt to the ballot.
        let secrets = BallotSecrets {
            selections: b["selections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    a.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap())
                        .collect()
                })
                .collect(),
            nonces: b["nonces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    a.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| SecretScalar::new(decode_scalar(&b32(x)).unwrap()))
                        .collect()
                })
                .collect(),
        };
        ballot.check_audit(&pk, &secrets).unwrap();
        // The §R7 payload: version, u32 length, ballot, then value ‖ nonce per option.
        let payload = bytes(&b["audit_payload"]);
        assert_eq!(payload[0], 1);
        assert_eq!(
            u32::from_be_bytes(payload[1..5].try_into().unwrap()) as usize,
            raw.len()
        );
        assert_eq!(&payload[5..5 + raw.len()], &raw[..]);
        let options: usize = shapes.iter().map(|s| usize::from(s.options)).sum();
        assert_eq!(payload.len(), 5 + raw.len() + 33 * options);
    }
}
