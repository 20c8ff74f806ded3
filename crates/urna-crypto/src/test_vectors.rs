//! Generator of the published test vectors in `spec/test-vectors/` (spec §10).
//!
//! **INSECURE. TEST ONLY.** This module exists only with the cargo feature
//! `insecure-deterministic-rng`. Everything in it derives "randomness" from
//! fixed public seeds so that the vectors are reproducible byte for byte.
//! Nothing here may ever be linked into a program that runs an election.
//!
//! The output is a list of `(file name, JSON text)`; the binary
//! `urna-gen-test-vectors` writes it to disk and the test
//! `committed_vectors_match_the_generator` compares it with the committed
//! files, so the two can never drift.

// Tables of test cases read best as tuples.
#![allow(clippy::type_complexity)]

use std::convert::Infallible;
use std::fmt::Write as _;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha512};

use crate::ballot::{Ballot, ContestShape};
use crate::batch::verify_one;
use crate::credential::{CredentialKey, Signature};
use crate::dlog::DlogTable;
use crate::elgamal::{Ciphertext, PublicKey, SecretScalar};
use crate::encoding::{Element, Reader, Writer, decode_scalar};
use crate::error::{Error, PeerError, UsageError};
use crate::group::{MESSAGE_BASE_LABEL, derive_generator, g, h, mul_g, mul_h};
use crate::proof::dleq::{DleqProof, DleqStatement};
use crate::proof::range::{RangeProof, RangeStatement};
use crate::proof::schnorr::SchnorrProof;
use crate::transcript::{Fingerprint, Transcript, domain};

/// **INSECURE — NEVER USE IN AN ELECTION.** A ChaCha20 generator seeded
/// with a fixed, public value, so that published test vectors are
/// reproducible. Anyone who knows the seed knows every key, nonce and vote
/// derived from it. This function exists only with the cargo feature
/// `insecure-deterministic-rng`, which no production build may enable.
pub fn insecure_test_rng(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}

/// The seed of one vector file: the first 32 bytes of
/// `SHA-512("urna/test-vectors/v1/" || file name)` (spec §10).
pub fn insecure_seed_for(file: &str) -> [u8; 32] {
    let d = Sha512::new()
        .chain_update(b"urna/test-vectors/v1/")
        .chain_update(file.as_bytes())
        .finalize();
    let mut s = [0u8; 32];
    s.copy_from_slice(&d[..32]);
    s
}

// ---------------------------------------------------------------------------
// Replay "RNG": feeds the provers exactly the nonces the generator chose, so
// that every nonce appears explicitly in the vectors. A scalar `x` is fed as
// the 64 bytes `x || 0^32`, which `Scalar::random` reduces back to `x`.
// ---------------------------------------------------------------------------

struct ReplayRng {
    bytes: Vec<u8>,
    pos: usize,
    overrun: bool,
}

impl ReplayRng {
    fn new() -> Self {
        ReplayRng {
            bytes: Vec::new(),
            pos: 0,
            overrun: false,
        }
    }
    fn scalar(&mut self, s: &Scalar) -> &mut Self {
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.extend_from_slice(&[0u8; 32]);
        self
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(b);
        self
    }
    fn done(&self) -> Result<(), Error> {
        if self.overrun || self.pos != self.bytes.len() {
            return Err(fail(
                "prover consumed a different amount of randomness than fed",
            ));
        }
        Ok(())
    }
}

impl TryRng for ReplayRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst.iter_mut() {
            match self.bytes.get(self.pos) {
                Some(b) => *d = *b,
                None => {
                    *d = 0;
                    self.overrun = true;
                }
            }
            self.pos += 1;
        }
        Ok(())
    }
}
// Only ever used to replay the generator's chosen nonces.
impl TryCryptoRng for ReplayRng {}

// ---------------------------------------------------------------------------
// A minimal JSON writer with a fixed, deterministic layout.
// ---------------------------------------------------------------------------

/// A JSON value (only what the vector files need).
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn s(v: impl Into<String>) -> J {
    J::Str(v.into())
}
fn x(b: &[u8]) -> J {
    J::Str(hex::encode(b))
}
fn el(e: &Element) -> J {
    x(e.as_bytes())
}
fn sc(v: &Scalar) -> J {
    x(v.as_bytes())
}
fn n(v: u64) -> J {
    J::Num(v)
}

struct O(Vec<(String, J)>);
impl O {
    fn new() -> Self {
        O(Vec::new())
    }
    fn k(mut self, key: &str, v: J) -> Self {
        self.0.push((key.to_string(), v));
        self
    }
    fn j(self) -> J {
        J::Obj(self.0)
    }
}

fn esc(out: &mut String, v: &str) {
    out.push('"');
    for ch in v.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn render(v: &J, ind: usize, out: &mut String) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(v) => {
            let _ = write!(out, "{v}");
        }
        J::Str(v) => esc(out, v),
        J::Arr(a) if a.is_empty() => out.push_str("[]"),
        J::Arr(a) => {
            out.push_str("[\n");
            for (i, e) in a.iter().enumerate() {
                pad(out, ind + 2);
                render(e, ind + 2, out);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            pad(out, ind);
            out.push(']');
        }
        J::Obj(o) if o.is_empty() => out.push_str("{}"),
        J::Obj(o) => {
            out.push_str("{\n");
            for (i, (k, e)) in o.iter().enumerate() {
                pad(out, ind + 2);
                esc(out, k);
                out.push_str(": ");
                render(e, ind + 2, out);
                out.push_str(if i + 1 < o.len() { ",\n" } else { "\n" });
            }
            pad(out, ind);
            out.push('}');
        }
    }
}

fn file(description: &str, section: &str, extra: Vec<(&str, J)>, cases: Vec<J>) -> String {
    let mut o = O::new()
        .k("description", s(description))
        .k("spec_section", s(section))
        .k(
            "generator",
            s("urna-gen-test-vectors (crates/urna-crypto/src/test_vectors.rs), INSECURE fixed seeds; see spec §10"),
        );
    for (k, v) in extra {
        o = o.k(k, v);
    }
    let mut out = String::new();
    render(&o.k("cases", J::Arr(cases)).j(), 0, &mut out);
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn fail(msg: &str) -> Error {
    Error::Usage(UsageError::Parameters(format!(
        "test vector generator: {msg}"
    )))
}

/// The stable error-kind string of an error (spec §10).
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Peer(p) => peer_kind(p),
        Error::Usage(UsageError::DlogNotFound(_)) => "dlog_not_found",
        Error::Usage(UsageError::NotEnoughShares { .. }) => "not_enough_shares",
        Error::Usage(UsageError::DuplicateTrustee(_)) => "duplicate_trustee",
        Error::Usage(_) => "usage",
    }
}

fn peer_kind(p: &PeerError) -> &'static str {
    p.code()
}

/// Checks that `r` failed with `kind` and returns the kind for the JSON.
fn expect_err<T>(r: Result<T, impl Into<Error>>, kind: &'static str) -> Result<J, Error> {
    match r {
        Ok(_) => Err(fail(&format!("expected {kind}, but it succeeded"))),
        Err(e) => {
            let e = e.into();
            if error_kind(&e) == kind {
                Ok(s(kind))
            } else {
                Err(fail(&format!("expected {kind}, got {e}")))
            }
        }
    }
}

fn ok<T>(r: Result<T, impl Into<Error>>) -> Result<T, Error> {
    r.map_err(Into::into)
}

fn weights() -> ChaCha20Rng {
    // Verification weights need no secrecy in a generator.
    insecure_test_rng([7u8; 32])
}

fn rand_scalar(rng: &mut ChaCha20Rng) -> Scalar {
    Scalar::random(rng)
}

fn rand_bytes<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

fn pt(p: RistrettoPoint) -> Element {
    Element::from_point(p)
}

fn ct_json(c: &Ciphertext) -> J {
    O::new().k("alpha", el(&c.alpha)).k("beta", el(&c.beta)).j()
}

fn valid(o: O) -> J {
    o.k("valid", J::Bool(true)).j()
}

fn invalid(o: O, err: J) -> J {
    o.k("valid", J::Bool(false)).k("error", err).j()
}

/// The election every proof vector is bound to.
struct Election {
    manifest_hash: [u8; 32],
    secret: Scalar,
    key: PublicKey,
    fp: Fingerprint,
}

impl Election {
    fn new(rng: &mut ChaCha20Rng) -> Result<Self, Error> {
        let manifest_hash = rand_bytes::<32>(rng);
        let secret = rand_scalar(rng);
        let key = ok(PublicKey::new(pt(mul_g(&secret))))?;
        let fp = Fingerprint::election(&manifest_hash, key.element());
        Ok(Election {
            manifest_hash,
            secret,
            key,
            fp,
        })
    }
    fn json(&self) -> J {
        O::new()
            .k("manifest_hash", x(&self.manifest_hash))
            .k("secret_key", sc(&self.secret))
            .k("joint_key", el(self.key.element()))
            .k("fingerprint", x(&self.fp.0))
            .j()
    }
}

const CONTEXT: &[u8] = b"urna test context";

// dkg.json and threshold.json (spec §8, §9).
#[path = "test_vectors_dkg.rs"]
mod dkg_vectors;

/// All vector files, in a fixed order: `(file name, JSON text)`.
pub fn generate() -> Result<Vec<(&'static str, String)>, Error> {
    Ok(vec![
        ("ristretto255.json", ristretto255()?),
        ("encoding.json", encoding()?),
        ("generators.json", generators()?),
        ("transcript.json", transcript()?),
        ("elgamal.json", elgamal()?),
        ("schnorr.json", schnorr()?),
        ("dleq.json", dleq()?),
        ("range.json", range()?),
        ("signature.json", signature()?),
        ("ballot.json", ballot()?),
        ("dkg.json", dkg_vectors::dkg()?),
        ("threshold.json", dkg_vectors::threshold()?),
    ])
}

// ---------------------------------------------------------------------------
// ristretto255.json: RFC 9496 Appendix A
// ---------------------------------------------------------------------------

/// RFC 9496 Appendix A.1: encodings of 0·G … 15·G.
const RFC_MULTIPLES: [&str; 16] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
];

