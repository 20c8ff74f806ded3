//! Checks every case of the published test vectors in `spec/test-vectors/`
//! (spec §10): valid cases must decode, verify and reproduce exactly;
//! invalid cases must fail with the stated error kind.
//!
//! With `--features insecure-deterministic-rng` it also regenerates the
//! vectors in memory and requires them to equal the committed files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand::SeedableRng;
use serde_json::Value;
use sha2::{Digest, Sha512};

use urna_crypto::ballot::{Ballot, BallotSecrets, ContestShape, SUM_OPTION, proof_context};
use urna_crypto::batch::verify_one;
use urna_crypto::credential::Signature;
use urna_crypto::dkg::{
    CeremonyParams, CeremonyRecord, Complaint, ComplaintVerdict, Fault, Misbehaviour,
    Round1Message, Round2Message, SealedShare, check_round1, judge_complaint, verify_ceremony,
};
use urna_crypto::dlog::DlogTable;
use urna_crypto::elgamal::{Ciphertext, PublicKey, SecretScalar};
use urna_crypto::encoding::{Element, Reader, decode_scalar};
use urna_crypto::group::{derive_generator, g, h, mul_g, mul_h};
use urna_crypto::proof::dleq::{DleqProof, DleqStatement};
use urna_crypto::proof::range::{RangeProof, RangeStatement};
use urna_crypto::proof::schnorr::SchnorrProof;
use urna_crypto::threshold::{PartialDecryption, combine, lagrange_at_zero};
use urna_crypto::{Error, Fingerprint, PeerError, UsageError};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/test-vectors")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["description"].is_string(), "{name}: description");
    assert!(v["spec_section"].is_string(), "{name}: spec_section");
    assert!(!v["cases"].as_array().unwrap().is_empty(), "{name}: cases");
    v
}

fn cases(v: &Value) -> &Vec<Value> {
    v["cases"].as_array().unwrap()
}

fn name(c: &Value) -> &str {
    c["name"].as_str().unwrap()
}

fn is_valid(c: &Value) -> bool {
    c["valid"].as_bool().unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    assert!(!s.bytes().any(|b| b.is_ascii_uppercase()), "upper-case hex");
    hex::decode(s).unwrap()
}

fn b32(v: &Value) -> [u8; 32] {
    bytes(v).try_into().unwrap()
}

fn elem(v: &Value) -> Element {
    Element::decode(&b32(v)).unwrap()
}

fn scal(v: &Value) -> Scalar {
    decode_scalar(&b32(v)).unwrap()
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn fp(v: &Value) -> Fingerprint {
    Fingerprint(b32(v))
}

fn ct(v: &Value) -> Ciphertext {
    Ciphertext {
        alpha: elem(&v["alpha"]),
        beta: elem(&v["beta"]),
    }
}

fn cts(v: &Value) -> Vec<Ciphertext> {
    v.as_array().unwrap().iter().map(ct).collect()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn rng() -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(1)
}

/// The stable error kind of spec §10.
fn kind(e: &Error) -> &'static str {
    match e {
        Error::Peer(p) => match p {
            PeerError::NonCanonicalScalar => "non_canonical_scalar",
            PeerError::NonCanonicalElement => "non_canonical_element",
            PeerError::IdentityElement => "identity_element",
            PeerError::Truncated { .. } => "truncated",
            PeerError::TrailingBytes(_) => "trailing_bytes",
            PeerError::OutOfBounds { .. } => "out_of_bounds",
            PeerError::UnknownVersion(_) => "unknown_version",
            PeerError::Hex(_) => "hex",
            PeerError::InvalidProof(_)
            | PeerError::BadBallotProof { .. }
            | PeerError::AuditMismatch { .. } => "invalid_proof",
            PeerError::ShapeMismatch { .. } => "shape_mismatch",
            PeerError::BadShare { .. } => "bad_share",
            PeerError::UnreadableShare { .. } => "unreadable_share",
            PeerError::BadTrusteeIndex(_) => "bad_trustee_index",
            PeerError::TooFewQualified { .. } => "too_few_qualified",
            PeerError::UnfoundedComplaint { .. } => "unfounded_complaint",
            PeerError::BadPartialDecryption { .. } => "bad_partial_decryption",
            _ => "other",
        },
        Error::Usage(UsageError::DlogNotFound(_)) => "dlog_not_found",
        Error::Usage(UsageError::NotEnoughShares { .. }) => "not_enough_shares",
        Error::Usage(UsageError::DuplicateTrustee(_)) => "duplicate_trustee",
        _ => "usage",
    }
}

/// Checks a case's outcome against `valid` / `error`.
fn outcome<T>(c: &Value, r: Result<T, impl Into<Error>>) -> Option<T> {
    match (is_valid(c), r) {
        (true, Ok(t)) => Some(t),
        (true, Err(e)) => panic!("{}: expected valid, got {}", name(c), e.into()),
        (false, Ok(_)) => panic!("{}: expected {}, but it passed", name(c), c["error"]),
        (false, Err(e)) => {
            let e = e.into();
            assert_eq!(kind(&e), c["error"].as_str().unwrap(), "{}: {e}", name(c));
            None
        }
    }
}

/// Independent framing of spec §3.1.
fn framed(domain: &str, fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut f = |b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    };
    f(domain.as_bytes());
    for (l, d) in fields {
        f(l.as_bytes());
        f(d);
    }
    out
}

fn challenge(domain: &str, fields: &[(&str, &[u8])]) -> Scalar {
    let d: [u8; 64] = Sha512::digest(framed(domain, fields)).into();
    Scalar::from_bytes_mod_order_wide(&d)
}

fn pt(p: RistrettoPoint) -> Element {
    Element::from_point(p)
}

#[test]
fn ristretto255_rfc9496() {
    let v = load("ristretto255.json");
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "multiple" => {
                let e = elem(&c["encoding"]);
                assert_eq!(
                    pt(mul_g(&Scalar::from(num(&c["scalar"])))),
                    e,
                    "{}",
                    name(c)
                );
                assert_eq!(e.as_bytes(), &b32(&c["encoding"]));
            }
            "decode" => {
                outcome(c, Element::decode(&b32(&c["encoding"])));
            }
            "derive" => {
                let u: [u8; 64] = bytes(&c["uniform_bytes"]).try_into().unwrap();
                let e = pt(RistrettoPoint::from_uniform_bytes(&u));
                assert_eq!(e.as_bytes(), &b32(&c["encoding"]), "{}", name(c));
            }
            t => panic!("unknown type {t}"),
        }
    }
}

#[test]
fn encoding() {
    let v = load("encoding.json");
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "scalar" => {
                let b = b32(&c["hex"]);
                if let Some(s) = outcome(c, decode_scalar(&b)) {
                    assert_eq!(s.to_bytes(), b);
                }
            }
            "element" => {
                let b = b32(&c["hex"]);
                let r = if c["identity_allowed"].as_bool().unwrap() {
                    Element::decode(&b)
                } else {
                    Element::decode_non_identity(&b)
                };
                if let Some(e) = outcome(c, r) {
                    assert_eq!(e.as_bytes(), &b);
                }
            }
            "element_json" => {
                let t = c["text"].as_str().unwrap();
                if let Some(e) = outcome(c, Element::from_hex(t)) {
                    assert_eq!(e.to_hex(), t);
                }
            }
            "integers" => {
                let b = bytes(&c["hex"]);
                let read = || -> Result<(u8, u16, u32, u64, Vec<u8>), PeerError> {
                    let mut r = Reader::new(&b);
                    let out = (
                        r.u8()?,
                        r.u16()?,
                        r.u32()?,
                        r.u64()?,
                        r.bytes32("f", 1024)?.to_vec(),
                    );
                    r.finish()?;
                    Ok(out)
                };
                if let Some((a, b16, c32, d64, f)) = outcome(c, read()) {
                    assert_eq!(u64::from(a), num(&c["u8"]));
                    assert_eq!(u64::from(b16), num(&c["u16"]));
                    assert_eq!(u64::from(c32), num(&c["u32"]));
                    assert_eq!(d64, num(&c["u64"]));
                    assert_eq!(f, bytes(&c["bytes32"]));
                }
            }
            t => panic!("unknown type {t}"),
        }
    }
}