/// RFC 9496 Appendix A.2: invalid encodings, with the RFC's grouping.
const RFC_INVALID: [(&str, &str); 29] = [
    (
        "non-canonical field encoding",
        "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    (
        "non-canonical field encoding",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "non-canonical field encoding",
        "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "non-canonical field encoding",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "negative field element",
        "0100000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "negative field element",
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "negative field element",
        "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    ),
    (
        "negative field element",
        "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    ),
    (
        "negative field element",
        "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
    ),
    (
        "negative field element",
        "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
    ),
    (
        "negative field element",
        "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
    ),
    (
        "negative field element",
        "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    ),
    (
        "non-square x^2",
        "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    ),
    (
        "non-square x^2",
        "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    ),
    (
        "non-square x^2",
        "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    ),
    (
        "non-square x^2",
        "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
    ),
    (
        "non-square x^2",
        "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
    ),
    (
        "non-square x^2",
        "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
    ),
    (
        "non-square x^2",
        "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
    ),
    (
        "non-square x^2",
        "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    ),
    (
        "negative xy value",
        "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    ),
    (
        "negative xy value",
        "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    ),
    (
        "negative xy value",
        "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    ),
    (
        "negative xy value",
        "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
    ),
    (
        "negative xy value",
        "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
    ),
    (
        "negative xy value",
        "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
    ),
    (
        "negative xy value",
        "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
    ),
    (
        "negative xy value",
        "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    ),
    (
        "s = -1, which causes y = 0",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
];

/// RFC 9496 Appendix A.3: element derivation from 64 uniform bytes.
const RFC_DERIVE: [(&str, &str); 11] = [
    (
        "5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c14d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6",
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46",
    ),
    (
        "f116b34b8f17ceb56e8732a60d913dd10cce47a6d53bee9204be8b44f6678b270102a56902e2488c46120e9276cfe54638286b9e4b3cdb470b542d46c2068d38",
        "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b",
    ),
    (
        "8422e1bbdaab52938b81fd602effb6f89110e1e57208ad12d9ad767e2e25510c27140775f9337088b982d83d7fcf0b2fa1edffe51952cbe7365e95c86eaf325c",
        "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826",
    ),
    (
        "ac22415129b61427bf464e17baee8db65940c233b98afce8d17c57beeb7876c2150d15af1cb1fb824bbd14955f2b57d08d388aab431a391cfc33d5bafb5dbbaf",
        "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a",
    ),
    (
        "165d697a1ef3d5cf3c38565beefcf88c0f282b8e7dbd28544c483432f1cec7675debea8ebb4e5fe7d6f6e5db15f15587ac4d4d4a1de7191e0c1ca6664abcc413",
        "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179",
    ),
    (
        "a836e6c9a9ca9f1e8d486273ad56a78c70cf18f0ce10abb1c7172ddd605d7fd2979854f47ae1ccf204a33102095b4200e5befc0465accc263175485f0e17ea5c",
        "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628",
    ),
    (
        "2cdc11eaeb95daf01189417cdddbf95952993aa9cb9c640eb5058d09702c74622c9965a697a3b345ec24ee56335b556e677b30e6f90ac77d781064f866a3c982",
        "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065",
    ),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1200000000000000000000000000000000000000000000000000000000000000",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000080ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
    (
        "00000000000000000000000000000000000000000000000000000000000000001200000000000000000000000000000000000000000000000000000000000080",
        "304282791023b73128d277bdcb5c7746ef2eac08dde9f2983379cb8e5ef0517f",
    ),
];

fn hex32(v: &str) -> Result<[u8; 32], Error> {
    hex::decode(v)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| fail("bad hex constant"))
}

fn ristretto255() -> Result<String, Error> {
    let mut cases = Vec::new();
    let mut p = RistrettoPoint::default();
    for (i, enc) in RFC_MULTIPLES.iter().enumerate() {
        if hex::encode(p.compress().to_bytes()) != *enc {
            return Err(fail("RFC 9496 A.1 vector does not match"));
        }
        cases.push(valid(
            O::new()
                .k("name", s(format!("A.1 multiple {i}·G")))
                .k("type", s("multiple"))
                .k("scalar", n(i as u64))
                .k("encoding", s(*enc)),
        ));
        p += g().point();
    }
    for (i, (why, enc)) in RFC_INVALID.iter().enumerate() {
        let err = expect_err(Element::decode(&hex32(enc)?), "non_canonical_element")?;
        cases.push(invalid(
            O::new()
                .k("name", s(format!("A.2 invalid {i}: {why}")))
                .k("type", s("decode"))
                .k("encoding", s(*enc)),
            err,
        ));
    }
    for (i, (input, out)) in RFC_DERIVE.iter().enumerate() {
        let b: [u8; 64] = hex::decode(input)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| fail("bad hex constant"))?;
        if hex::encode(RistrettoPoint::from_uniform_bytes(&b).compress().to_bytes()) != *out {
            return Err(fail("RFC 9496 A.3 vector does not match"));
        }
        cases.push(valid(
            O::new()
                .k("name", s(format!("A.3 element derivation {i}")))
                .k("type", s("derive"))
                .k("uniform_bytes", s(*input))
                .k("encoding", s(*out)),
        ));
    }
    Ok(file(
        "ristretto255 test vectors from RFC 9496 (The ristretto255 and decaf448 Groups, December 2023), Appendix A: A.1 encodings of the multiples 0..15 of the generator; A.2 invalid encodings that every decoder must reject; A.3 element derivation (the one-way map of §4.3.4) from 64 uniform bytes. Transcribed from the RFC's published test data (https://www.rfc-editor.org/rfc/rfc9496#appendix-A) and checked against curve25519-dalek by the generator.",
        "§2.2, §2.5",
        vec![],
        cases,
    ))
}

// ---------------------------------------------------------------------------
// encoding.json
// ---------------------------------------------------------------------------

fn encoding() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("encoding.json"));
    let mut cases = Vec::new();
    let l = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")?;
    let add = |a: [u8; 32], v: u16| {
        let mut out = a;
        let mut carry = v;
        for b in out.iter_mut() {
            let t = u16::from(*b) + carry;
            *b = t as u8;
            carry = t >> 8;
        }
        out
    };
    let sub1 = |a: [u8; 32]| {
        let mut out = a;
        for b in out.iter_mut() {
            let (v, borrow) = b.overflowing_sub(1);
            *b = v;
            if !borrow {
                break;
            }
        }
        out
    };
    let r = rand_scalar(&mut rng).to_bytes();
    let mut p255 = [0xffu8; 32];
    p255[31] = 0x7f;
    let mut two252 = [0u8; 32];
    two252[31] = 0x10;
    let mut two253 = [0u8; 32];
    two253[31] = 0x20;
    let scalar_cases: Vec<(&str, [u8; 32])> = vec![
        ("zero", [0u8; 32]),
        ("one", Scalar::ONE.to_bytes()),
        ("random canonical", r),
        ("2^252 (below ℓ)", two252),
        ("ℓ − 1 (largest canonical)", sub1(l)),
        ("ℓ (smallest non-canonical)", l),
        ("ℓ + 1", add(l, 1)),
        ("random + ℓ (same value mod ℓ)", add_bytes(&r, &l)),
        ("2^253", two253),
        ("2^255 − 1", p255),
        ("2^256 − 1", [0xffu8; 32]),
    ];
    for (name, b) in scalar_cases {
        let o = O::new()
            .k("name", s(format!("scalar: {name}")))
            .k("type", s("scalar"))
            .k("hex", x(&b));
        cases.push(match decode_scalar(&b) {
            Ok(v) => {
                if v.to_bytes() != b {
                    return Err(fail("scalar round trip"));
                }
                valid(o)
            }
            Err(e) => invalid(o, expect_err(Err::<(), _>(e), "non_canonical_scalar")?),
        });
    }
    // Elements.
    let rp = pt(mul_g(&rand_scalar(&mut rng)));
    let elements: Vec<(&str, [u8; 32], bool, Option<&'static str>)> = vec![
        ("generator G", *g().as_bytes(), false, None),
        ("message base H", *h().as_bytes(), false, None),
        ("random element", *rp.as_bytes(), false, None),
        ("identity, identity allowed", [0u8; 32], true, None),
        (
            "identity, identity forbidden",
            [0u8; 32],
            false,
            Some("identity_element"),
        ),
        (
            "non-canonical: p = 2^255 − 19 (encodes 0 unreduced)",
            hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")?,
            true,
            Some("non_canonical_element"),
        ),
        (
            "non-canonical: high bit set on G",
            {
                let mut b = *g().as_bytes();
                b[31] |= 0x80;
                b
            },
            true,
            Some("non_canonical_element"),
        ),
        (
            "negative field element (s = 1)",
            {
                let mut b = [0u8; 32];
                b[0] = 1;
                b
            },
            true,
            Some("non_canonical_element"),
        ),
        (
            "negative: G's encoding + 1 (odd)",
            {
                let mut b = *g().as_bytes();
                b[0] |= 1;
                b
            },
            true,
            Some("non_canonical_element"),
        ),
        (
            "off-curve: non-square x^2 (RFC 9496 A.2)",
            hex32("26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371")?,
            true,
            Some("non_canonical_element"),
        ),
        (
            "negative xy (RFC 9496 A.2)",
            hex32("3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e")?,
            true,
            Some("non_canonical_element"),
        ),
    ];
    for (name, b, allow, err) in elements {
        let o = O::new()
            .k("name", s(format!("element: {name}")))
            .k("type", s("element"))
            .k("hex", x(&b))
            .k("identity_allowed", J::Bool(allow));
        let res = if allow {
            Element::decode(&b)
        } else {
            Element::decode_non_identity(&b)
        };
        cases.push(match err {
            None => {
                let e = ok(res)?;
                if *e.as_bytes() != b {
                    return Err(fail("element round trip"));
                }
                valid(o)
            }
            Some(k) => invalid(o, expect_err(res, k)?),
        });
    }
    // JSON hex forms (§2.4).
    let gh = g().to_hex();
    for (name, text, err) in [
        ("lower-case hex", gh.clone(), None),
        ("upper-case hex", gh.to_uppercase(), Some("hex")),
        ("31 bytes", gh[..62].to_string(), Some("hex")),
        ("33 bytes", format!("{gh}00"), Some("hex")),
        ("odd number of digits", gh[..63].to_string(), Some("hex")),
        ("non-hex character", format!("{}g", &gh[..63]), Some("hex")),
    ] {
        let o = O::new()
            .k("name", s(format!("json element hex: {name}")))
            .k("type", s("element_json"))
            .k("text", s(text.clone()))
            .k("identity_allowed", J::Bool(true));
        let res = Element::from_hex(&text);
        cases.push(match err {
            None => {
                ok(res)?;
                valid(o)
            }
            Some(k) => invalid(o, expect_err(res, k)?),
        });
    }
    // Integers and length-prefixed fields (§2.3).
    let mut w = Writer::new();
    w.u8(0xab)
        .u16(0x0102)
        .u32(0x0304_0506)
        .u64(0x0708_090a_0b0c_0d0e);
    ok(w.bytes32(b"urna"))?;
    let ints = w.finish();
    let ints_json = |o: O| {
        o.k("type", s("integers"))
            .k("u8", n(0xab))
            .k("u16", n(0x0102))
            .k("u32", n(0x0304_0506))
            .k("u64", n(0x0708_090a_0b0c_0d0e))
            .k("bytes32", x(b"urna"))
    };
    let read = |b: &[u8]| -> Result<(), PeerError> {
        let mut r = Reader::new(b);
        r.u8()?;
        r.u16()?;
        r.u32()?;
        r.u64()?;
        r.bytes32("field", 1024)?;
        r.finish()
    };
    ok(read(&ints))?;
    cases.push(valid(
        ints_json(O::new().k(
            "name",
            s("integers: u8, u16, u32, u64 big-endian, then a u32-length-prefixed field"),
        ))
        .k("hex", x(&ints)),
    ));
    let short = &ints[..ints.len() - 1];
    cases.push(invalid(
        ints_json(O::new().k("name", s("integers: truncated by one byte"))).k("hex", x(short)),
        expect_err(read(short), "truncated")?,
    ));
    let mut long = ints.clone();
    long.push(0);
    cases.push(invalid(
        ints_json(O::new().k("name", s("integers: one trailing byte"))).k("hex", x(&long)),
        expect_err(read(&long), "trailing_bytes")?,
    ));
    let mut big = ints.clone();
    let at = 1 + 2 + 4 + 8;
    big[at..at + 4].copy_from_slice(&1025u32.to_be_bytes());
    cases.push(invalid(
        ints_json(O::new().k(
            "name",
            s("integers: length prefix 1025 above the field's maximum 1024"),
        ))
        .k("hex", x(&big)),
        expect_err(read(&big), "out_of_bounds")?,
    ));
    Ok(file(
        "Canonical encodings: scalars (32 bytes little-endian, value < ℓ), ristretto255 elements (RFC 9496 canonical encoding; identity only where allowed), their JSON hex forms, and big-endian integers with strict reading. For 'integers' cases the fields are read in the order u8, u16, u32, u64, bytes32 (max 1024) and nothing may remain.",
        "§2",
        vec![],
        cases,
    ))
}

fn add_bytes(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    out
}

// ---------------------------------------------------------------------------
// generators.json, transcript.json
// ---------------------------------------------------------------------------

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

fn generators() -> Result<String, Error> {
    let mut cases = vec![valid(
        O::new()
            .k("name", s("G: the ristretto255 generator"))
            .k("type", s("base"))
            .k("element", el(&g())),
    )];
    for label in [MESSAGE_BASE_LABEL, "urna/v1/test/a", "urna/v1/test/b", ""] {
        let t = framed(domain::GENERATOR, &[("label", label.as_bytes())]);
        let d: [u8; 64] = Sha512::digest(&t).into();
        let e = derive_generator(label);
        if *e.as_bytes() != RistrettoPoint::from_uniform_bytes(&d).compress().to_bytes() {
            return Err(fail("generator derivation"));
        }
        let name = if label == MESSAGE_BASE_LABEL {
            "H: the message base".to_string()
        } else {
            format!("label {label:?}")
        };
        cases.push(valid(
            O::new()
                .k("name", s(name))
                .k("type", s("derived"))
                .k("label", s(label))
                .k("transcript", x(&t))
                .k("sha512", x(&d))
                .k("element", el(&e)),
        ));
    }
    Ok(file(
        "Generators: G is the ristretto255 base point; H and any other generator is derived from a label as element_derivation(SHA-512(T)) with T the framed transcript of domain \"urna/v1/generator\" and one field (\"label\", label bytes).",
        "§2.5",
        vec![],
        cases,
    ))
}

fn transcript() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("transcript.json"));
    let mut cases = Vec::new();
    let rnd: [u8; 40] = rand_bytes(&mut rng);
    let fieldsets: Vec<(&str, &'static str, Vec<(&'static str, Vec<u8>)>)> = vec![
        ("domain only", domain::PROOF_SCHNORR, vec![]),
        (
            "empty label and data",
            domain::PROOF_DLEQ,
            vec![("", vec![])],
        ),
        (
            "framing: label \"ab\", data \"c\"",
            domain::PROOF_DLEQ,
            vec![("ab", b"c".to_vec())],
        ),
        (
            "framing: label \"a\", data \"bc\"",
            domain::PROOF_DLEQ,
            vec![("a", b"bc".to_vec())],
        ),
        (
            "several fields",
            domain::PROOF_RANGE,
            vec![
                ("fingerprint", rnd[..32].to_vec()),
                ("context", b"ctx".to_vec()),
                ("lo", 0u64.to_be_bytes().to_vec()),
                ("hi", 1u64.to_be_bytes().to_vec()),
            ],
        ),
        (
            "random data",
            domain::SIGNATURE,
            vec![("message", rnd.to_vec())],
        ),
    ];
    for (name, d, fields) in fieldsets {
        let mut t = Transcript::new(d);
        for (l, v) in &fields {
            t.append(l, v);
        }
        let refs: Vec<(&str, &[u8])> = fields.iter().map(|(l, v)| (*l, v.as_slice())).collect();
        let bytes = framed(d, &refs);
        let full: [u8; 64] = Sha512::digest(&bytes).into();
        if t.clone().digest64() != full {
            return Err(fail("transcript framing"));
        }
        let c = t.clone().challenge();
        if c != Scalar::from_bytes_mod_order_wide(&full) {
            return Err(fail("challenge"));
        }
        cases.push(valid(
            O::new()
                .k("name", s(name))
                .k("type", s("transcript"))
                .k("domain", s(d))
                .k(
                    "fields",
                    J::Arr(
                        fields
                            .iter()
                            .map(|(l, v)| O::new().k("label", s(*l)).k("data", x(v)).j())
                            .collect(),
                    ),
                )
                .k("framed", x(&bytes))
                .k("sha512", x(&full))
                .k("challenge", sc(&c))
                .k("digest32", x(&t.digest32())),
        ));
    }
    let manifest: [u8; 32] = rand_bytes(&mut rng);
    let key = pt(mul_g(&rand_scalar(&mut rng)));
    let fc = Fingerprint::ceremony(&manifest);
    cases.push(valid(
        O::new()
            .k("name", s("ceremony fingerprint"))
            .k("type", s("fingerprint_ceremony"))
            .k("manifest_hash", x(&manifest))
            .k(
                "framed",
                x(&framed(
                    domain::FINGERPRINT_CEREMONY,
                    &[("manifest_hash", &manifest)],
                )),
            )
            .k("fingerprint", x(&fc.0)),
    ));
    let fe = Fingerprint::election(&manifest, &key);
    cases.push(valid(
        O::new()
            .k("name", s("election fingerprint"))
            .k("type", s("fingerprint_election"))
            .k("manifest_hash", x(&manifest))
            .k("joint_key", el(&key))
            .k(
                "framed",
                x(&framed(
                    domain::FINGERPRINT_ELECTION,
                    &[("manifest_hash", &manifest), ("joint_key", key.as_bytes())],
                )),
            )
            .k("fingerprint", x(&fe.0)),
    ));
    Ok(file(
        "Fiat-Shamir transcript: framing u32be(len)||bytes for the domain, then for each field the label and the data; sha512 = SHA-512(framed); challenge = sha512 read as a 512-bit little-endian integer mod ℓ; digest32 = first 32 bytes of sha512; fingerprints.",
        "§3",
        vec![],
        cases,
    ))
}

// ---------------------------------------------------------------------------
// elgamal.json
// ---------------------------------------------------------------------------

fn elgamal() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("elgamal.json"));
    let e = Election::new(&mut rng)?;
    let mut cases = Vec::new();
    cases.push(valid(
        O::new()
            .k("name", s("key pair"))
            .k("type", s("keypair"))
            .k("secret_key", sc(&e.secret))
            .k("public_key", el(e.key.element())),
    ));
    let table = DlogTable::new(1000);
    let mut cts = Vec::new();
    let mut msgs = 0u64;
    for m in [0u64, 1, 2, 5, 255, 1000] {
        let r = rand_scalar(&mut rng);
        let c = e.key.encrypt_with_nonce(m, &r);
        let mut w = Writer::new();
        c.encode(&mut w);
        let dec = pt(c.beta.point() - c.alpha.point() * e.secret);
        let mh = pt(mul_h(&Scalar::from(m)));
        if dec != mh || ok(table.solve(&dec))? != m {
            return Err(fail("decryption"));
        }
        cases.push(valid(
            O::new()
                .k("name", s(format!("encrypt {m}")))
                .k("type", s("encrypt"))
                .k("public_key", el(e.key.element()))
                .k("secret_key", sc(&e.secret))
                .k("message", n(m))
                .k("nonce", sc(&r))
                .k("ciphertext", ct_json(&c))
                .k("encoding", x(&w.finish()))
                .k("decrypted", el(&dec))
                .k("dlog_bound", n(1000)),
        ));
        if m <= 5 {
            msgs += m;
            cts.push(c);
        }
    }
    let sum = Ciphertext::sum(&cts);
    let dec = pt(sum.beta.point() - sum.alpha.point() * e.secret);
    if ok(table.solve(&dec))? != msgs {
        return Err(fail("sum"));
    }
    cases.push(valid(
        O::new()
            .k(
                "name",
                s("homomorphic sum of the encryptions of 0, 1, 2, 5"),
            )
            .k("type", s("sum"))
            .k("secret_key", sc(&e.secret))
            .k("ciphertexts", J::Arr(cts.iter().map(ct_json).collect()))
            .k("sum", ct_json(&sum))
            .k("decrypted", el(&dec))
            .k("message", n(msgs)),
    ));
    let base = cts.get(3).copied().ok_or_else(|| fail("cts"))?;
    let r2 = rand_scalar(&mut rng);
    let mut rr = ReplayRng::new();
    rr.scalar(&r2);
    let re = e.key.reencrypt(&base, &mut rr);
    rr.done()?;
    if re != base.add(&e.key.encrypt_with_nonce(0, &r2)) {
        return Err(fail("re-encryption"));
    }
    cases.push(valid(
        O::new()
            .k("name", s("re-encryption: (α + r'·G, β + r'·K)"))
            .k("type", s("reencrypt"))
            .k("public_key", el(e.key.element()))
            .k("ciphertext", ct_json(&base))
            .k("nonce", sc(&r2))
            .k("result", ct_json(&re)),
    ));
    // Decoding rules (§4.5).
    let good = cts.get(1).copied().ok_or_else(|| fail("cts"))?;
    let mut w = Writer::new();
    good.encode(&mut w);
    let gb = w.finish();
    let dec_ct = |b: &[u8]| -> Result<Ciphertext, PeerError> {
        let mut r = Reader::new(b);
        let c = Ciphertext::decode(&mut r)?;
        r.finish()?;
        Ok(c)
    };
    ok(dec_ct(&gb))?;
    let mut idb = gb.clone();
    idb[..32].fill(0);
    let mut beta_id = gb.clone();
    beta_id[32..].fill(0);
    ok(dec_ct(&beta_id))?;
    let mut neg = gb.clone();
    neg[32] |= 1;
    for (name, b, err) in [
        ("ciphertext: canonical", gb.clone(), None),
        ("ciphertext: β = identity is allowed", beta_id, None),
        ("ciphertext: α = identity", idb, Some("identity_element")),
        (
            "ciphertext: β not canonical",
            neg,
            Some("non_canonical_element"),
        ),
        ("ciphertext: 63 bytes", gb[..63].to_vec(), Some("truncated")),
        (
            "ciphertext: 65 bytes",
            [gb.as_slice(), &[0]].concat(),
            Some("trailing_bytes"),
        ),
    ] {
        let o = O::new()
            .k("name", s(name))
            .k("type", s("decode"))
            .k("encoding", x(&b));
        cases.push(match err {
            None => valid(o),
            Some(k) => invalid(o, expect_err(dec_ct(&b), k)?),
        });
    }
    cases.push(invalid(
        O::new()
            .k("name", s("public key = identity"))
            .k("type", s("public_key"))
            .k("public_key", el(&Element::identity())),
        expect_err(PublicKey::new(Element::identity()), "identity_element")?,
    ));
    // Discrete logarithms (§5).
    for (m, bound) in [
        (0u64, 10u64),
        (10, 10),
        (4095, 100_000),
        (4096, 100_000),
        (100_000, 100_000),
        (11, 10),
        (100_001, 100_000),
    ] {
        let y = pt(mul_h(&Scalar::from(m)));
        let t = DlogTable::new(bound);
        let o = O::new()
            .k("name", s(format!("dlog of {m}·H with bound {bound}")))
            .k("type", s("dlog"))
            .k("element", el(&y))
            .k("bound", n(bound));
        cases.push(if m <= bound {
            if ok(t.solve(&y))? != m {
                return Err(fail("dlog"));
            }
            valid(o.k("log", n(m)))
        } else {
            invalid(o, expect_err(t.solve(&y), "dlog_not_found")?)
        });
    }
    Ok(file(
        "Exponential ElGamal over ristretto255: α = r·G, β = m·H + r·K; decrypted = β − s·α = m·H; sums; re-encryption; ciphertext decoding (α ≠ identity); bounded discrete log base H.",
        "§4, §5",
        vec![("election", e.json())],
        cases,
    ))
}

// ---------------------------------------------------------------------------
// schnorr.json, dleq.json
// ---------------------------------------------------------------------------

fn tamper_scalar(b: &mut [u8], at: usize) {
    // Flip the lowest bit of a little-endian scalar: stays canonical.
    b[at] ^= 1;
}

/// Replaces the scalar at `at` by its value + ℓ (same value, non-canonical).
fn unreduce(b: &mut [u8], at: usize) -> Result<(), Error> {
    let l = hex32("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")?;
    let mut v = [0u8; 32];
    v.copy_from_slice(&b[at..at + 32]);
    // Scalars and ℓ are below 2^253, so the sum fits 32 bytes.
    b[at..at + 32].copy_from_slice(&add_bytes(&v, &l));
    Ok(())
}

fn schnorr() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("schnorr.json"));
    let e = Election::new(&mut rng)?;
    let mut cases = Vec::new();
    let xs = rand_scalar(&mut rng);
    let other = pt(mul_g(&rand_scalar(&mut rng)));
    let public = pt(mul_g(&xs));
    let u = rand_scalar(&mut rng);
    let mut rr = ReplayRng::new();
    rr.scalar(&u);
    let proof = SchnorrProof::prove(&e.fp, CONTEXT, &SecretScalar::new(xs), &public, &mut rr);
    rr.done()?;
    let mut w = Writer::new();
    proof.encode(&mut w);
    let pb = w.finish();
    let mut t = Transcript::new(domain::PROOF_SCHNORR);
    t.append_fingerprint(&e.fp)
        .append("context", CONTEXT)
        .append_element("statement", &public)
        .append_element("commitment", &proof.commitment);
    let c = t.challenge();
    let other_fp = Fingerprint::ceremony(&e.manifest_hash);
    let verify = |fp: &Fingerprint, ctx: &[u8], pk: &Element, b: &[u8]| -> Result<(), PeerError> {
        let mut r = Reader::new(b);
        let p = SchnorrProof::decode(&mut r)?;
        r.finish()?;
        verify_one(&p.statement(fp, ctx, pk), None, &mut weights())
    };
    let base = |name: &str, fp: &Fingerprint, ctx: &[u8], pk: &Element, b: &[u8]| {
        O::new()
            .k("name", s(name))
            .k("fingerprint", x(&fp.0))
            .k("context", x(ctx))
            .k("public", el(pk))
            .k(
                "proof",
                O::new()
                    .k("commitment", x(&b[..32.min(b.len())]))
                    .k("response", x(b.get(32..).unwrap_or(&[])))
                    .j(),
            )
            .k("proof_encoding", x(b))
    };
    ok(verify(&e.fp, CONTEXT, &public, &pb))?;
    cases.push(valid(
        base("valid proof", &e.fp, CONTEXT, &public, &pb)
            .k("secret", sc(&xs))
            .k("nonce", sc(&u))
            .k("challenge", sc(&c)),
    ));
    let mut z1 = pb.clone();
    tamper_scalar(&mut z1, 32);
    let mut a1 = pb.clone();
    a1[..32].copy_from_slice(other.as_bytes());
    let mut zn = pb.clone();
    unreduce(&mut zn, 32)?;
    let mut an = pb.clone();
    an[0] |= 1;
    let invalids: Vec<(&str, &Fingerprint, &[u8], &Element, Vec<u8>, &str)> = vec![
        (
            "tampered response z",
            &e.fp,
            CONTEXT,
            &public,
            z1,
            "invalid_proof",
        ),
        (
            "tampered commitment A",
            &e.fp,
            CONTEXT,
            &public,
            a1,
            "invalid_proof",
        ),
        (
            "wrong statement (other public key)",
            &e.fp,
            CONTEXT,
            &other,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "wrong fingerprint (ceremony instead of election)",
            &other_fp,
            CONTEXT,
            &public,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "wrong context",
            &e.fp,
            b"urna test context!",
            &public,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "non-canonical response (z + ℓ)",
            &e.fp,
            CONTEXT,
            &public,
            zn,
            "non_canonical_scalar",
        ),
        (
            "non-canonical commitment",
            &e.fp,
            CONTEXT,
            &public,
            an,
            "non_canonical_element",
        ),
        (
            "truncated proof",
            &e.fp,
            CONTEXT,
            &public,
            pb[..63].to_vec(),
            "truncated",
        ),
    ];
    for (name, fp, ctx, xx, b, kind) in invalids {
        let err = expect_err(verify(fp, ctx, xx, &b), kind)?;
        cases.push(invalid(base(name, fp, ctx, xx, &b), err));
    }
    Ok(file(
        "Schnorr proof of knowledge of x with X = x·G: A = u·G, c = T(\"urna/v1/proof/schnorr\"; fingerprint, context, statement = X, commitment = A), z = u + c·x; check A + c·X − z·G = 0. Inputs of every case: fingerprint, context, public, proof_encoding (authoritative; 'proof' splits it).",
        "§6.2",
        vec![("election", e.json())],
        cases,
    ))
}

fn dleq() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("dleq.json"));
    let e = Election::new(&mut rng)?;
    let mut cases = Vec::new();
    let sx = rand_scalar(&mut rng);
    // A partial decryption: Y = α of a ciphertext, X = s·G, Z = s·α.
    let (ct, _) = {
        let r = rand_scalar(&mut rng);
        (e.key.encrypt_with_nonce(1, &r), r)
    };
    let st = DleqStatement {
        base: ct.alpha,
        public: pt(mul_g(&sx)),
        image: pt(ct.alpha.point() * sx),
    };
    let u = rand_scalar(&mut rng);
    let mut rr = ReplayRng::new();
    rr.scalar(&u);
    let proof = DleqProof::prove(&e.fp, CONTEXT, &SecretScalar::new(sx), &st, &mut rr);
    rr.done()?;
    let mut w = Writer::new();
    proof.encode(&mut w);
    let pb = w.finish();
    let mut t = Transcript::new(domain::PROOF_DLEQ);
    t.append_fingerprint(&e.fp)
        .append("context", CONTEXT)
        .append_element("base", &st.base)
        .append_element("public", &st.public)
        .append_element("image", &st.image)
        .append_element("commitment_g", &proof.commitment_g)
        .append_element("commitment_y", &proof.commitment_y);
    let c = t.challenge();
    let verify =
        |fp: &Fingerprint, ctx: &[u8], st: &DleqStatement, b: &[u8]| -> Result<(), PeerError> {
            let mut r = Reader::new(b);
            let p = DleqProof::decode(&mut r)?;
            r.finish()?;
            verify_one(&p.statement(fp, ctx, st), None, &mut weights())
        };
    let base = |name: &str, fp: &Fingerprint, ctx: &[u8], st: &DleqStatement, b: &[u8]| {
        O::new()
            .k("name", s(name))
            .k("fingerprint", x(&fp.0))
            .k("context", x(ctx))
            .k("base", el(&st.base))
            .k("public", el(&st.public))
            .k("image", el(&st.image))
            .k(
                "proof",
                O::new()
                    .k("commitment_g", x(&b[..32.min(b.len())]))
                    .k("commitment_y", x(b.get(32..64).unwrap_or(&[])))
                    .k("response", x(b.get(64..).unwrap_or(&[])))
                    .j(),
            )
            .k("proof_encoding", x(b))
    };
    ok(verify(&e.fp, CONTEXT, &st, &pb))?;
    cases.push(valid(
        base(
            "valid proof (partial decryption of a ciphertext's α)",
            &e.fp,
            CONTEXT,
            &st,
            &pb,
        )
        .k("secret", sc(&sx))
        .k("nonce", sc(&u))
        .k("challenge", sc(&c)),
    ));
    let other = pt(mul_g(&rand_scalar(&mut rng)));
    let mut z1 = pb.clone();
    tamper_scalar(&mut z1, 64);
    let mut swapped = pb.clone();
    swapped[..32].copy_from_slice(&pb[32..64]);
    swapped[32..64].copy_from_slice(&pb[..32]);
    let mut zn = pb.clone();
    unreduce(&mut zn, 64)?;
    let wrong_image = DleqStatement { image: other, ..st };
    let wrong_base = DleqStatement { base: other, ..st };
    let wrong_public = DleqStatement {
        public: other,
        ..st
    };
    let other_fp = Fingerprint::ceremony(&e.manifest_hash);
    let invalids: Vec<(&str, &Fingerprint, &[u8], &DleqStatement, Vec<u8>, &str)> = vec![
        (
            "tampered response z",
            &e.fp,
            CONTEXT,
            &st,
            z1,
            "invalid_proof",
        ),
        (
            "commitments swapped",
            &e.fp,
            CONTEXT,
            &st,
            swapped,
            "invalid_proof",
        ),
        (
            "wrong image Z",
            &e.fp,
            CONTEXT,
            &wrong_image,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "wrong base Y",
            &e.fp,
            CONTEXT,
            &wrong_base,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "wrong public X",
            &e.fp,
            CONTEXT,
            &wrong_public,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "wrong fingerprint",
            &other_fp,
            CONTEXT,
            &st,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "wrong context",
            &e.fp,
            b"other",
            &st,
            pb.clone(),
            "invalid_proof",
        ),
        (
            "non-canonical response (z + ℓ)",
            &e.fp,
            CONTEXT,
            &st,
            zn,
            "non_canonical_scalar",
        ),
        (
            "trailing byte",
            &e.fp,
            CONTEXT,
            &st,
            [pb.as_slice(), &[0]].concat(),
            "trailing_bytes",
        ),
    ];
    for (name, fp, ctx, st, b, kind) in invalids {
        let err = expect_err(verify(fp, ctx, st, &b), kind)?;
        cases.push(invalid(base(name, fp, ctx, st, &b), err));
    }
    Ok(file(
        "Chaum-Pedersen proof that X = s·G and Z = s·Y: A = u·G, B = u·Y, c = T(\"urna/v1/proof/dleq\"; fingerprint, context, base = Y, public = X, image = Z, commitment_g = A, commitment_y = B), z = u + c·s; check z·G − A − c·X = 0 and z·Y − B − c·Z = 0.",
        "§6.3",
        vec![("election", e.json())],
        cases,
    ))
}

// ---------------------------------------------------------------------------
// range.json
// ---------------------------------------------------------------------------

struct RangeMade {
    values: Vec<u64>,
    nonces: Vec<Scalar>,
    summands: Vec<Ciphertext>,
    u: Scalar,
    proof: RangeProof,
    encoding: Vec<u8>,
}

/// Feeds a range prover: per branch `c_sim, z_sim, u`; the real branch gets
/// `(0, 0, u)`, the others `(c_j, z_j, 0)`.
fn range_feed(rr: &mut ReplayRng, rng: &mut ChaCha20Rng, k: u64, real: u64) -> Scalar {
    let u = rand_scalar(rng);
    for j in 0..k {
        if j == real {
            rr.scalar(&Scalar::ZERO).scalar(&Scalar::ZERO).scalar(&u);
        } else {
            let c = rand_scalar(rng);
            let z = rand_scalar(rng);
            rr.scalar(&c).scalar(&z).scalar(&Scalar::ZERO);
        }
    }
    u
}

fn make_range(
    rng: &mut ChaCha20Rng,
    e: &Election,
    ctx: &[u8],
    values: &[u64],
    lo: u64,
    hi: u64,
) -> Result<RangeMade, Error> {
    let nonces: Vec<Scalar> = values.iter().map(|_| rand_scalar(rng)).collect();
    let summands: Vec<Ciphertext> = values
        .iter()
        .zip(&nonces)
        .map(|(v, r)| e.key.encrypt_with_nonce(*v, r))
        .collect();
    let total: u64 = values.iter().sum();
    let rsum: Scalar = nonces.iter().sum();
    let mut rr = ReplayRng::new();
    let u = range_feed(&mut rr, rng, hi - lo + 1, total - lo);
    let proof = ok(RangeProof::prove(
        &e.fp,
        ctx,
        &e.key,
        &summands,
        lo,
        hi,
        total,
        &SecretScalar::new(rsum),
        &mut rr,
    ))?;
    rr.done()?;
    let mut w = Writer::new();
    proof.encode(&mut w);
    Ok(RangeMade {
        values: values.to_vec(),
        nonces,
        summands,
        u,
        proof,
        encoding: w.finish(),
    })
}