#[test]
fn generators() {
    let v = load("generators.json");
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "base" => assert_eq!(elem(&c["element"]), g()),
            "derived" => {
                let label = c["label"].as_str().unwrap();
                let t = framed("urna/v1/generator", &[("label", label.as_bytes())]);
                assert_eq!(t, bytes(&c["transcript"]), "{}", name(c));
                let d: [u8; 64] = Sha512::digest(&t).into();
                assert_eq!(d.to_vec(), bytes(&c["sha512"]));
                let e = elem(&c["element"]);
                assert_eq!(pt(RistrettoPoint::from_uniform_bytes(&d)), e);
                assert_eq!(derive_generator(label), e);
                if label == "urna/v1/elgamal/message" {
                    assert_eq!(h(), e);
                }
            }
            t => panic!("unknown type {t}"),
        }
    }
}

#[test]
fn transcript() {
    let v = load("transcript.json");
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "transcript" => {
                let domain = c["domain"].as_str().unwrap();
                let fields: Vec<(String, Vec<u8>)> = c["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| (f["label"].as_str().unwrap().to_string(), bytes(&f["data"])))
                    .collect();
                let refs: Vec<(&str, &[u8])> = fields
                    .iter()
                    .map(|(l, d)| (l.as_str(), d.as_slice()))
                    .collect();
                let t = framed(domain, &refs);
                assert_eq!(t, bytes(&c["framed"]), "{}", name(c));
                let d: [u8; 64] = Sha512::digest(&t).into();
                assert_eq!(d.to_vec(), bytes(&c["sha512"]));
                assert_eq!(d[..32].to_vec(), bytes(&c["digest32"]));
                assert_eq!(Scalar::from_bytes_mod_order_wide(&d), scal(&c["challenge"]));
                // And the library's transcript agrees.
                let mut lt = urna_crypto::transcript::Transcript::new(leak(domain));
                for (l, d) in &fields {
                    lt.append(leak(l), d);
                }
                assert_eq!(lt.clone().challenge(), scal(&c["challenge"]));
                assert_eq!(lt.digest64().to_vec(), bytes(&c["sha512"]));
            }
            "fingerprint_ceremony" => {
                let m = b32(&c["manifest_hash"]);
                let t = framed("urna/v1/fingerprint/ceremony", &[("manifest_hash", &m)]);
                assert_eq!(t, bytes(&c["framed"]));
                assert_eq!(Sha512::digest(&t)[..32].to_vec(), bytes(&c["fingerprint"]));
                assert_eq!(Fingerprint::ceremony(&m), fp(&c["fingerprint"]));
            }
            "fingerprint_election" => {
                let m = b32(&c["manifest_hash"]);
                let k = elem(&c["joint_key"]);
                let t = framed(
                    "urna/v1/fingerprint/election",
                    &[("manifest_hash", &m), ("joint_key", k.as_bytes())],
                );
                assert_eq!(t, bytes(&c["framed"]));
                assert_eq!(Sha512::digest(&t)[..32].to_vec(), bytes(&c["fingerprint"]));
                assert_eq!(Fingerprint::election(&m, &k), fp(&c["fingerprint"]));
            }
            t => panic!("unknown type {t}"),
        }
    }
}

fn check_election(v: &Value) -> (Element, Fingerprint, Scalar) {
    let e = &v["election"];
    let k = elem(&e["joint_key"]);
    let s = scal(&e["secret_key"]);
    assert_eq!(pt(mul_g(&s)), k);
    let f = Fingerprint::election(&b32(&e["manifest_hash"]), &k);
    assert_eq!(f, fp(&e["fingerprint"]));
    (k, f, s)
}

#[test]
fn elgamal() {
    let v = load("elgamal.json");
    check_election(&v);
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "keypair" => assert_eq!(pt(mul_g(&scal(&c["secret_key"]))), elem(&c["public_key"])),
            "encrypt" => {
                let key = PublicKey::new(elem(&c["public_key"])).unwrap();
                let m = num(&c["message"]);
                let got = key.encrypt_with_nonce(m, &scal(&c["nonce"]));
                let want = ct(&c["ciphertext"]);
                assert_eq!(got, want, "{}", name(c));
                let mut enc = want.alpha.as_bytes().to_vec();
                enc.extend_from_slice(want.beta.as_bytes());
                assert_eq!(enc, bytes(&c["encoding"]));
                let s = scal(&c["secret_key"]);
                let dec = pt(want.beta.point() - want.alpha.point() * s);
                assert_eq!(dec, elem(&c["decrypted"]));
                assert_eq!(dec, pt(mul_h(&Scalar::from(m))));
                assert_eq!(DlogTable::new(num(&c["dlog_bound"])).solve(&dec), Ok(m));
            }
            "sum" => {
                let sum = Ciphertext::sum(&cts(&c["ciphertexts"]));
                assert_eq!(sum, ct(&c["sum"]));
                let dec = pt(sum.beta.point() - sum.alpha.point() * scal(&c["secret_key"]));
                assert_eq!(dec, elem(&c["decrypted"]));
                assert_eq!(dec, pt(mul_h(&Scalar::from(num(&c["message"])))));
            }
            "reencrypt" => {
                let key = PublicKey::new(elem(&c["public_key"])).unwrap();
                let r = scal(&c["nonce"]);
                let base = ct(&c["ciphertext"]);
                let want = ct(&c["result"]);
                assert_eq!(pt(base.alpha.point() + mul_g(&r)), want.alpha);
                assert_eq!(pt(base.beta.point() + key.mul(&r)), want.beta);
            }
            "decode" => {
                let b = bytes(&c["encoding"]);
                let mut r = Reader::new(&b);
                let res = Ciphertext::decode(&mut r).and_then(|ct| r.finish().map(|()| ct));
                outcome(c, res);
            }
            "public_key" => {
                outcome(c, PublicKey::new(elem(&c["public_key"])));
            }
            "dlog" => {
                let t = DlogTable::new(num(&c["bound"]));
                if let Some(m) = outcome(c, t.solve(&elem(&c["element"]))) {
                    assert_eq!(m, num(&c["log"]));
                }
            }
            t => panic!("unknown type {t}"),
        }
    }
}

fn concat(parts: &[&Value]) -> Vec<u8> {
    parts.iter().flat_map(|p| bytes(p)).collect()
}