fn range_challenge(
    fp: &Fingerprint,
    ctx: &[u8],
    key: &Element,
    summands: &[Ciphertext],
    lo: u64,
    hi: u64,
    commitments: &[(Element, Element)],
) -> Scalar {
    let mut t = Transcript::new(domain::PROOF_RANGE);
    t.append_fingerprint(fp)
        .append("context", ctx)
        .append_element("key", key)
        .append_u64("summands", summands.len() as u64);
    for c in summands {
        t.append_element("alpha", &c.alpha)
            .append_element("beta", &c.beta);
    }
    t.append_u64("lo", lo).append_u64("hi", hi);
    for (a, b) in commitments {
        t.append_element("a", a).append_element("b", b);
    }
    t.challenge()
}

fn branches_json(enc: &[u8]) -> J {
    J::Arr(
        enc.chunks(128)
            .map(|b| {
                O::new()
                    .k("a", x(&b[..32.min(b.len())]))
                    .k("b", x(b.get(32..64).unwrap_or(&[])))
                    .k("c", x(b.get(64..96).unwrap_or(&[])))
                    .k("z", x(b.get(96..).unwrap_or(&[])))
                    .j()
            })
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
fn range_case(
    name: &str,
    fp: &Fingerprint,
    ctx: &[u8],
    key: &Element,
    summands: &[Ciphertext],
    lo: u64,
    hi: u64,
    enc: &[u8],
) -> O {
    O::new()
        .k("name", s(name))
        .k("fingerprint", x(&fp.0))
        .k("context", x(ctx))
        .k("key", el(key))
        .k("summands", J::Arr(summands.iter().map(ct_json).collect()))
        .k("lo", n(lo))
        .k("hi", n(hi))
        .k("proof", O::new().k("branches", branches_json(enc)).j())
        .k("proof_encoding", x(enc))
}

fn verify_range(
    fp: &Fingerprint,
    ctx: &[u8],
    key: &Element,
    summands: &[Ciphertext],
    lo: u64,
    hi: u64,
    enc: &[u8],
) -> Result<(), PeerError> {
    let mut r = Reader::new(enc);
    let p = RangeProof::decode(&mut r, lo, hi)?;
    r.finish()?;
    let st = RangeStatement {
        key,
        summands,
        lo,
        hi,
    };
    verify_one(&p.statement(fp, ctx, st), Some(key), &mut weights())
}

fn range() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("range.json"));
    let e = Election::new(&mut rng)?;
    let key = *e.key.element();
    let mut cases = Vec::new();
    let specs: Vec<(&str, Vec<u64>, u64, u64)> = vec![
        ("0/1 proof, value 0", vec![0], 0, 1),
        ("0/1 proof, value 1", vec![1], 0, 1),
        ("0..3 proof, value 0", vec![0], 0, 3),
        ("0..3 proof, value 2", vec![2], 0, 3),
        ("0..3 proof, value 3", vec![3], 0, 3),
        (
            "sum of 3 options in 1..1 (exactly one)",
            vec![0, 1, 0],
            1,
            1,
        ),
        ("sum of 4 options in 0..2, value 2", vec![1, 0, 0, 1], 0, 2),
        ("sum of 3 options in 1..3, value 1", vec![0, 0, 1], 1, 3),
        ("range 5..7, value 6", vec![6], 5, 7),
    ];
    let mut made = Vec::new();
    for (name, values, lo, hi) in specs {
        let m = make_range(&mut rng, &e, CONTEXT, &values, lo, hi)?;
        ok(verify_range(
            &e.fp,
            CONTEXT,
            &key,
            &m.summands,
            lo,
            hi,
            &m.encoding,
        ))?;
        let commitments: Vec<(Element, Element)> =
            m.proof.branches.iter().map(|b| (b.a, b.b)).collect();
        let c = range_challenge(&e.fp, CONTEXT, &key, &m.summands, lo, hi, &commitments);
        cases.push(valid(
            range_case(name, &e.fp, CONTEXT, &key, &m.summands, lo, hi, &m.encoding)
                .k("values", J::Arr(m.values.iter().map(|v| n(*v)).collect()))
                .k("nonces", J::Arr(m.nonces.iter().map(sc).collect()))
                .k("real_branch", n(m.values.iter().sum::<u64>() - lo))
                .k("real_branch_nonce", sc(&m.u))
                .k("challenge", sc(&c)),
        ));
        made.push((m, lo, hi));
    }
    // Invalid variants of the 0/1 proof of value 1 and of the sum proof.
    let (one, _, _) = made.get(1).ok_or_else(|| fail("made"))?;
    let (zero, _, _) = made.first().ok_or_else(|| fail("made"))?;
    let (sum3, slo, shi) = made.get(7).ok_or_else(|| fail("made"))?;
    let base = &one.encoding;
    let ct1 = one.summands.as_slice();
    let mut c_t = base.clone();
    tamper_scalar(&mut c_t, 64); // c_0
    let mut c_sw = base.clone(); // swap c_0 and c_1: sum unchanged, equations fail
    c_sw[64..96].copy_from_slice(&base[128 + 64..128 + 96]);
    c_sw[128 + 64..128 + 96].copy_from_slice(&base[64..96]);
    let mut z_t = base.clone();
    tamper_scalar(&mut z_t, 128 + 96); // z_1
    let mut a_t = base.clone();
    a_t[..32].copy_from_slice(g().as_bytes()); // A_0
    let mut b_t = base.clone();
    b_t[128 + 32..128 + 64].copy_from_slice(h().as_bytes()); // B_1
    let mut zn = base.clone();
    unreduce(&mut zn, 96)?;
    let mut cn = base.clone();
    unreduce(&mut cn, 128 + 64)?;
    let other_key = pt(mul_g(&rand_scalar(&mut rng)));
    let other_fp = Fingerprint::ceremony(&e.manifest_hash);
    let other_ct = zero.summands.as_slice();
    let fp = &e.fp;
    let reordered = [sum3.summands[1], sum3.summands[0], sum3.summands[2]];
    let invalids: Vec<(
        &str,
        &Fingerprint,
        &[u8],
        &Element,
        &[Ciphertext],
        u64,
        u64,
        Vec<u8>,
        &str,
    )> = vec![
        (
            "tampered challenge c_0 (Σ c_j ≠ c)",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            c_t,
            "invalid_proof",
        ),
        (
            "challenges c_0, c_1 swapped (Σ unchanged)",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            c_sw,
            "invalid_proof",
        ),
        (
            "tampered response z_1",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            z_t,
            "invalid_proof",
        ),
        (
            "tampered commitment A_0",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            a_t,
            "invalid_proof",
        ),
        (
            "tampered commitment B_1",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            b_t,
            "invalid_proof",
        ),
        (
            "wrong statement: other ciphertext",
            fp,
            CONTEXT,
            &key,
            other_ct,
            0,
            1,
            base.clone(),
            "invalid_proof",
        ),
        (
            "wrong statement: other key",
            fp,
            CONTEXT,
            &other_key,
            ct1,
            0,
            1,
            base.clone(),
            "invalid_proof",
        ),
        (
            "wrong statement: range 1..2 instead of 0..1",
            fp,
            CONTEXT,
            &key,
            ct1,
            1,
            2,
            base.clone(),
            "invalid_proof",
        ),
        (
            "wrong statement: range 0..2 (branch count)",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            2,
            base.clone(),
            "truncated",
        ),
        (
            "wrong fingerprint",
            &other_fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            base.clone(),
            "invalid_proof",
        ),
        (
            "wrong context",
            fp,
            b"urna other context",
            &key,
            ct1,
            0,
            1,
            base.clone(),
            "invalid_proof",
        ),
        (
            "non-canonical z_0 (z + ℓ)",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            zn,
            "non_canonical_scalar",
        ),
        (
            "non-canonical c_1 (c + ℓ)",
            fp,
            CONTEXT,
            &key,
            ct1,
            0,
            1,
            cn,
            "non_canonical_scalar",
        ),
        (
            "sum proof with one summand left out",
            fp,
            CONTEXT,
            &key,
            sum3.summands.get(..2).unwrap_or(&[]),
            *slo,
            *shi,
            sum3.encoding.clone(),
            "invalid_proof",
        ),
        (
            "sum proof with summands reordered",
            fp,
            CONTEXT,
            &key,
            &reordered,
            *slo,
            *shi,
            sum3.encoding.clone(),
            "invalid_proof",
        ),
    ];
    for (name, fp, ctx, k, sm, lo, hi, b, kind) in invalids {
        let err = expect_err(verify_range(fp, ctx, k, sm, lo, hi, &b), kind)?;
        cases.push(invalid(range_case(name, fp, ctx, k, sm, lo, hi, &b), err));
    }
    // Weak Fiat-Shamir forgery: a "0/1" proof for an encryption of a huge m.
    let (a0, a1, e0, rho) = (
        rand_scalar(&mut rng),
        rand_scalar(&mut rng),
        rand_scalar(&mut rng),
        rand_scalar(&mut rng),
    );
    let big_a0 = pt(mul_g(&a0));
    let big_b0 = pt(e.key.mul(&a0) + mul_h(&e0));
    let big_a1 = pt(mul_g(&a1));
    let big_b1 = pt(e.key.mul(&a1));
    let mut t = Transcript::new(domain::PROOF_RANGE);
    t.append_element("a", &big_a0)
        .append_element("b", &big_b0)
        .append_element("a", &big_a1)
        .append_element("b", &big_b1);
    let weak_c = t.challenge();
    let m = -e0 * weak_c.invert();
    let forged_ct = Ciphertext {
        alpha: pt(mul_g(&rho)),
        beta: pt(mul_h(&m) + e.key.mul(&rho)),
    };
    let mut w = Writer::new();
    w.element(&big_a0)
        .element(&big_b0)
        .scalar(&weak_c)
        .scalar(&(a0 + weak_c * rho))
        .element(&big_a1)
        .element(&big_b1)
        .scalar(&Scalar::ZERO)
        .scalar(&a1);
    let forged = w.finish();
    let err = expect_err(
        verify_range(fp, CONTEXT, &key, &[forged_ct], 0, 1, &forged),
        "invalid_proof",
    )?;
    cases.push(invalid(
        range_case(
            "weak Fiat-Shamir forgery: challenge hashes only the commitments; the ciphertext encrypts m = −e0/c, not 0 or 1",
            fp,
            CONTEXT,
            &key,
            &[forged_ct],
            0,
            1,
            &forged,
        )
        .k("weak_challenge", sc(&weak_c))
        .k("forged_plaintext_scalar", sc(&m)),
        err,
    ));
    Ok(file(
        "Disjunctive Chaum-Pedersen range proofs: the sum (α, β) of the summands encrypts a value in lo..=hi under key K. Branch j claims value lo + j; c = T(\"urna/v1/proof/range\"; fingerprint, context, key, summands (u64 count), alpha, beta for each, lo, hi, then a, b for each branch); check Σ c_j = c and for every j: A_j + c_j·α − z_j·G = 0, B_j + c_j·β − c_j·(lo+j)·H − z_j·K = 0. The prover nonces are explicit: 'nonces' per summand, 'real_branch_nonce' u; the simulated branches' c_j, z_j are those in the proof. The weak Fiat-Shamir case gives 'weak_challenge' = T(\"urna/v1/proof/range\"; a, b for each branch) under which its equations hold; a correct verifier rejects it.",
        "§6.4",
        vec![("election", e.json())],
        cases,
    ))
}

// ---------------------------------------------------------------------------
// signature.json
// ---------------------------------------------------------------------------

fn sign_with(
    key: &CredentialKey,
    fp: &Fingerprint,
    msg: &[u8],
    rho: &[u8; 32],
) -> Result<Signature, Error> {
    let mut rr = ReplayRng::new();
    rr.raw(rho);
    let sig = key.sign(fp, msg, &mut rr);
    rr.done()?;
    Ok(sig)
}

fn signature() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("signature.json"));
    let e = Election::new(&mut rng)?;
    let mut cases = Vec::new();
    let secret = rand_scalar(&mut rng).to_bytes();
    let cred = ok(CredentialKey::from_secret_bytes(&secret))?;
    let other = ok(CredentialKey::from_secret_bytes(
        &rand_scalar(&mut rng).to_bytes(),
    ))?;
    let verify = |fp: &Fingerprint, p: &Element, msg: &[u8], b: &[u8]| -> Result<(), PeerError> {
        let mut r = Reader::new(b);
        let sig = Signature::decode(&mut r)?;
        r.finish()?;
        verify_one(&sig.statement(fp, p, msg), None, &mut weights())
    };
    let base = |name: &str, fp: &Fingerprint, p: &Element, msg: &[u8], b: &[u8]| {
        O::new()
            .k("name", s(name))
            .k("fingerprint", x(&fp.0))
            .k("credential", el(p))
            .k("message", x(msg))
            .k(
                "signature",
                O::new()
                    .k("commitment", x(&b[..32.min(b.len())]))
                    .k("response", x(b.get(32..).unwrap_or(&[])))
                    .j(),
            )
            .k("signature_encoding", x(b))
    };
    let mut first = None;
    for (name, msg) in [
        ("empty message", Vec::new()),
        ("short message", b"urna ballot".to_vec()),
        (
            "1000-byte message",
            (0..1000u32).map(|i| (i % 251) as u8).collect(),
        ),
    ] {
        let rho: [u8; 32] = rand_bytes(&mut rng);
        let sig = sign_with(&cred, &e.fp, &msg, &rho)?;
        let mut nt = Transcript::new(domain::SIGNATURE_NONCE);
        nt.append("secret", &secret)
            .append("random", &rho)
            .append("message", &msg);
        let k = nt.challenge();
        if pt(mul_g(&k)) != sig.commitment {
            return Err(fail("hedged nonce"));
        }
        let mut t = Transcript::new(domain::SIGNATURE);
        t.append_fingerprint(&e.fp)
            .append_element("credential", cred.public())
            .append_element("commitment", &sig.commitment)
            .append("message", &msg);
        let ch = t.challenge();
        let mut w = Writer::new();
        sig.encode(&mut w);
        let b = w.finish();
        ok(verify(&e.fp, cred.public(), &msg, &b))?;
        cases.push(valid(
            base(name, &e.fp, cred.public(), &msg, &b)
                .k("secret", x(&secret))
                .k("random", x(&rho))
                .k("nonce", sc(&k))
                .k("challenge", sc(&ch)),
        ));
        if first.is_none() {
            first = Some((msg, b));
        }
    }
    let (msg, b) = first.ok_or_else(|| fail("no signature"))?;
    let msg = [msg.as_slice(), b"x"].concat();
    let (_, b2) = {
        let m2 = b"urna ballot".to_vec();
        let rho: [u8; 32] = rand_bytes(&mut rng);
        let sig = sign_with(&cred, &e.fp, &m2, &rho)?;
        let mut w = Writer::new();
        sig.encode(&mut w);
        (m2, w.finish())
    };
    let m2 = b"urna ballot".to_vec();
    let mut st = b2.clone();
    tamper_scalar(&mut st, 32);
    let mut sn = b2.clone();
    unreduce(&mut sn, 32)?;
    let other_fp = Fingerprint::ceremony(&e.manifest_hash);
    let id = Element::identity();
    let invalids: Vec<(&str, &Fingerprint, &Element, &[u8], Vec<u8>, &str)> = vec![
        (
            "tampered response s",
            &e.fp,
            cred.public(),
            &m2,
            st,
            "invalid_proof",
        ),
        (
            "other message",
            &e.fp,
            cred.public(),
            &msg,
            b.clone(),
            "invalid_proof",
        ),
        (
            "other credential",
            &e.fp,
            other.public(),
            &m2,
            b2.clone(),
            "invalid_proof",
        ),
        (
            "wrong fingerprint",
            &other_fp,
            cred.public(),
            &m2,
            b2.clone(),
            "invalid_proof",
        ),
        (
            "identity credential",
            &e.fp,
            &id,
            &m2,
            b2.clone(),
            "identity_element",
        ),
        (
            "non-canonical response (s + ℓ)",
            &e.fp,
            cred.public(),
            &m2,
            sn,
            "non_canonical_scalar",
        ),
    ];
    for (name, fp, p, m, bb, kind) in invalids {
        let err = expect_err(verify(fp, p, m, &bb), kind)?;
        cases.push(invalid(base(name, fp, p, m, &bb), err));
    }
    Ok(file(
        "Credential Schnorr signatures: k = T(\"urna/v1/signature/nonce\"; secret, random, message) reduced mod ℓ (hedged: 'random' is 32 fresh bytes, given here explicitly), R = k·G, e = T(\"urna/v1/signature\"; fingerprint, credential, commitment = R, message), s = k + e·x; check P ≠ identity and R + e·P − s·G = 0.",
        "§6.5",
        vec![("election", e.json())],
        cases,
    ))
}