#[test]
fn schnorr() {
    let v = load("schnorr.json");
    check_election(&v);
    for c in cases(&v) {
        let enc = bytes(&c["proof_encoding"]);
        let p = &c["proof"];
        assert_eq!(concat(&[&p["commitment"], &p["response"]]), enc);
        let f = fp(&c["fingerprint"]);
        let ctx = bytes(&c["context"]);
        let x = elem(&c["public"]);
        let res = (|| {
            let mut r = Reader::new(&enc);
            let proof = SchnorrProof::decode(&mut r)?;
            r.finish()?;
            verify_one(&proof.statement(&f, &ctx, &x), None, &mut rng())
        })();
        if outcome(c, res).is_some() {
            // Re-create the proof from the explicit nonce.
            let secret = scal(&c["secret"]);
            assert_eq!(pt(mul_g(&secret)), x);
            let u = scal(&c["nonce"]);
            let a = pt(mul_g(&u));
            assert_eq!(a, elem(&p["commitment"]));
            let ch = challenge(
                "urna/v1/proof/schnorr",
                &[
                    ("fingerprint", &f.0),
                    ("context", &ctx),
                    ("statement", x.as_bytes()),
                    ("commitment", a.as_bytes()),
                ],
            );
            assert_eq!(ch, scal(&c["challenge"]));
            assert_eq!(u + ch * secret, scal(&p["response"]));
        }
    }
}

#[test]
fn dleq() {
    let v = load("dleq.json");
    check_election(&v);
    for c in cases(&v) {
        let enc = bytes(&c["proof_encoding"]);
        let p = &c["proof"];
        assert_eq!(
            concat(&[&p["commitment_g"], &p["commitment_y"], &p["response"]]),
            enc
        );
        let f = fp(&c["fingerprint"]);
        let ctx = bytes(&c["context"]);
        let st = DleqStatement {
            base: elem(&c["base"]),
            public: elem(&c["public"]),
            image: elem(&c["image"]),
        };
        let res = (|| {
            let mut r = Reader::new(&enc);
            let proof = DleqProof::decode(&mut r)?;
            r.finish()?;
            verify_one(&proof.statement(&f, &ctx, &st), None, &mut rng())
        })();
        if outcome(c, res).is_some() {
            let s = scal(&c["secret"]);
            assert_eq!(pt(mul_g(&s)), st.public);
            assert_eq!(pt(st.base.point() * s), st.image);
            let u = scal(&c["nonce"]);
            let a = pt(mul_g(&u));
            let b = pt(st.base.point() * u);
            assert_eq!(a, elem(&p["commitment_g"]));
            assert_eq!(b, elem(&p["commitment_y"]));
            let ch = challenge(
                "urna/v1/proof/dleq",
                &[
                    ("fingerprint", &f.0),
                    ("context", &ctx),
                    ("base", st.base.as_bytes()),
                    ("public", st.public.as_bytes()),
                    ("image", st.image.as_bytes()),
                    ("commitment_g", a.as_bytes()),
                    ("commitment_y", b.as_bytes()),
                ],
            );
            assert_eq!(ch, scal(&c["challenge"]));
            assert_eq!(u + ch * s, scal(&p["response"]));
        }
    }
}

/// The range challenge of spec §6.4, written out field by field.
fn range_challenge(
    f: &Fingerprint,
    ctx: &[u8],
    key: &Element,
    summands: &[Ciphertext],
    lo: u64,
    hi: u64,
    branches: &[(Element, Element)],
) -> Scalar {
    let n = (summands.len() as u64).to_be_bytes();
    let (lo, hi) = (lo.to_be_bytes(), hi.to_be_bytes());
    let mut fields: Vec<(&str, &[u8])> = vec![
        ("fingerprint", &f.0),
        ("context", ctx),
        ("key", key.as_bytes()),
        ("summands", &n),
    ];
    for s in summands {
        fields.push(("alpha", s.alpha.as_bytes()));
        fields.push(("beta", s.beta.as_bytes()));
    }
    fields.push(("lo", &lo));
    fields.push(("hi", &hi));
    for (a, b) in branches {
        fields.push(("a", a.as_bytes()));
        fields.push(("b", b.as_bytes()));
    }
    challenge("urna/v1/proof/range", &fields)
}

#[test]
fn range() {
    let v = load("range.json");
    let (_, _, _) = check_election(&v);
    for c in cases(&v) {
        let enc = bytes(&c["proof_encoding"]);
        let branches = c["proof"]["branches"].as_array().unwrap();
        let parts: Vec<&Value> = branches
            .iter()
            .flat_map(|b| [&b["a"], &b["b"], &b["c"], &b["z"]])
            .collect();
        assert_eq!(concat(&parts), enc, "{}", name(c));
        let f = fp(&c["fingerprint"]);
        let ctx = bytes(&c["context"]);
        let key = elem(&c["key"]);
        let summands = cts(&c["summands"]);
        let (lo, hi) = (num(&c["lo"]), num(&c["hi"]));
        let res = (|| {
            let mut r = Reader::new(&enc);
            let proof = RangeProof::decode(&mut r, lo, hi)?;
            r.finish()?;
            let st = RangeStatement {
                key: &key,
                summands: &summands,
                lo,
                hi,
            };
            verify_one(&proof.statement(&f, &ctx, st), Some(&key), &mut rng())
        })();
        if outcome(c, res).is_some() {
            // Summands are the encryptions of the values with the nonces.
            let pk = PublicKey::new(key).unwrap();
            let values: Vec<u64> = c["values"].as_array().unwrap().iter().map(num).collect();
            let nonces: Vec<Scalar> = c["nonces"].as_array().unwrap().iter().map(scal).collect();
            for ((s, m), r) in summands.iter().zip(&values).zip(&nonces) {
                assert_eq!(pk.encrypt_with_nonce(*m, r), *s);
            }
            let commitments: Vec<(Element, Element)> = branches
                .iter()
                .map(|b| (elem(&b["a"]), elem(&b["b"])))
                .collect();
            let ch = range_challenge(&f, &ctx, &key, &summands, lo, hi, &commitments);
            assert_eq!(ch, scal(&c["challenge"]));
            let csum: Scalar = branches.iter().map(|b| scal(&b["c"])).sum();
            assert_eq!(csum, ch);
            // The real branch from its nonce u: A = u·G, B = u·K, z = u + c_j·Σr.
            let j = num(&c["real_branch"]) as usize;
            assert_eq!(j as u64, values.iter().sum::<u64>() - lo);
            let u = scal(&c["real_branch_nonce"]);
            let br = &branches[j];
            assert_eq!(pt(mul_g(&u)), elem(&br["a"]));
            assert_eq!(pt(key.point() * u), elem(&br["b"]));
            let rsum: Scalar = nonces.iter().sum();
            assert_eq!(u + scal(&br["c"]) * rsum, scal(&br["z"]));
        }
        if let Some(weak) = c.get("weak_challenge") {
            // The forgery satisfies every equation under the weak challenge…
            let weak = scal(weak);
            let commitments: Vec<(Element, Element)> = branches
                .iter()
                .map(|b| (elem(&b["a"]), elem(&b["b"])))
                .collect();
            let mut fields: Vec<(&str, &[u8])> = Vec::new();
            for (a, b) in &commitments {
                fields.push(("a", a.as_bytes()));
                fields.push(("b", b.as_bytes()));
            }
            assert_eq!(challenge("urna/v1/proof/range", &fields), weak);
            let csum: Scalar = branches.iter().map(|b| scal(&b["c"])).sum();
            assert_eq!(csum, weak);
            let (alpha, beta) = (summands[0].alpha.point(), summands[0].beta.point());
            for (j, b) in branches.iter().enumerate() {
                let (cj, zj) = (scal(&b["c"]), scal(&b["z"]));
                let e1 = elem(&b["a"]).point() + alpha * cj - mul_g(&zj);
                let e2 = elem(&b["b"]).point() + beta * cj
                    - mul_h(&(cj * Scalar::from(lo + j as u64)))
                    - key.point() * zj;
                assert_eq!(pt(e1), Element::identity());
                assert_eq!(pt(e2), Element::identity());
            }
            // …and encrypts neither 0 nor 1: β − r·K = m·H for the stated m.
            let m = scal(&c["forged_plaintext_scalar"]);
            assert_ne!(m, Scalar::ZERO);
            assert_ne!(m, Scalar::ONE);
            assert!(!is_valid(c));
        }
    }
}