// ---------------------------------------------------------------------------
// ballot.json
// ---------------------------------------------------------------------------

struct BallotMade {
    ballot: Ballot,
    bytes: Vec<u8>,
    selections: Vec<Vec<u64>>,
    nonces: Vec<Vec<Scalar>>,
    option_u: Vec<Vec<Scalar>>,
    /// `None` for an exact contest (no sum proof, spec §7.1).
    sum_u: Vec<Option<Scalar>>,
    rho: [u8; 32],
}

fn make_ballot(
    rng: &mut ChaCha20Rng,
    e: &Election,
    cred: &CredentialKey,
    header: &[u8],
    shapes: &[ContestShape],
    selections: &[Vec<u64>],
) -> Result<BallotMade, Error> {
    let mut rr = ReplayRng::new();
    let mut nonces = Vec::new();
    let mut option_u = Vec::new();
    let mut sum_u = Vec::new();
    for (shape, sel) in shapes.iter().zip(selections) {
        let mut ns: Vec<Scalar> = Vec::new();
        let mut us = Vec::new();
        for (oi, v) in sel.iter().enumerate() {
            // An exact contest's last option is derived: nonce −Σ r (§7.1).
            let r = if oi < shape.sent_options() {
                let r = rand_scalar(rng);
                rr.scalar(&r);
                r
            } else {
                -ns.iter().sum::<Scalar>()
            };
            if oi < shape.option_proofs() {
                us.push(range_feed(
                    &mut rr,
                    rng,
                    u64::from(shape.option_max) + 1,
                    *v,
                ));
            }
            ns.push(r);
        }
        let total: u64 = sel.iter().sum();
        sum_u.push(if shape.is_exact() {
            None
        } else {
            Some(range_feed(
                &mut rr,
                rng,
                u64::from(shape.max - shape.min) + 1,
                total - u64::from(shape.min),
            ))
        });
        nonces.push(ns);
        option_u.push(us);
    }
    let rho: [u8; 32] = rand_bytes(rng);
    rr.raw(&rho);
    let (ballot, secrets) = ok(Ballot::encrypt(
        &e.key, &e.fp, cred, header, shapes, selections, &mut rr,
    ))?;
    rr.done()?;
    for (a, b) in secrets.nonces.iter().zip(&nonces) {
        if a.iter().map(|r| *r.expose()).ne(b.iter().copied()) {
            return Err(fail("ballot nonces"));
        }
    }
    let bytes = ok(ballot.encode())?;
    Ok(BallotMade {
        ballot,
        bytes,
        selections: selections.to_vec(),
        nonces,
        option_u,
        sum_u,
        rho,
    })
}

fn shape_json(s: &ContestShape) -> J {
    O::new()
        .k("options", n(s.options.into()))
        .k("option_max", n(s.option_max.into()))
        .k("min", n(s.min.into()))
        .k("max", n(s.max.into()))
        .j()
}

fn verify_ballot(e: &Election, shapes: &[ContestShape], b: &[u8]) -> Result<(), PeerError> {
    let ballot = Ballot::decode(b)?;
    let signed = b.get(..b.len().saturating_sub(64)).unwrap_or(&[]);
    verify_one(
        &ballot
            .statement(e.key.element(), &e.fp, shapes)
            .with_signed_bytes(signed),
        Some(e.key.element()),
        &mut weights(),
    )
}

fn ballot_base(name: &str, shapes: &[ContestShape], b: &[u8]) -> O {
    O::new()
        .k("name", s(name))
        .k("type", s("verify"))
        .k("shapes", J::Arr(shapes.iter().map(shape_json).collect()))
        .k("ballot", x(b))
}

/// What strict decoding (§7.3) says when an exact contest carries what
/// version 1 sent: the layout follows from the shape, so the decoder reads
/// the signature where the extra bytes start, and its s is then the second
/// half of an element encoding (the last option's β, or B_0 of the sum
/// proof) — here, as with probability about 15/16, not a canonical scalar.
const V1_LAYOUT_ERROR: &str = "non_canonical_scalar";