#[test]
fn signature() {
    let v = load("signature.json");
    check_election(&v);
    for c in cases(&v) {
        let enc = bytes(&c["signature_encoding"]);
        let s = &c["signature"];
        assert_eq!(concat(&[&s["commitment"], &s["response"]]), enc);
        let f = fp(&c["fingerprint"]);
        let p = elem(&c["credential"]);
        let msg = bytes(&c["message"]);
        let res = (|| {
            let mut r = Reader::new(&enc);
            let sig = Signature::decode(&mut r)?;
            r.finish()?;
            verify_one(&sig.statement(&f, &p, &msg), None, &mut rng())
        })();
        if outcome(c, res).is_some() {
            let secret = b32(&c["secret"]);
            let x = decode_scalar(&secret).unwrap();
            assert_eq!(pt(mul_g(&x)), p);
            let k = challenge(
                "urna/v1/signature/nonce",
                &[
                    ("secret", &secret),
                    ("random", &bytes(&c["random"])),
                    ("message", &msg),
                ],
            );
            assert_eq!(k, scal(&c["nonce"]));
            let r = pt(mul_g(&k));
            assert_eq!(r, elem(&s["commitment"]));
            let e = challenge(
                "urna/v1/signature",
                &[
                    ("fingerprint", &f.0),
                    ("credential", p.as_bytes()),
                    ("commitment", r.as_bytes()),
                    ("message", &msg),
                ],
            );
            assert_eq!(e, scal(&c["challenge"]));
            assert_eq!(k + e * x, scal(&s["response"]));
        }
    }
}

fn shapes(v: &Value) -> Vec<ContestShape> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| ContestShape {
            options: num(&s["options"]) as u16,
            option_max: num(&s["option_max"]) as u32,
            min: num(&s["min"]) as u32,
            max: num(&s["max"]) as u32,
        })
        .collect()
}

fn nested_scalars(v: &Value) -> Vec<Vec<Scalar>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_array().unwrap().iter().map(scal).collect())
        .collect()
}

fn nested_u64(v: &Value) -> Vec<Vec<u64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_array().unwrap().iter().map(num).collect())
        .collect()
}

#[test]
fn ballot() {
    let v = load("ballot.json");
    let (key, f, _) = check_election(&v);
    let pk = PublicKey::new(key).unwrap();
    for c in cases(&v) {
        let b = bytes(&c["ballot"]);
        match c["type"].as_str().unwrap() {
            "verify" => {
                let style = shapes(&c["shapes"]);
                let res = (|| {
                    let ballot = Ballot::decode(&b)?;
                    let signed = &b[..b.len() - 64];
                    verify_one(
                        &ballot.statement(&key, &f, &style).with_signed_bytes(signed),
                        Some(&key),
                        &mut rng(),
                    )
                    .map(|()| ballot)
                })();
                let Some(ballot) = outcome(c, res) else {
                    continue;
                };
                // Reproduce the parts from the explicit secrets.
                assert_eq!(ballot.encode().unwrap(), b);
                assert_eq!(ballot.credential, elem(&c["credential"]));
                let x = decode_scalar(&b32(&c["credential_secret"])).unwrap();
                assert_eq!(pt(mul_g(&x)), ballot.credential);
                assert_eq!(ballot.header, bytes(&c["header"]));
                let sel = nested_u64(&c["selections"]);
                let nonces = nested_scalars(&c["nonces"]);
                let option_u = nested_scalars(&c["option_proof_nonces"]);
                let sum_u: Vec<Option<Scalar>> = c["sum_proof_nonces"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| (!u.is_null()).then(|| scal(u)))
                    .collect();
                for (ci, contest) in ballot.contests.iter().enumerate() {
                    let shape = contest.shape;
                    assert_eq!(contest.ciphertexts.len(), usize::from(shape.options));
                    assert_eq!(contest.proofs.len(), option_u[ci].len());
                    if shape.min == shape.max {
                        // §7.1: the last option is derived, with nonce −Σ r.
                        let last = nonces[ci].len() - 1;
                        let rest: Scalar = nonces[ci][..last].iter().sum();
                        assert_eq!(nonces[ci][last], -rest);
                        let implied = shape.options == 1
                            || (shape.options == 2 && shape.max == shape.option_max);
                        assert_eq!(contest.proofs.len(), last + usize::from(!implied));
                        assert!(sum_u[ci].is_none() && contest.sum_proof.is_none());
                    }
                    // Every option, a derived one included, is Enc(v; r).
                    for (oi, ct) in contest.ciphertexts.iter().enumerate() {
                        assert_eq!(pk.encrypt_with_nonce(sel[ci][oi], &nonces[ci][oi]), *ct);
                    }
                    for (oi, ((ctx_, proof), m)) in contest
                        .ciphertexts
                        .iter()
                        .zip(&contest.proofs)
                        .zip(&sel[ci])
                        .enumerate()
                    {
                        let r = nonces[ci][oi];
                        assert_eq!(pk.encrypt_with_nonce(*m, &r), *ctx_);
                        let br = &proof.branches[*m as usize];
                        let u = option_u[ci][oi];
                        assert_eq!(pt(mul_g(&u)), br.a);
                        assert_eq!(u + br.c * r, br.z);
                        let pctx = proof_context(&ballot.credential, ci as u16, oi as u16);
                        let ch = range_challenge(
                            &f,
                            &pctx,
                            &key,
                            std::slice::from_ref(ctx_),
                            0,
                            contest.shape.option_max.into(),
                            &proof
                                .branches
                                .iter()
                                .map(|b| (b.a, b.b))
                                .collect::<Vec<_>>(),
                        );
                        assert_eq!(proof.branches.iter().map(|b| b.c).sum::<Scalar>(), ch);
                    }
                    let total: u64 = sel[ci].iter().sum();
                    assert!((shape.min..=shape.max).contains(&(total as u32)));
                    let Some(sum_proof) = &contest.sum_proof else {
                        continue;
                    };
                    let su = sum_u[ci].unwrap();
                    let br = &sum_proof.branches[(total - u64::from(contest.shape.min)) as usize];
                    let rsum: Scalar = nonces[ci].iter().sum();
                    assert_eq!(pt(mul_g(&su)), br.a);
                    assert_eq!(su + br.c * rsum, br.z);
                    let pctx = proof_context(&ballot.credential, ci as u16, SUM_OPTION);
                    let ch = range_challenge(
                        &f,
                        &pctx,
                        &key,
                        &contest.ciphertexts,
                        contest.shape.min.into(),
                        contest.shape.max.into(),
                        &sum_proof
                            .branches
                            .iter()
                            .map(|b| (b.a, b.b))
                            .collect::<Vec<_>>(),
                    );
                    assert_eq!(sum_proof.branches.iter().map(|b| b.c).sum::<Scalar>(), ch);
                }
                // Signature with the hedged nonce.
                let signed = &b[..b.len() - 64];
                assert_eq!(signed.len() as u64, num(&c["signed_length"]));
                let k = challenge(
                    "urna/v1/signature/nonce",
                    &[
                        ("secret", &x.to_bytes()),
                        ("random", &bytes(&c["signature_random"])),
                        ("message", signed),
                    ],
                );
                assert_eq!(pt(mul_g(&k)), ballot.signature.commitment);
            }
            "audit" => {
                let ballot = Ballot::decode(&b).unwrap();
                let secrets = BallotSecrets {
                    selections: nested_u64(&c["selections"]),
                    nonces: nested_scalars(&c["nonces"])
                        .into_iter()
                        .map(|v| v.into_iter().map(SecretScalar::new).collect())
                        .collect(),
                };
                outcome(c, ballot.check_audit(&pk, &secrets));
            }
            t => panic!("unknown type {t}"),
        }
    }
}