fn ballot() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("ballot.json"));
    let e = Election::new(&mut rng)?;
    let cred_secret = rand_scalar(&mut rng).to_bytes();
    let cred = ok(CredentialKey::from_secret_bytes(&cred_secret))?;
    let other_secret = rand_scalar(&mut rng).to_bytes();
    let other = ok(CredentialKey::from_secret_bytes(&other_secret))?;
    let yes_no = ContestShape::choose(2, 1, 1);
    let three_of_ten = ContestShape::choose(10, 0, 3);
    let two_of_three = ContestShape::choose(3, 2, 2);
    let one_option = ContestShape::choose(1, 1, 1);
    let one_point_of_two = ContestShape {
        options: 2,
        option_max: 2,
        min: 1,
        max: 1,
    };
    let header = b"style=1".to_vec();
    let mut cases = Vec::new();
    let mut sel10 = vec![0u64; 10];
    for i in [1usize, 4, 7] {
        sel10[i] = 1;
    }
    let specs: Vec<(
        &str,
        &CredentialKey,
        Vec<u8>,
        Vec<ContestShape>,
        Vec<Vec<u64>>,
    )> = vec![
        (
            "yes/no contest, 'yes'",
            &cred,
            Vec::new(),
            vec![yes_no],
            vec![vec![1, 0]],
        ),
        (
            "3-of-10 contest, options 1, 4, 7",
            &cred,
            Vec::new(),
            vec![three_of_ten],
            vec![sel10.clone()],
        ),
        (
            "two contests with a header: yes/no 'no' and 3-of-10 with two choices",
            &cred,
            header.clone(),
            vec![yes_no, three_of_ten],
            vec![vec![0, 1], {
                let mut v = vec![0u64; 10];
                v[0] = 1;
                v[9] = 1;
                v
            }],
        ),
        (
            "yes/no contest by the other credential, 'no'",
            &other,
            Vec::new(),
            vec![yes_no],
            vec![vec![0, 1]],
        ),
        (
            "exactly 2 of 3, options 0 and 2 (option 2 derived, with its range proof)",
            &cred,
            Vec::new(),
            vec![two_of_three],
            vec![vec![1, 0, 1]],
        ),
        (
            "exact contests: one option worth exactly 1 (nothing sent), and 1 point over 2 options of up to 2 (option 1 derived, with its range proof)",
            &cred,
            Vec::new(),
            vec![one_option, one_point_of_two],
            vec![vec![1], vec![0, 1]],
        ),
    ];
    let mut made = Vec::new();
    for (name, c, hdr, shapes, sel) in specs {
        let m = make_ballot(&mut rng, &e, c, &hdr, &shapes, &sel)?;
        ok(verify_ballot(&e, &shapes, &m.bytes))?;
        let secret = if std::ptr::eq(c, &cred) {
            &cred_secret
        } else {
            &other_secret
        };
        cases.push(valid(
            ballot_base(name, &shapes, &m.bytes)
                .k("credential_secret", x(secret))
                .k("credential", el(c.public()))
                .k("header", x(&hdr))
                .k(
                    "selections",
                    J::Arr(
                        m.selections
                            .iter()
                            .map(|v| J::Arr(v.iter().map(|x| n(*x)).collect()))
                            .collect(),
                    ),
                )
                .k(
                    "nonces",
                    J::Arr(
                        m.nonces
                            .iter()
                            .map(|v| J::Arr(v.iter().map(sc).collect()))
                            .collect(),
                    ),
                )
                .k(
                    "option_proof_nonces",
                    J::Arr(
                        m.option_u
                            .iter()
                            .map(|v| J::Arr(v.iter().map(sc).collect()))
                            .collect(),
                    ),
                )
                .k(
                    "sum_proof_nonces",
                    J::Arr(
                        m.sum_u
                            .iter()
                            .map(|u| u.as_ref().map_or(J::Null, sc))
                            .collect(),
                    ),
                )
                .k("signature_random", x(&m.rho))
                .k("signed_length", n((m.bytes.len() - 64) as u64)),
        ));
        made.push((m, shapes));
    }
    let (yn, yn_shapes) = made.first().ok_or_else(|| fail("made"))?;
    let (two, two_shapes) = made.get(2).ok_or_else(|| fail("made"))?;
    let (oth, _) = made.get(3).ok_or_else(|| fail("made"))?;
    let (tri, tri_shapes) = made.get(4).ok_or_else(|| fail("made"))?;
    let b = &yn.bytes;
    // Offsets in the yes/no ballot without header: version 1, credential 32,
    // header length 4, contest count 2, shape 14, then per option ct 64 + proof 256.
    let shape_at = 1 + 32 + 4 + 2;
    let z0_at = shape_at + 14 + 64 + 96;
    let mut flip_z = b.clone();
    flip_z[z0_at] ^= 0x01;
    let hb = &two.bytes;
    let mut flip_h = hb.clone();
    flip_h[1 + 32 + 4] ^= 0x01; // first header byte
    let mut ver = b.clone();
    ver[0] = 3;
    let mut ver1 = b.clone();
    ver1[0] = 1;
    // The yes/no ballot in the version 1 layout (last option, its proof
    // and a sum proof sent), version byte 2, re-signed.
    let v1_layout = {
        let c = yn.ballot.contests.first().ok_or_else(|| fail("contest"))?;
        let ctx1 = crate::ballot::proof_context(cred.public(), 0, 1);
        let ctxs = crate::ballot::proof_context(cred.public(), 0, crate::ballot::SUM_OPTION);
        let ct1 = c.ciphertexts.get(1).ok_or_else(|| fail("derived"))?;
        let r0 = yn.nonces[0][0];
        let p1 = ok(RangeProof::prove(
            &e.fp,
            &ctx1,
            &e.key,
            std::slice::from_ref(ct1),
            0,
            1,
            0,
            &SecretScalar::new(-r0),
            &mut rng,
        ))?;
        let sum = ok(RangeProof::prove(
            &e.fp,
            &ctxs,
            &e.key,
            &c.ciphertexts,
            1,
            1,
            1,
            &SecretScalar::new(Scalar::ZERO),
            &mut rng,
        ))?;
        let mut w = Writer::new();
        w.raw(&b[..b.len() - 64]);
        ct1.encode(&mut w);
        p1.encode(&mut w);
        sum.encode(&mut w);
        let signed = w.finish();
        let sig = sign_with(&cred, &e.fp, &signed, &rand_bytes(&mut rng))?;
        let mut w = Writer::new();
        w.raw(&signed);
        sig.encode(&mut w);
        w.finish()
    };
    // The yes/no ballot with only a sum proof added, re-signed.
    let with_sum = {
        let c = yn.ballot.contests.first().ok_or_else(|| fail("contest"))?;
        let ctxs = crate::ballot::proof_context(cred.public(), 0, crate::ballot::SUM_OPTION);
        let sum = ok(RangeProof::prove(
            &e.fp,
            &ctxs,
            &e.key,
            &c.ciphertexts,
            1,
            1,
            1,
            &SecretScalar::new(Scalar::ZERO),
            &mut rng,
        ))?;
        let mut w = Writer::new();
        w.raw(&b[..b.len() - 64]);
        sum.encode(&mut w);
        let signed = w.finish();
        let sig = sign_with(&cred, &e.fp, &signed, &rand_bytes(&mut rng))?;
        let mut w = Writer::new();
        w.raw(&signed);
        sig.encode(&mut w);
        w.finish()
    };
    // The derived option's range proof tampered (z_0 + 1), re-signed.
    let mut bad_derived = tri.ballot.clone();
    if let Some(br) = bad_derived
        .contests
        .get_mut(0)
        .and_then(|c| c.proofs.get_mut(2))
        .and_then(|p| p.branches.get_mut(0))
    {
        br.z += Scalar::ONE;
    }
    let signed = ok(bad_derived.signed_bytes())?;
    bad_derived.signature = sign_with(&cred, &e.fp, &signed, &rand_bytes(&mut rng))?;
    let bad_derived = ok(bad_derived.encode())?;
    let mut bad_shape = b.clone();
    bad_shape[shape_at..shape_at + 2].copy_from_slice(&0u16.to_be_bytes());
    let mut no_contests = b.clone();
    no_contests[shape_at - 2..shape_at].copy_from_slice(&0u16.to_be_bytes());
    let mut id_cred = b.clone();
    id_cred[1..33].fill(0);
    // Signature by another credential: same contents, signed by `other`.
    let mut by_other = yn.ballot.clone();
    let signed = ok(by_other.signed_bytes())?;
    by_other.signature = sign_with(&other, &e.fp, &signed, &rand_bytes(&mut rng))?;
    let by_other = ok(by_other.encode())?;
    // Proofs lifted from another credential's ballot, re-signed by the thief.
    let mut lifted = oth.ballot.clone();
    lifted.credential = *cred.public();
    let signed = ok(lifted.signed_bytes())?;
    lifted.signature = sign_with(&cred, &e.fp, &signed, &rand_bytes(&mut rng))?;
    let lifted = ok(lifted.encode())?;
    let wrong_style = vec![ContestShape::choose(2, 0, 1)];
    let two_contests = two_shapes.clone();
    let invalids: Vec<(&str, Vec<ContestShape>, Vec<u8>, &str)> = vec![
        (
            "flipped bit in z_0 of option 0's proof",
            yn_shapes.clone(),
            flip_z,
            "invalid_proof",
        ),
        (
            "flipped bit in the header (covered by the signature)",
            two_contests,
            flip_h,
            "invalid_proof",
        ),
        (
            "truncated by one byte",
            yn_shapes.clone(),
            b[..b.len() - 1].to_vec(),
            "truncated",
        ),
        (
            "one trailing byte",
            yn_shapes.clone(),
            [b.as_slice(), &[0]].concat(),
            "trailing_bytes",
        ),
        (
            "unknown version byte 3",
            yn_shapes.clone(),
            ver,
            "unknown_version",
        ),
        (
            "version 1 (before exact contests derived their last option)",
            yn_shapes.clone(),
            ver1,
            "unknown_version",
        ),
        (
            "exact contest still carrying its last option, that option's proof and a sum proof (re-signed)",
            yn_shapes.clone(),
            v1_layout,
            V1_LAYOUT_ERROR,
        ),
        (
            "exact contest still carrying a sum proof (re-signed)",
            yn_shapes.clone(),
            with_sum,
            V1_LAYOUT_ERROR,
        ),
        (
            "exactly 2 of 3: the derived option's range proof tampered (z_0 + 1, re-signed)",
            tri_shapes.clone(),
            bad_derived,
            "invalid_proof",
        ),
        (
            "exactly 2 of 3 checked against a style allowing 0..2",
            vec![ContestShape::choose(3, 0, 2)],
            tri.bytes.clone(),
            "shape_mismatch",
        ),
        (
            "shape differs from the ballot style (style allows 0..1 selections)",
            wrong_style,
            b.clone(),
            "shape_mismatch",
        ),
        (
            "contest count differs from the ballot style",
            vec![yes_no, three_of_ten],
            b.clone(),
            "shape_mismatch",
        ),
        (
            "shape with 0 options",
            yn_shapes.clone(),
            bad_shape,
            "out_of_bounds",
        ),
        (
            "0 contests",
            yn_shapes.clone(),
            no_contests,
            "out_of_bounds",
        ),
        (
            "identity credential",
            yn_shapes.clone(),
            id_cred,
            "identity_element",
        ),
        (
            "signature by another credential",
            yn_shapes.clone(),
            by_other,
            "invalid_proof",
        ),
        (
            "proofs lifted from another credential's ballot (re-signed by the copier)",
            yn_shapes.clone(),
            lifted,
            "invalid_proof",
        ),
    ];
    for (name, shapes, bb, kind) in invalids {
        let err = expect_err(verify_ballot(&e, &shapes, &bb), kind)?;
        cases.push(invalid(ballot_base(name, &shapes, &bb), err));
    }
    // Benaloh audits (§7.5).
    let audit_secrets = |sel: &[Vec<u64>], nonces: &[Vec<Scalar>]| crate::ballot::BallotSecrets {
        selections: sel.to_vec(),
        nonces: nonces
            .iter()
            .map(|v| v.iter().map(|r| SecretScalar::new(*r)).collect())
            .collect(),
    };
    let audit_case = |name: &str, m: &BallotMade, sel: &[Vec<u64>], nonces: &[Vec<Scalar>]| {
        O::new()
            .k("name", s(name))
            .k("type", s("audit"))
            .k("ballot", x(&m.bytes))
            .k(
                "selections",
                J::Arr(
                    sel.iter()
                        .map(|v| J::Arr(v.iter().map(|x| n(*x)).collect()))
                        .collect(),
                ),
            )
            .k(
                "nonces",
                J::Arr(
                    nonces
                        .iter()
                        .map(|v| J::Arr(v.iter().map(sc).collect()))
                        .collect(),
                ),
            )
    };
    ok(yn
        .ballot
        .check_audit(&e.key, &audit_secrets(&yn.selections, &yn.nonces)))?;
    cases.push(valid(audit_case(
        "audit of the yes/no ballot",
        yn,
        &yn.selections,
        &yn.nonces,
    )));
    let lie = vec![vec![0u64, 1]];
    let err = expect_err(
        yn.ballot
            .check_audit(&e.key, &audit_secrets(&lie, &yn.nonces)),
        "invalid_proof",
    )?;
    cases.push(invalid(
        audit_case(
            "audit claiming 'no' for a 'yes' ballot",
            yn,
            &lie,
            &yn.nonces,
        ),
        err,
    ));
    let mut swapped = yn.nonces.clone();
    if let Some(c) = swapped.get_mut(0) {
        c.swap(0, 1);
    }
    let err = expect_err(
        yn.ballot
            .check_audit(&e.key, &audit_secrets(&yn.selections, &swapped)),
        "invalid_proof",
    )?;
    cases.push(invalid(
        audit_case(
            "audit with the nonces swapped",
            yn,
            &yn.selections,
            &swapped,
        ),
        err,
    ));
    ok(tri
        .ballot
        .check_audit(&e.key, &audit_secrets(&tri.selections, &tri.nonces)))?;
    cases.push(valid(audit_case(
        "audit of the exactly-2-of-3 ballot (option 2's nonce is −(r_0 + r_1))",
        tri,
        &tri.selections,
        &tri.nonces,
    )));
    let mut plus = tri.nonces.clone();
    if let Some(c) = plus.get_mut(0) {
        let s: Scalar = c.iter().take(2).sum();
        if let Some(last) = c.get_mut(2) {
            *last = s;
        }
    }
    let err = expect_err(
        tri.ballot
            .check_audit(&e.key, &audit_secrets(&tri.selections, &plus)),
        "invalid_proof",
    )?;
    cases.push(invalid(
        audit_case(
            "audit of the exactly-2-of-3 ballot revealing r_0 + r_1 for the derived option",
            tri,
            &tri.selections,
            &plus,
        ),
        err,
    ));
    Ok(file(
        "Signed encrypted ballots (version 2). 'verify' cases: decode 'ballot' strictly, check it against the ballot style 'shapes' and the election's key and fingerprint, in the order of spec §7.4. Valid cases also give every secret and nonce used to make them (credential secret, per-option encryption nonces — an exact contest's derived last option has nonce −Σ of the others — the real-branch nonce of each option proof sent and of each contest's sum proof, null for an exact contest, the signature's 32 random bytes), so the bytes can be reproduced exactly. 'audit' cases: re-encrypt each revealed selection with its revealed nonce and compare with the ballot's ciphertexts.",
        "§7",
        vec![
            ("election", e.json()),
            ("credential", el(cred.public())),
            ("other_credential", el(other.public())),
        ],
        cases,
    ))
}