// ---------------------------------------------------------------------------
// dkg.json and threshold.json (spec §8, §9): re-derived field by field.
// ---------------------------------------------------------------------------

/// `prefix ‖ u16(v)…` (spec §8.1 contexts).
fn ctx16(prefix: &str, nums: &[u64]) -> Vec<u8> {
    let mut c = prefix.as_bytes().to_vec();
    for v in nums {
        c.extend_from_slice(&u16::try_from(*v).unwrap().to_be_bytes());
    }
    c
}

fn u16be(v: &Value) -> [u8; 2] {
    u16::try_from(num(v)).unwrap().to_be_bytes()
}

fn schnorr_bytes(p: &Value) -> Vec<u8> {
    concat(&[&p["commitment"], &p["response"]])
}

fn dleq_bytes(p: &Value) -> Vec<u8> {
    concat(&[&p["commitment_g"], &p["commitment_y"], &p["response"]])
}

/// Round1Message JSON form → its §8.8.1 bytes.
fn round1_bytes(m: &Value) -> Vec<u8> {
    let mut b = vec![1u8];
    b.extend(u16be(&m["trustee"]));
    b.extend(u16be(&m["params"]["n"]));
    b.extend(u16be(&m["params"]["t"]));
    b.extend(bytes(&m["share_key"]));
    b.extend(schnorr_bytes(&m["share_key_proof"]));
    for c in m["coefficients"].as_array().unwrap() {
        b.extend(bytes(&c["commitment"]));
        b.extend(schnorr_bytes(&c["proof"]));
    }
    b
}

/// Round2Message JSON form → its §8.8.2 bytes.
fn round2_bytes(m: &Value) -> Vec<u8> {
    let shares = m["shares"].as_array().unwrap();
    let mut b = vec![1u8];
    b.extend(u16be(&m["dealer"]));
    b.extend(u16::try_from(shares.len()).unwrap().to_be_bytes());
    for s in shares {
        assert_eq!(s["dealer"], m["dealer"]);
        b.extend(u16be(&s["recipient"]));
        b.extend(bytes(&s["ephemeral"]));
        b.extend(bytes(&s["sealed"]));
    }
    b
}

/// Complaint JSON form → its §8.8.3 bytes.
fn complaint_bytes(c: &Value) -> Vec<u8> {
    let mut b = vec![1u8];
    b.extend(u16be(&c["dealer"]));
    b.extend(u16be(&c["complainer"]));
    b.extend(bytes(&c["shared_secret"]));
    b.extend(dleq_bytes(&c["proof"]));
    b
}

/// Re-creates a Schnorr proof from its secret and nonce (spec §6.2).
fn schnorr_again(
    f: &[u8],
    ctx: &[u8],
    secret: &Scalar,
    u: &Scalar,
    public: &Element,
    p: &Value,
) -> Scalar {
    let a = pt(mul_g(u));
    assert_eq!(a, elem(&p["commitment"]));
    let ch = challenge(
        "urna/v1/proof/schnorr",
        &[
            ("fingerprint", f),
            ("context", ctx),
            ("statement", public.as_bytes()),
            ("commitment", a.as_bytes()),
        ],
    );
    assert_eq!(u + ch * secret, scal(&p["response"]));
    ch
}

/// Re-creates a DLEQ proof from its secret and nonce (spec §6.3).
fn dleq_again(
    f: &[u8],
    ctx: &[u8],
    secret: &Scalar,
    u: &Scalar,
    st: &DleqStatement,
    p: &Value,
) -> Scalar {
    assert_eq!(pt(mul_g(secret)), st.public);
    assert_eq!(pt(st.base.point() * secret), st.image);
    let a = pt(mul_g(u));
    let b = pt(st.base.point() * u);
    assert_eq!(a, elem(&p["commitment_g"]));
    assert_eq!(b, elem(&p["commitment_y"]));
    let ch = challenge(
        "urna/v1/proof/dleq",
        &[
            ("fingerprint", f),
            ("context", ctx),
            ("base", st.base.as_bytes()),
            ("public", st.public.as_bytes()),
            ("image", st.image.as_bytes()),
            ("commitment_g", a.as_bytes()),
            ("commitment_y", b.as_bytes()),
        ],
    );
    assert_eq!(u + ch * secret, scal(&p["response"]));
    ch
}

/// The seal-key transcript of spec §8.3 and the key, digest32 of it.
fn seal_key(
    f: &[u8],
    i: u16,
    j: u16,
    e: &Element,
    xj: &Element,
    s: &Element,
) -> (Vec<u8>, [u8; 32]) {
    let tr = framed(
        "urna/v1/dkg/share-seal",
        &[
            ("fingerprint", f),
            ("dealer", &i.to_be_bytes()),
            ("recipient", &j.to_be_bytes()),
            ("ephemeral", e.as_bytes()),
            ("recipient_key", xj.as_bytes()),
            ("shared_secret", s.as_bytes()),
        ],
    );
    let d = Sha512::digest(&tr);
    (tr, d[..32].try_into().unwrap())
}

fn aad(i: u16, j: u16) -> Vec<u8> {
    [i.to_be_bytes(), j.to_be_bytes()].concat()
}

/// ChaCha20-Poly1305 with the all-zero nonce (RFC 8439): ct ‖ tag.
fn aead_seal(key: &[u8; 32], aad: &[u8], plain: &[u8; 32]) -> Vec<u8> {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
    let mut buf = *plain;
    let tag = ChaCha20Poly1305::new(<&Key>::from(key))
        .encrypt_inout_detached(&Nonce::default(), aad, buf.as_mut_slice().into())
        .unwrap();
    [buf.as_slice(), tag.as_slice()].concat()
}

fn aead_open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<[u8; 32]> {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
    let mut buf: [u8; 32] = sealed[..32].try_into().unwrap();
    let tag: [u8; 16] = sealed[32..].try_into().unwrap();
    ChaCha20Poly1305::new(<&Key>::from(key))
        .decrypt_inout_detached(
            &Nonce::default(),
            aad,
            buf.as_mut_slice().into(),
            &Tag::from(tag),
        )
        .ok()?;
    Some(buf)
}

/// `Σ_k j^k·C_k`.
fn feldman(c: &[RistrettoPoint], j: u64) -> RistrettoPoint {
    let mut pow = Scalar::ONE;
    let mut acc = RistrettoPoint::default();
    for ck in c {
        acc += ck * pow;
        pow *= Scalar::from(j);
    }
    acc
}

/// `f(j) = Σ_k a_k·j^k`.
fn poly(a: &[Scalar], j: u64) -> Scalar {
    let mut pow = Scalar::ONE;
    let mut acc = Scalar::ZERO;
    for ak in a {
        acc += ak * pow;
        pow *= Scalar::from(j);
    }
    acc
}

/// `λ_j = Π_{m≠j} m / (m − j)`, by plain arithmetic.
fn lagrange(set: &[u64]) -> Vec<Scalar> {
    set.iter()
        .map(|&j| {
            set.iter()
                .filter(|&&m| m != j)
                .map(|&m| Scalar::from(m) * (Scalar::from(m) - Scalar::from(j)).invert())
                .product()
        })
        .collect()
}

fn fault_value(f: &Fault) -> Value {
    use serde_json::json;
    let t = f.trustee;
    match &f.misbehaviour {
        Misbehaviour::MissingRound1 => json!({"trustee": t, "fault": "missing_round1"}),
        Misbehaviour::InvalidRound1(e) => {
            json!({"trustee": t, "fault": "invalid_round1", "error": kind(&e.clone().into())})
        }
        Misbehaviour::Equivocation { round } => {
            json!({"trustee": t, "fault": "equivocation", "round": round})
        }
        Misbehaviour::MissingRound2 => json!({"trustee": t, "fault": "missing_round2"}),
        Misbehaviour::InvalidRound2(e) => {
            json!({"trustee": t, "fault": "invalid_round2", "error": kind(&e.clone().into())})
        }
        Misbehaviour::BadShare {
            complainer,
            evidence,
        } => json!({"trustee": t, "fault": "bad_share", "complainer": complainer,
                    "evidence": kind(&evidence.clone().into())}),
        Misbehaviour::FalseComplaint { dealer, reason } => {
            json!({"trustee": t, "fault": "false_complaint", "dealer": dealer,
                   "reason": kind(&reason.clone().into())})
        }
        other => panic!("unknown misbehaviour {other:?}"),
    }
}

#[test]
fn dkg() {
    let v = load("dkg.json");
    let cer = &v["ceremony"];
    let mh = b32(&cer["manifest_hash"]);
    let f = Fingerprint::ceremony(&mh);
    assert_eq!(f, fp(&cer["fingerprint"]));
    let (n, t) = (num(&cer["params"]["n"]), num(&cer["params"]["t"]));
    let params = CeremonyParams::new(n.try_into().unwrap(), t.try_into().unwrap()).unwrap();
    // The trustees' secrets (x_i, a_{i,k}) and valid messages.
    let mut secrets: BTreeMap<u64, (Scalar, Vec<Scalar>)> = BTreeMap::new();
    let mut honest = Vec::new();
    for c in cases(&v)
        .iter()
        .filter(|c| c["type"] == "round1" && is_valid(c))
    {
        let a = c["coefficient_secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(scal)
            .collect();
        secrets.insert(num(&c["trustee"]), (scal(&c["share_key_secret"]), a));
        honest.push(Round1Message::decode(&bytes(&c["encoding"])).unwrap());
    }
    assert_eq!(secrets.len() as u64, n);
    let share_key = |i: u64| pt(mul_g(&secrets[&i].0));
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "round1" => {
                let enc = bytes(&c["encoding"]);
                if let Some(m) = c.get("message") {
                    assert_eq!(round1_bytes(m), enc, "{}", name(c));
                }
                let res = (|| -> Result<(), Error> {
                    let m = Round1Message::decode(&enc)?;
                    let mut all: Vec<Round1Message> = honest
                        .iter()
                        .filter(|h| h.trustee != m.trustee)
                        .cloned()
                        .collect();
                    all.push(m.clone());
                    let out = check_round1(params, &mh, &all, &mut rng())?;
                    match out.faults.iter().find(|f| f.trustee == m.trustee) {
                        None => Ok(()),
                        Some(Fault {
                            misbehaviour: Misbehaviour::InvalidRound1(e),
                            ..
                        }) => Err(e.clone().into()),
                        Some(other) => panic!("{}: {other:?}", name(c)),
                    }
                })();
                if outcome(c, res).is_none() {
                    continue;
                }
                let i = num(&c["trustee"]);
                let m = &c["message"];
                assert_eq!(num(&m["trustee"]), i);
                assert_eq!((num(&m["params"]["n"]), num(&m["params"]["t"])), (n, t));
                let x = scal(&c["share_key_secret"]);
                let xk = elem(&m["share_key"]);
                assert_eq!(pt(mul_g(&x)), xk);
                let kctx = ctx16("urna/v1/dkg/share-key", &[n, t, i]);
                assert_eq!(kctx, bytes(&c["share_key_context"]));
                let ch = schnorr_again(
                    &f.0,
                    &kctx,
                    &x,
                    &scal(&c["share_key_proof_nonce"]),
                    &xk,
                    &m["share_key_proof"],
                );
                assert_eq!(ch, scal(&c["share_key_proof_challenge"]));
                let coefs = m["coefficients"].as_array().unwrap();
                assert_eq!(coefs.len() as u64, t);
                for (k, co) in coefs.iter().enumerate() {
                    let a = scal(&c["coefficient_secrets"][k]);
                    assert_ne!(a, Scalar::ZERO);
                    let ck = elem(&co["commitment"]);
                    assert_eq!(pt(mul_g(&a)), ck);
                    let cctx = ctx16("urna/v1/dkg/coefficient", &[n, t, i, k as u64]);
                    assert_eq!(cctx, bytes(&c["coefficient_contexts"][k]));
                    let u = scal(&c["coefficient_proof_nonces"][k]);
                    let ch = schnorr_again(&f.0, &cctx, &a, &u, &ck, &co["proof"]);
                    assert_eq!(ch, scal(&c["coefficient_proof_challenges"][k]));
                }
            }
            "round2" => {
                assert!(is_valid(c));
                let i = num(&c["dealer"]);
                let a = &secrets[&i].1;
                assert_eq!(poly(a, i), scal(&c["own_share"]));
                let m = &c["message"];
                assert_eq!(round2_bytes(m), bytes(&c["encoding"]));
                let decoded = Round2Message::decode(&bytes(&c["encoding"])).unwrap();
                let recipients: Vec<u64> = (1..=n).filter(|&j| j != i).collect();
                let listed = m["shares"].as_array().unwrap();
                assert_eq!(listed.len(), recipients.len());
                for ((sh, z), &j) in listed
                    .iter()
                    .zip(c["shares"].as_array().unwrap())
                    .zip(&recipients)
                {
                    assert_eq!(num(&sh["recipient"]), j);
                    assert_eq!(num(&z["recipient"]), j);
                    let sigma = scal(&z["share"]);
                    assert_eq!(sigma, poly(a, j), "{}", name(c));
                    let e = scal(&z["ephemeral_secret"]);
                    let big_e = pt(mul_g(&e));
                    assert_eq!(big_e, elem(&sh["ephemeral"]));
                    let s = pt(share_key(j).point() * e);
                    assert_eq!(s, pt(big_e.point() * secrets[&j].0));
                    assert_eq!(s, elem(&z["shared_secret"]));
                    let (_, key) = seal_key(&f.0, i as u16, j as u16, &big_e, &share_key(j), &s);
                    assert_eq!(
                        aead_seal(&key, &aad(i as u16, j as u16), &sigma.to_bytes()),
                        bytes(&sh["sealed"])
                    );
                }
                assert_eq!(decoded.shares.len(), recipients.len());
            }
            "seal" => {
                assert!(is_valid(c));
                assert_eq!(fp(&c["fingerprint"]), f);
                let (i, j) = (num(&c["dealer"]) as u16, num(&c["recipient"]) as u16);
                let xj = scal(&c["recipient_secret"]);
                let big_xj = pt(mul_g(&xj));
                assert_eq!(big_xj, elem(&c["recipient_key"]));
                let e = scal(&c["ephemeral_secret"]);
                let big_e = pt(mul_g(&e));
                assert_eq!(big_e, elem(&c["ephemeral"]));
                let s = pt(big_xj.point() * e);
                assert_eq!(s, pt(big_e.point() * xj));
                assert_eq!(s, elem(&c["shared_secret"]));
                let (tr, key) = seal_key(&f.0, i, j, &big_e, &big_xj, &s);
                assert_eq!(tr, bytes(&c["seal_key_transcript"]));
                assert_eq!(key.to_vec(), bytes(&c["seal_key"]));
                assert_eq!(bytes(&c["aead_nonce"]), [0u8; 12]);
                assert_eq!(bytes(&c["aad"]), aad(i, j));
                let sealed = aead_seal(&key, &aad(i, j), &scal(&c["share"]).to_bytes());
                assert_eq!(sealed, bytes(&c["sealed"]));
                assert_eq!(sealed, concat(&[&c["ciphertext"], &c["tag"]]));
            }
            "open" => {
                let sh: SealedShare = serde_json::from_value(c["sealed_share"].clone()).unwrap();
                let cf = fp(&c["fingerprint"]);
                let xj = scal(&c["recipient_secret"]);
                let big_xj = elem(&c["recipient_key"]);
                assert_eq!(pt(mul_g(&xj)), big_xj);
                let s = pt(sh.ephemeral.point() * xj);
                let (_, key) = seal_key(&cf.0, sh.dealer, sh.recipient, &sh.ephemeral, &big_xj, &s);
                let plain = aead_open(&key, &aad(sh.dealer, sh.recipient), &sh.sealed)
                    .and_then(|p| decode_scalar(&p).ok());
                assert_eq!(plain.is_some(), is_valid(c), "{}", name(c));
                if let Some(got) = outcome(c, sh.open_with_shared_secret(&cf, &big_xj, &s)) {
                    assert_eq!(got.expose(), &scal(&c["share"]));
                    assert_eq!(plain, Some(scal(&c["share"])));
                }
            }
            "complaint" => {
                assert_eq!(fp(&c["fingerprint"]), f);
                let dm = Round1Message::decode(&bytes(&c["dealer_round1"])).unwrap();
                let cm = Round1Message::decode(&bytes(&c["complainer_round1"])).unwrap();
                let sealed: SealedShare =
                    serde_json::from_value(c["sealed_share"].clone()).unwrap();
                let enc = bytes(&c["encoding"]);
                if let Some(cj) = c.get("complaint") {
                    assert_eq!(complaint_bytes(cj), enc);
                }
                // The complainer named in the encoding, who is out if rejected.
                let named_complainer = u64::from(u16::from_be_bytes([enc[3], enc[4]]));
                let verdict = Complaint::decode(&enc)
                    .map(|cp| judge_complaint(&f, &dm, &cm, &sealed, &cp, &mut rng()));
                match verdict {
                    Ok(ComplaintVerdict::Upheld(e)) => {
                        assert!(is_valid(c), "{}", name(c));
                        assert_eq!(c["verdict"], "upheld");
                        assert_eq!(kind(&e.into()), c["evidence"].as_str().unwrap());
                        assert_eq!(num(&c["disqualified"]), u64::from(dm.trustee));
                    }
                    Ok(ComplaintVerdict::Rejected(e)) | Err(e) => {
                        assert!(!is_valid(c), "{}: rejected with {e}", name(c));
                        assert_eq!(c["verdict"], "rejected");
                        assert_eq!(kind(&e.into()), c["error"].as_str().unwrap(), "{}", name(c));
                        assert_eq!(num(&c["disqualified"]), named_complainer);
                    }
                }
                if c.get("nonce").is_none() {
                    continue;
                }
                // An honestly made complaint: re-create it and judge it by hand.
                let cj = &c["complaint"];
                let (i, j) = (num(&cj["dealer"]), num(&cj["complainer"]));
                let xj = scal(&c["complainer_secret"]);
                let s = pt(sealed.ephemeral.point() * xj);
                assert_eq!(s, elem(&cj["shared_secret"]));
                let st = DleqStatement {
                    base: sealed.ephemeral,
                    public: cm.share_key,
                    image: s,
                };
                let cctx = ctx16("urna/v1/dkg/complaint", &[i, j]);
                assert_eq!(cctx, bytes(&c["context"]));
                let ch = dleq_again(&f.0, &cctx, &xj, &scal(&c["nonce"]), &st, &cj["proof"]);
                assert_eq!(ch, scal(&c["challenge"]));
                let (_, key) = seal_key(
                    &f.0,
                    i as u16,
                    j as u16,
                    &sealed.ephemeral,
                    &cm.share_key,
                    &s,
                );
                let judged = match aead_open(&key, &aad(i as u16, j as u16), &sealed.sealed)
                    .and_then(|p| decode_scalar(&p).ok())
                {
                    None => "unreadable_share",
                    Some(sigma) => {
                        let cs: Vec<RistrettoPoint> = dm
                            .coefficients
                            .iter()
                            .map(|k| *k.commitment.point())
                            .collect();
                        if pt(mul_g(&sigma)) == pt(feldman(&cs, j)) {
                            "unfounded_complaint"
                        } else {
                            "bad_share"
                        }
                    }
                };
                let stated = if is_valid(c) {
                    &c["evidence"]
                } else {
                    &c["error"]
                };
                assert_eq!(judged, stated.as_str().unwrap(), "{}", name(c));
            }
            "ceremony" => {
                let record: CeremonyRecord = serde_json::from_value(c["record"].clone()).unwrap();
                assert_eq!(record.manifest_hash, mh);
                let Some(out) = outcome(c, verify_ceremony(&record, None, &mut rng())) else {
                    continue;
                };
                let q: Vec<u64> = c["qualified"].as_array().unwrap().iter().map(num).collect();
                assert_eq!(
                    out.qualified
                        .iter()
                        .map(|&j| u64::from(j))
                        .collect::<Vec<_>>(),
                    q
                );
                let faults: Vec<Value> = out.faults.iter().map(fault_value).collect();
                assert_eq!(&faults, c["faults"].as_array().unwrap(), "{}", name(c));
                // By hand: A_k = Σ_{i∈Q} C_{i,k}, K = A_0, K_j = Σ_k j^k·A_k.
                let r1 = c["record"]["round1"].as_array().unwrap();
                let mut a = vec![RistrettoPoint::default(); t as usize];
                for m in r1.iter().filter(|m| q.contains(&num(&m["trustee"]))) {
                    for (ak, co) in a.iter_mut().zip(m["coefficients"].as_array().unwrap()) {
                        *ak += elem(&co["commitment"]).point();
                    }
                }
                let a: Vec<Element> = a.into_iter().map(pt).collect();
                let want: Vec<Element> = c["joint_commitments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(elem)
                    .collect();
                assert_eq!(a, want);
                assert_eq!(out.joint_commitments, want);
                let k = elem(&c["joint_key"]);
                assert_eq!(k, a[0]);
                assert_eq!(out.joint_key, k);
                let joint_secret: Scalar = q.iter().map(|i| secrets[i].1[0]).sum();
                assert_eq!(pt(mul_g(&joint_secret)), k);
                let ap: Vec<RistrettoPoint> = a.iter().map(|e| *e.point()).collect();
                let vks = c["verification_keys"].as_array().unwrap();
                let shares = c["secret_shares"].as_array().unwrap();
                assert_eq!(vks.len(), q.len());
                assert_eq!(shares.len(), q.len());
                for ((vk, sh), &j) in vks.iter().zip(shares).zip(&q) {
                    assert_eq!(num(&vk["trustee"]), j);
                    assert_eq!(num(&sh["trustee"]), j);
                    let kj = elem(&vk["verification_key"]);
                    assert_eq!(pt(feldman(&ap, j)), kj);
                    assert_eq!(out.verification_key(j as u16), Some(&kj));
                    let sj = scal(&sh["secret_share"]);
                    assert_eq!(sj, q.iter().map(|i| poly(&secrets[i].1, j)).sum::<Scalar>());
                    assert_eq!(pt(mul_g(&sj)), kj);
                }
                assert_eq!(
                    Fingerprint::election(&mh, &k),
                    fp(&c["election_fingerprint"])
                );
            }
            t => panic!("unknown type {t}"),
        }
    }
}

#[test]
fn threshold() {
    let v = load("threshold.json");
    let key = &v["key"];
    let t = num(&key["params"]["t"]);
    let n = num(&key["params"]["n"]);
    let f_poly: Vec<Scalar> = key["polynomial"]
        .as_array()
        .unwrap()
        .iter()
        .map(scal)
        .collect();
    assert_eq!(f_poly.len() as u64, t);
    assert_eq!(f_poly[0], scal(&key["joint_secret"]));
    let k = elem(&key["joint_key"]);
    assert_eq!(pt(mul_g(&f_poly[0])), k);
    let f = Fingerprint::election(&b32(&key["manifest_hash"]), &k);
    assert_eq!(f, fp(&key["fingerprint"]));
    let trustees = key["trustees"].as_array().unwrap();
    assert_eq!(trustees.len() as u64, n);
    let mut vk = BTreeMap::new();
    for (j, tr) in (1u64..).zip(trustees) {
        assert_eq!(num(&tr["trustee"]), j);
        let sj = scal(&tr["secret_share"]);
        assert_eq!(sj, poly(&f_poly, j));
        assert_eq!(pt(mul_g(&sj)), elem(&tr["verification_key"]));
        vk.insert(j, elem(&tr["verification_key"]));
    }
    let pk = PublicKey::new(k).unwrap();
    for c in cases(&v) {
        match c["type"].as_str().unwrap() {
            "partial" => {
                let enc = bytes(&c["encoding"]);
                let cf = fp(&c["fingerprint"]);
                let label = bytes(&c["label"]);
                let cipher = ct(&c["ciphertext"]);
                let key_j = elem(&c["verification_key"]);
                let res = (|| {
                    let p = PartialDecryption::decode(&enc)?;
                    verify_one(&p.check(&cf, &label, &cipher, &key_j), None, &mut rng())
                })();
                if outcome(c, res).is_none() {
                    continue;
                }
                let j = num(&c["trustee"]);
                assert_eq!(cf, f);
                assert_eq!(key_j, vk[&j]);
                let sj = scal(&c["secret_share"]);
                assert_eq!(sj, poly(&f_poly, j));
                let m = num(&c["message"]);
                assert_eq!(
                    pk.encrypt_with_nonce(m, &scal(&c["encryption_nonce"])),
                    cipher
                );
                let d = pt(cipher.alpha.point() * sj);
                assert_eq!(d, elem(&c["share"]));
                let mut pctx = ctx16("urna/v1/decrypt/partial", &[j]);
                pctx.extend_from_slice(cipher.beta.as_bytes());
                pctx.extend_from_slice(&label);
                assert_eq!(pctx, bytes(&c["context"]));
                let st = DleqStatement {
                    base: cipher.alpha,
                    public: key_j,
                    image: d,
                };
                let ch = dleq_again(&f.0, &pctx, &sj, &scal(&c["nonce"]), &st, &c["proof"]);
                assert_eq!(ch, scal(&c["challenge"]));
                let mut want = vec![1u8];
                want.extend(u16be(&c["trustee"]));
                want.extend(d.as_bytes());
                want.extend(dleq_bytes(&c["proof"]));
                assert_eq!(want, enc);
            }
            "lagrange" => {
                let set: Vec<u64> = c["indices"].as_array().unwrap().iter().map(num).collect();
                let set16: Vec<u16> = set.iter().map(|&j| j as u16).collect();
                if let Some(l) = outcome(c, lagrange_at_zero(&set16)) {
                    let want: Vec<Scalar> = c["coefficients"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(scal)
                        .collect();
                    assert_eq!(lagrange(&set), want, "{}", name(c));
                    assert_eq!(l, want);
                    // They interpolate F at 0.
                    let s: Scalar = set
                        .iter()
                        .zip(&want)
                        .map(|(&j, l)| l * poly(&f_poly, j))
                        .sum();
                    if set.len() as u64 >= t {
                        assert_eq!(s, f_poly[0]);
                    }
                }
            }
            "combine" => {
                let cipher = ct(&c["ciphertext"]);
                let ps: Vec<PartialDecryption> = c["partials"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| PartialDecryption::decode(&bytes(p)).unwrap())
                    .collect();
                let table = DlogTable::new(num(&c["dlog_bound"]));
                let thr = num(&c["threshold"]) as u16;
                assert_eq!(u64::from(thr), t);
                let Some(m) = outcome(c, combine(thr, &cipher, &ps, &table)) else {
                    continue;
                };
                assert_eq!(m, num(&c["plaintext"]));
                let set: Vec<u64> = ps.iter().map(|p| u64::from(p.trustee)).collect();
                let l = lagrange(&set);
                let want: Vec<Scalar> =
                    c["lagrange"].as_array().unwrap().iter().map(scal).collect();
                assert_eq!(l, want);
                let mut combined = RistrettoPoint::default();
                for (p, lj) in ps.iter().zip(&l) {
                    combined += p.share.point() * lj;
                }
                assert_eq!(pt(combined), elem(&c["combined"]));
                let plain = pt(cipher.beta.point() - combined);
                assert_eq!(plain, elem(&c["plaintext_element"]));
                assert_eq!(plain, pt(mul_h(&Scalar::from(m))));
            }
            t => panic!("unknown type {t}"),
        }
    }
}

#[test]
fn every_file_is_checked() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ballot.json",
            "dkg.json",
            "dleq.json",
            "elgamal.json",
            "encoding.json",
            "generators.json",
            "range.json",
            "ristretto255.json",
            "schnorr.json",
            "signature.json",
            "threshold.json",
            "transcript.json"
        ]
    );
}

#[cfg(feature = "insecure-deterministic-rng")]
#[test]
fn committed_vectors_match_the_generator() {
    let files = urna_crypto::test_vectors::generate().unwrap();
    assert_eq!(files.len(), 12);
    for (name, text) in files {
        let committed = std::fs::read_to_string(dir().join(name)).unwrap();
        assert!(
            committed == text,
            "spec/test-vectors/{name} differs from the generator's output; run \
             `cargo run -p urna-crypto --features insecure-deterministic-rng --bin urna-gen-test-vectors -- spec/test-vectors`"
        );
    }
}
