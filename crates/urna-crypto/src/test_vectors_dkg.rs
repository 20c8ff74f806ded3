//! Generator of `dkg.json` (spec §8) and `threshold.json` (spec §9).
//!
//! **INSECURE. TEST ONLY.** A child module of [`super`] (feature
//! `insecure-deterministic-rng`), sharing its JSON writer, replay RNG and
//! helpers. Every secret and nonce comes from the file's fixed public seed
//! and is written into the file; every invalid case is checked here to fail
//! with the error it states.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};

use super::*;
use crate::dkg::{
    CeremonyParams, CeremonyRecord, Coefficient, Complaint, ComplaintVerdict, Fault, Misbehaviour,
    Round1Message, Round2Message, SealedShare, check_round1, coefficient_context,
    complaint_context, judge_complaint, share_key_context, verify_ceremony,
};
use crate::elgamal::KeyPair;
use crate::threshold::{
    KeyShare, PartialDecryption, combine, combine_element, lagrange_at_zero, partial_context,
};

/// The ceremony size of both files: n = 3 trustees, threshold t = 2.
const N: u16 = 3;
const T: u16 = 2;

fn n16(v: u16) -> J {
    n(v.into())
}

fn params_j(p: &CeremonyParams) -> J {
    O::new().k("n", n16(p.n)).k("t", n16(p.t)).j()
}

fn schnorr_j(p: &SchnorrProof) -> J {
    O::new()
        .k("commitment", el(&p.commitment))
        .k("response", sc(&p.response))
        .j()
}

fn dleq_j(p: &DleqProof) -> J {
    O::new()
        .k("commitment_g", el(&p.commitment_g))
        .k("commitment_y", el(&p.commitment_y))
        .k("response", sc(&p.response))
        .j()
}

/// Round1Message in its JSON form (spec §8.8.4).
fn round1_j(m: &Round1Message) -> J {
    O::new()
        .k("trustee", n16(m.trustee))
        .k("params", params_j(&m.params))
        .k("share_key", el(&m.share_key))
        .k("share_key_proof", schnorr_j(&m.share_key_proof))
        .k(
            "coefficients",
            J::Arr(
                m.coefficients
                    .iter()
                    .map(|c| {
                        O::new()
                            .k("commitment", el(&c.commitment))
                            .k("proof", schnorr_j(&c.proof))
                            .j()
                    })
                    .collect(),
            ),
        )
        .j()
}

fn sealed_j(s: &SealedShare) -> J {
    O::new()
        .k("dealer", n16(s.dealer))
        .k("recipient", n16(s.recipient))
        .k("ephemeral", el(&s.ephemeral))
        .k("sealed", x(&s.sealed))
        .j()
}

fn round2_j(m: &Round2Message) -> J {
    O::new()
        .k("dealer", n16(m.dealer))
        .k("shares", J::Arr(m.shares.iter().map(sealed_j).collect()))
        .j()
}

fn complaint_j(c: &Complaint) -> J {
    O::new()
        .k("dealer", n16(c.dealer))
        .k("complainer", n16(c.complainer))
        .k("shared_secret", el(&c.shared_secret))
        .k("proof", dleq_j(&c.proof))
        .j()
}

fn record_j(r: &CeremonyRecord) -> J {
    O::new()
        .k("params", params_j(&r.params))
        .k("manifest_hash", x(&r.manifest_hash))
        .k("round1", J::Arr(r.round1.iter().map(round1_j).collect()))
        .k("round2", J::Arr(r.round2.iter().map(round2_j).collect()))
        .k(
            "complaints",
            J::Arr(r.complaints.iter().map(complaint_j).collect()),
        )
        .j()
}

fn fault_j(f: &Fault) -> J {
    let o = O::new().k("trustee", n16(f.trustee));
    match &f.misbehaviour {
        Misbehaviour::MissingRound1 => o.k("fault", s("missing_round1")),
        Misbehaviour::InvalidRound1(e) => o.k("fault", s("invalid_round1")).k("error", s(e.code())),
        Misbehaviour::Equivocation { round } => o
            .k("fault", s("equivocation"))
            .k("round", n((*round).into())),
        Misbehaviour::MissingRound2 => o.k("fault", s("missing_round2")),
        Misbehaviour::InvalidRound2(e) => o.k("fault", s("invalid_round2")).k("error", s(e.code())),
        Misbehaviour::BadShare {
            complainer,
            evidence,
        } => o
            .k("fault", s("bad_share"))
            .k("complainer", n16(*complainer))
            .k("evidence", s(evidence.code())),
        Misbehaviour::FalseComplaint { dealer, reason } => o
            .k("fault", s("false_complaint"))
            .k("dealer", n16(*dealer))
            .k("reason", s(reason.code())),
    }
    .j()
}

/// `f(j) = Σ_k a_k·j^k` by Horner's rule.
fn poly_eval(a: &[Scalar], j: u16) -> Scalar {
    let z = Scalar::from(j);
    a.iter().rev().fold(Scalar::ZERO, |acc, c| acc * z + c)
}

/// One trustee's round 1: its secrets, the nonces of its proofs, its message.
struct Dealer {
    i: u16,
    x: Scalar,
    a: Vec<Scalar>,
    u_key: Scalar,
    u_coef: Vec<Scalar>,
    msg: Round1Message,
}

fn prove_schnorr(
    fp: &Fingerprint,
    ctx: &[u8],
    secret: &Scalar,
    public: &Element,
    u: &Scalar,
) -> Result<SchnorrProof, Error> {
    let mut rr = ReplayRng::new();
    rr.scalar(u);
    let p = SchnorrProof::prove(fp, ctx, &SecretScalar::new(*secret), public, &mut rr);
    rr.done()?;
    Ok(p)
}

fn prove_dleq(
    fp: &Fingerprint,
    ctx: &[u8],
    secret: &Scalar,
    st: &DleqStatement,
    u: &Scalar,
) -> Result<DleqProof, Error> {
    let mut rr = ReplayRng::new();
    rr.scalar(u);
    let p = DleqProof::prove(fp, ctx, &SecretScalar::new(*secret), st, &mut rr);
    rr.done()?;
    Ok(p)
}

fn make_dealer(
    rng: &mut ChaCha20Rng,
    fp: &Fingerprint,
    p: &CeremonyParams,
    i: u16,
) -> Result<Dealer, Error> {
    let x = rand_scalar(rng);
    let a: Vec<Scalar> = (0..p.t).map(|_| rand_scalar(rng)).collect();
    let u_key = rand_scalar(rng);
    let u_coef: Vec<Scalar> = (0..p.t).map(|_| rand_scalar(rng)).collect();
    let share_key = pt(mul_g(&x));
    let share_key_proof = prove_schnorr(fp, &share_key_context(p, i), &x, &share_key, &u_key)?;
    let mut coefficients = Vec::new();
    for (k, (ak, uk)) in (0u16..).zip(a.iter().zip(&u_coef)) {
        let commitment = pt(mul_g(ak));
        let proof = prove_schnorr(fp, &coefficient_context(p, i, k), ak, &commitment, uk)?;
        coefficients.push(Coefficient { commitment, proof });
    }
    Ok(Dealer {
        i,
        x,
        a,
        u_key,
        u_coef,
        msg: Round1Message {
            trustee: i,
            params: *p,
            share_key,
            share_key_proof,
            coefficients,
        },
    })
}

/// Decodes a round 1 message strictly and runs the public check of §8.2 on
/// it together with the honest messages of the other trustees.
fn check_r1(
    p: &CeremonyParams,
    mh: &[u8; 32],
    honest: &[&Round1Message],
    enc: &[u8],
) -> Result<(), Error> {
    let m = Round1Message::decode(enc)?;
    let mut all: Vec<Round1Message> = honest
        .iter()
        .filter(|h| h.trustee != m.trustee)
        .map(|h| (*h).clone())
        .collect();
    all.push(m.clone());
    let out = check_round1(*p, mh, &all, &mut weights())?;
    match out.faults.iter().find(|f| f.trustee == m.trustee) {
        None => Ok(()),
        Some(Fault {
            misbehaviour: Misbehaviour::InvalidRound1(e),
            ..
        }) => Err(e.clone().into()),
        Some(_) => Err(fail("unexpected round 1 fault")),
    }
}

/// One sealed share with the secrets that reproduce it.
struct Sealing {
    share: Scalar,
    e: Scalar,
    shared: Element,
    sealed: SealedShare,
}

fn seal_key_transcript(
    fp: &Fingerprint,
    dealer: u16,
    recipient: u16,
    e: &Element,
    xj: &Element,
    shared: &Element,
) -> Vec<u8> {
    framed(
        domain::SHARE_SEAL_KEY,
        &[
            ("fingerprint", &fp.0),
            ("dealer", &dealer.to_be_bytes()),
            ("recipient", &recipient.to_be_bytes()),
            ("ephemeral", e.as_bytes()),
            ("recipient_key", xj.as_bytes()),
            ("shared_secret", shared.as_bytes()),
        ],
    )
}

fn seal_key_of(transcript: &[u8]) -> [u8; 32] {
    let d = Sha512::digest(transcript);
    let mut k = [0u8; 32];
    k.copy_from_slice(&d[..32]);
    k
}

fn seal(
    rng: &mut ChaCha20Rng,
    fp: &Fingerprint,
    dealer: u16,
    to: &Dealer,
    share: Scalar,
) -> Result<Sealing, Error> {
    let e = rand_scalar(rng);
    let mut rr = ReplayRng::new();
    rr.scalar(&e);
    let sealed = ok(SealedShare::seal(
        fp,
        dealer,
        to.i,
        &to.msg.share_key,
        &SecretScalar::new(share),
        &mut rr,
    ))?;
    rr.done()?;
    let shared = pt(to.msg.share_key.point() * e);
    // Cross-check the sealing against the spec's description (§8.3).
    let key = seal_key_of(&seal_key_transcript(
        fp,
        dealer,
        to.i,
        &sealed.ephemeral,
        &to.msg.share_key,
        &shared,
    ));
    let mut buf = [0u8; 32];
    buf.copy_from_slice(&sealed.sealed[..32]);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&sealed.sealed[32..]);
    let mut aad = dealer.to_be_bytes().to_vec();
    aad.extend_from_slice(&to.i.to_be_bytes());
    ChaCha20Poly1305::new(<&Key>::from(&key))
        .decrypt_inout_detached(
            &Nonce::default(),
            &aad,
            buf.as_mut_slice().into(),
            &Tag::from(tag),
        )
        .map_err(|_| fail("sealed share does not open with the spec's key"))?;
    if buf != share.to_bytes() {
        return Err(fail("sealed share opens to another value"));
    }
    Ok(Sealing {
        share,
        e,
        shared,
        sealed,
    })
}

/// Dealer `d` seals `f_d(j)` to every other participant (increasing j);
/// `bad_for` gets `f_d(j) + 1` instead.
fn deal(
    rng: &mut ChaCha20Rng,
    fp: &Fingerprint,
    d: &Dealer,
    participants: &[&Dealer],
    bad_for: Option<u16>,
) -> Result<(Round2Message, Vec<Sealing>), Error> {
    let mut sealings = Vec::new();
    for r in participants.iter().filter(|r| r.i != d.i) {
        let mut share = poly_eval(&d.a, r.i);
        if bad_for == Some(r.i) {
            share += Scalar::ONE;
        }
        sealings.push(seal(rng, fp, d.i, r, share)?);
    }
    let msg = Round2Message {
        dealer: d.i,
        shares: sealings.iter().map(|s| s.sealed).collect(),
    };
    Ok((msg, sealings))
}

fn ceremony_case(
    name: &str,
    record: &CeremonyRecord,
    dealers: &[Dealer],
    error: Option<&'static str>,
) -> Result<J, Error> {
    let base = O::new()
        .k("name", s(name))
        .k("type", s("ceremony"))
        .k("record", record_j(record));
    if let Some(kind) = error {
        let err = expect_err(verify_ceremony(record, None, &mut weights()), kind)?;
        return Ok(invalid(base, err));
    }
    let out = ok(verify_ceremony(record, None, &mut weights()))?;
    let mut shares = Vec::new();
    for &j in &out.qualified {
        let sj: Scalar = dealers
            .iter()
            .filter(|d| out.qualified.contains(&d.i))
            .map(|d| poly_eval(&d.a, j))
            .sum();
        if out.verification_key(j) != Some(&pt(mul_g(&sj))) {
            return Err(fail("secret share does not match its verification key"));
        }
        shares.push(O::new().k("trustee", n16(j)).k("secret_share", sc(&sj)).j());
    }
    Ok(valid(
        base.k(
            "qualified",
            J::Arr(out.qualified.iter().map(|&j| n16(j)).collect()),
        )
        .k("faults", J::Arr(out.faults.iter().map(fault_j).collect()))
        .k(
            "joint_commitments",
            J::Arr(out.joint_commitments.iter().map(el).collect()),
        )
        .k("joint_key", el(&out.joint_key))
        .k(
            "verification_keys",
            J::Arr(
                out.verification_keys
                    .iter()
                    .map(|(j, k)| {
                        O::new()
                            .k("trustee", n16(*j))
                            .k("verification_key", el(k))
                            .j()
                    })
                    .collect(),
            ),
        )
        .k("secret_shares", J::Arr(shares))
        .k("election_fingerprint", x(&out.election_fingerprint().0)),
    ))
}

/// A complaint by `by` about `sealed`, with explicit nonce.
fn complain(
    rng: &mut ChaCha20Rng,
    fp: &Fingerprint,
    sealed: &SealedShare,
    by: &Dealer,
) -> Result<(Complaint, Scalar), Error> {
    let u = rand_scalar(rng);
    let mut rr = ReplayRng::new();
    rr.scalar(&by.x).scalar(&u);
    let kp = KeyPair::generate(&mut rr);
    let c = Complaint::new(fp, sealed, &kp, &mut rr);
    rr.done()?;
    Ok((c, u))
}

struct ComplaintCase<'a> {
    name: &'a str,
    dealer: &'a Dealer,
    complainer: &'a Dealer,
    sealed: SealedShare,
    encoding: Vec<u8>,
    /// The nonce of the proof, for complaints made honestly.
    nonce: Option<Scalar>,
    /// `Ok(evidence)` for upheld, `Err(reason)` for rejected.
    expect: Result<&'static str, &'static str>,
}

fn complaint_case(fp: &Fingerprint, c: ComplaintCase<'_>) -> Result<J, Error> {
    let dm = &c.dealer.msg;
    let cm = &c.complainer.msg;
    let decoded = Complaint::decode(&c.encoding);
    let mut base = O::new()
        .k("name", s(c.name))
        .k("type", s("complaint"))
        .k("fingerprint", x(&fp.0))
        .k("dealer_round1", x(&dm.encode()))
        .k("complainer_round1", x(&cm.encode()))
        .k("sealed_share", sealed_j(&c.sealed));
    if let Ok(cp) = &decoded {
        base = base.k("complaint", complaint_j(cp));
    }
    base = base.k("encoding", x(&c.encoding));
    if let Some(u) = &c.nonce {
        let cp = decoded.clone().map_err(Error::from)?;
        let st = DleqStatement {
            base: c.sealed.ephemeral,
            public: cm.share_key,
            image: cp.shared_secret,
        };
        let ctx = complaint_context(cp.dealer, cp.complainer);
        let mut t = Transcript::new(domain::PROOF_DLEQ);
        t.append_fingerprint(fp)
            .append("context", &ctx)
            .append_element("base", &st.base)
            .append_element("public", &st.public)
            .append_element("image", &st.image)
            .append_element("commitment_g", &cp.proof.commitment_g)
            .append_element("commitment_y", &cp.proof.commitment_y);
        base = base
            .k("complainer_secret", sc(&c.complainer.x))
            .k("context", x(&ctx))
            .k("nonce", sc(u))
            .k("challenge", sc(&t.challenge()));
    }
    let verdict = decoded.map(|cp| judge_complaint(fp, dm, cm, &c.sealed, &cp, &mut weights()));
    match (c.expect, verdict) {
        (Ok(ev), Ok(ComplaintVerdict::Upheld(e))) if e.code() == ev => Ok(valid(
            base.k("verdict", s("upheld"))
                .k("evidence", s(ev))
                .k("disqualified", n16(c.dealer.i)),
        )),
        (Err(why), Ok(ComplaintVerdict::Rejected(e))) if e.code() == why => Ok(invalid(
            base.k("verdict", s("rejected"))
                .k("disqualified", n16(c.complainer.i)),
            s(why),
        )),
        (Err(why), Err(e)) if e.code() == why => Ok(invalid(
            base.k("verdict", s("rejected"))
                .k("disqualified", n16(c.complainer.i)),
            s(why),
        )),
        (_, v) => Err(fail(&format!("complaint {}: got {v:?}", c.name))),
    }
}

/// dkg.json (spec §8).
pub(super) fn dkg() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("dkg.json"));
    let p = CeremonyParams { n: N, t: T };
    let mh = rand_bytes::<32>(&mut rng);
    let fp = Fingerprint::ceremony(&mh);
    let dealers: Vec<Dealer> = (1..=N)
        .map(|i| make_dealer(&mut rng, &fp, &p, i))
        .collect::<Result<_, _>>()?;
    let honest: Vec<&Round1Message> = dealers.iter().map(|d| &d.msg).collect();
    let all: Vec<&Dealer> = dealers.iter().collect();
    let (d1, d2, d3) = (&dealers[0], &dealers[1], &dealers[2]);
    let mut cases = Vec::new();

    // Round 1, valid.
    for d in &dealers {
        let enc = d.msg.encode();
        ok(check_r1(&p, &mh, &honest, &enc))?;
        let mut challenges = Vec::new();
        let mut t = Transcript::new(domain::PROOF_SCHNORR);
        t.append_fingerprint(&fp)
            .append("context", &share_key_context(&p, d.i))
            .append_element("statement", &d.msg.share_key)
            .append_element("commitment", &d.msg.share_key_proof.commitment);
        let c_key = t.challenge();
        for (k, c) in (0u16..).zip(&d.msg.coefficients) {
            let mut t = Transcript::new(domain::PROOF_SCHNORR);
            t.append_fingerprint(&fp)
                .append("context", &coefficient_context(&p, d.i, k))
                .append_element("statement", &c.commitment)
                .append_element("commitment", &c.proof.commitment);
            challenges.push(sc(&t.challenge()));
        }
        cases.push(valid(
            O::new()
                .k("name", s(format!("round 1 message of trustee {}", d.i)))
                .k("type", s("round1"))
                .k("trustee", n16(d.i))
                .k("share_key_secret", sc(&d.x))
                .k("coefficient_secrets", J::Arr(d.a.iter().map(sc).collect()))
                .k("share_key_context", x(&share_key_context(&p, d.i)))
                .k(
                    "coefficient_contexts",
                    J::Arr(
                        (0..T)
                            .map(|k| x(&coefficient_context(&p, d.i, k)))
                            .collect(),
                    ),
                )
                .k("share_key_proof_nonce", sc(&d.u_key))
                .k(
                    "coefficient_proof_nonces",
                    J::Arr(d.u_coef.iter().map(sc).collect()),
                )
                .k("share_key_proof_challenge", sc(&c_key))
                .k("coefficient_proof_challenges", J::Arr(challenges))
                .k("message", round1_j(&d.msg))
                .k("encoding", x(&enc)),
        ));
    }

    // Round 1, invalid: every variant is trustee 3's message.
    let base3 = d3.msg.encode();
    let mut tampered = d3.msg.clone();
    tampered.coefficients[1].proof.response += Scalar::ONE;
    let mut swapped = d3.msg.clone();
    swapped.coefficients[0].proof = d3.msg.coefficients[1].proof;
    swapped.coefficients[1].proof = d3.msg.coefficients[0].proof;
    let mut other_ceremony = d3.msg.clone();
    let other_fp = Fingerprint::ceremony(&rand_bytes::<32>(&mut rng));
    other_ceremony.share_key_proof = prove_schnorr(
        &other_fp,
        &share_key_context(&p, 3),
        &d3.x,
        &d3.msg.share_key,
        &rand_scalar(&mut rng),
    )?;
    let t1 = make_dealer(&mut rng, &fp, &CeremonyParams { n: N, t: 1 }, 3)?;
    let mut three = base3.clone();
    three.extend_from_slice(&base3[103 + 96..103 + 192]);
    let mut identity = base3.clone();
    identity[103 + 96..103 + 96 + 32].fill(0);
    let mut noncanon_key = base3.clone();
    noncanon_key[7] |= 1;
    let mut noncanon_z = base3.clone();
    unreduce(&mut noncanon_z, 7 + 64)?;
    let mut index4 = base3.clone();
    index4[1..3].copy_from_slice(&4u16.to_be_bytes());
    let mut version2 = base3.clone();
    version2[0] = 2;
    let invalid_r1: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "coefficient 1 proof with tampered response z",
            tampered.encode(),
            "invalid_proof",
        ),
        (
            "coefficient proofs swapped (proof for another position k)",
            swapped.encode(),
            "invalid_proof",
        ),
        (
            "share key proof made for another ceremony's fingerprint",
            other_ceremony.encode(),
            "invalid_proof",
        ),
        (
            "message for t = 1 (one coefficient) in a t = 2 ceremony",
            t1.msg.encode(),
            "shape_mismatch",
        ),
        ("three coefficients for t = 2", three, "trailing_bytes"),
        (
            "one coefficient for t = 2",
            base3[..103 + 96].to_vec(),
            "truncated",
        ),
        ("identity commitment C_{3,1}", identity, "identity_element"),
        (
            "non-canonical share key encoding",
            noncanon_key,
            "non_canonical_element",
        ),
        (
            "non-canonical response (z + ℓ) in the share key proof",
            noncanon_z,
            "non_canonical_scalar",
        ),
        ("trustee index 4 > n", index4, "out_of_bounds"),
        ("version 2", version2, "unknown_version"),
    ];
    for (name, enc, kind) in invalid_r1 {
        let err = expect_err(check_r1(&p, &mh, &honest, &enc), kind)?;
        let mut o = O::new()
            .k("name", s(name))
            .k("type", s("round1"))
            .k("trustee", n16(3));
        if let Ok(m) = Round1Message::decode(&enc) {
            o = o.k("message", round1_j(&m));
        }
        cases.push(invalid(o.k("encoding", x(&enc)), err));
    }

    // Round 2, honest: every dealer seals to both others.
    let mut round2 = Vec::new();
    let mut sealings = Vec::new();
    for d in &dealers {
        let (m, ss) = deal(&mut rng, &fp, d, &all, None)?;
        round2.push(m);
        sealings.push(ss);
    }
    for (d, (m, ss)) in dealers.iter().zip(round2.iter().zip(&sealings)) {
        let shares = ss
            .iter()
            .map(|z| {
                O::new()
                    .k("recipient", n16(z.sealed.recipient))
                    .k("share", sc(&z.share))
                    .k("ephemeral_secret", sc(&z.e))
                    .k("shared_secret", el(&z.shared))
                    .j()
            })
            .collect();
        let enc = m.encode();
        if Round2Message::decode(&enc).as_ref() != Ok(m) {
            return Err(fail("round 2 message does not round-trip"));
        }
        cases.push(valid(
            O::new()
                .k("name", s(format!("round 2 message of dealer {}", d.i)))
                .k("type", s("round2"))
                .k("dealer", n16(d.i))
                .k("own_share", sc(&poly_eval(&d.a, d.i)))
                .k("shares", J::Arr(shares))
                .k("message", round2_j(m))
                .k("encoding", x(&enc)),
        ));
    }

    // One sealing in full detail: dealer 1 to recipient 2.
    let z = &sealings[0][0];
    let tr = seal_key_transcript(&fp, 1, 2, &z.sealed.ephemeral, &d2.msg.share_key, &z.shared);
    cases.push(valid(
        O::new()
            .k("name", s("seal f_1(2) from dealer 1 to recipient 2"))
            .k("type", s("seal"))
            .k("fingerprint", x(&fp.0))
            .k("dealer", n16(1))
            .k("recipient", n16(2))
            .k("recipient_key", el(&d2.msg.share_key))
            .k("recipient_secret", sc(&d2.x))
            .k("share", sc(&z.share))
            .k("ephemeral_secret", sc(&z.e))
            .k("ephemeral", el(&z.sealed.ephemeral))
            .k("shared_secret", el(&z.shared))
            .k("seal_key_transcript", x(&tr))
            .k("seal_key", x(&seal_key_of(&tr)))
            .k("aead_nonce", x(&[0u8; 12]))
            .k("aad", x(&[0, 1, 0, 2]))
            .k("ciphertext", x(&z.sealed.sealed[..32]))
            .k("tag", x(&z.sealed.sealed[32..]))
            .k("sealed", x(&z.sealed.sealed)),
    ));
    // Opening by the recipient; invalid sealed shares are unreadable.
    let open = |sh: &SealedShare, f: &Fingerprint| -> Result<Scalar, PeerError> {
        let shared = pt(sh.ephemeral.point() * d2.x);
        sh.open_with_shared_secret(f, &d2.msg.share_key, &shared)
            .map(|v| *v.expose())
    };
    let open_base = |name: &str, sh: &SealedShare, f: &Fingerprint| {
        O::new()
            .k("name", s(name))
            .k("type", s("open"))
            .k("fingerprint", x(&f.0))
            .k("sealed_share", sealed_j(sh))
            .k("recipient_key", el(&d2.msg.share_key))
            .k("recipient_secret", sc(&d2.x))
    };
    if ok(open(&z.sealed, &fp))? != z.share {
        return Err(fail("open"));
    }
    cases.push(valid(
        open_base("open f_1(2)", &z.sealed, &fp).k("share", sc(&z.share)),
    ));
    let mut flip_ct = z.sealed;
    flip_ct.sealed[0] ^= 1;
    let mut flip_tag = z.sealed;
    flip_tag.sealed[47] ^= 0x80;
    let mut other_dealer = z.sealed;
    other_dealer.dealer = 3;
    let open_invalid: Vec<(&str, SealedShare, &Fingerprint)> = vec![
        ("flipped ciphertext bit", flip_ct, &fp),
        ("flipped tag bit", flip_tag, &fp),
        ("dealer index changed to 3", other_dealer, &fp),
        ("another ceremony's fingerprint", z.sealed, &other_fp),
    ];
    for (name, sh, f) in open_invalid {
        let err = expect_err(open(&sh, f), "unreadable_share")?;
        cases.push(invalid(open_base(name, &sh, f), err));
    }

    // Complaints. Dealer 3 sends a bad share (f_3(1) + 1) to trustee 1.
    let (r2_bad3, ss_bad3) = deal(&mut rng, &fp, d3, &all, Some(1))?;
    let bad_sealed = ss_bad3[0].sealed;
    let (c_bad, u_bad) = complain(&mut rng, &fp, &bad_sealed, d1)?;
    // Dealer 3's share to 2, with a flipped ciphertext bit.
    let mut garbled = sealings[2][1].sealed;
    garbled.sealed[3] ^= 4;
    let (c_garbled, u_garbled) = complain(&mut rng, &fp, &garbled, d2)?;
    // Trustee 2 complains about dealer 1's good share.
    let good_1to2 = sealings[0][0].sealed;
    let (c_false, u_false) = complain(&mut rng, &fp, &good_1to2, d2)?;
    let mut c_forged = c_bad;
    c_forged.shared_secret = pt(mul_g(&rand_scalar(&mut rng)));
    let mut c_tampered = c_bad;
    c_tampered.proof.response += Scalar::ONE;
    // Trustee 3 complains about the share sealed to 2, with its own key.
    let c_wrong = {
        let sh = pt(good_1to2.ephemeral.point() * d3.x);
        let st = DleqStatement {
            base: good_1to2.ephemeral,
            public: d3.msg.share_key,
            image: sh,
        };
        Complaint {
            dealer: 1,
            complainer: 3,
            shared_secret: sh,
            proof: prove_dleq(
                &fp,
                &complaint_context(1, 3),
                &d3.x,
                &st,
                &rand_scalar(&mut rng),
            )?,
        }
    };
    let mut self_complaint = c_false.encode();
    self_complaint[3..5].copy_from_slice(&1u16.to_be_bytes());
    let mut identity_s = c_false.encode();
    identity_s[5..37].fill(0);
    let complaint_cases = vec![
        ComplaintCase {
            name: "trustee 1 against dealer 3's bad share f_3(1) + 1: upheld",
            dealer: d3,
            complainer: d1,
            sealed: bad_sealed,
            encoding: c_bad.encode(),
            nonce: Some(u_bad),
            expect: Ok("bad_share"),
        },
        ComplaintCase {
            name: "trustee 2 against dealer 3's share with a flipped ciphertext bit: upheld",
            dealer: d3,
            complainer: d2,
            sealed: garbled,
            encoding: c_garbled.encode(),
            nonce: Some(u_garbled),
            expect: Ok("unreadable_share"),
        },
        ComplaintCase {
            name: "trustee 2 against dealer 1's good share: false complaint",
            dealer: d1,
            complainer: d2,
            sealed: good_1to2,
            encoding: c_false.encode(),
            nonce: Some(u_false),
            expect: Err("unfounded_complaint"),
        },
        ComplaintCase {
            name: "forged: another shared secret S with the proof of the true one",
            dealer: d3,
            complainer: d1,
            sealed: bad_sealed,
            encoding: c_forged.encode(),
            nonce: None,
            expect: Err("invalid_proof"),
        },
        ComplaintCase {
            name: "forged: tampered DLEQ response",
            dealer: d3,
            complainer: d1,
            sealed: bad_sealed,
            encoding: c_tampered.encode(),
            nonce: None,
            expect: Err("invalid_proof"),
        },
        ComplaintCase {
            name: "wrong complainer: trustee 3 complains about the share sealed to trustee 2",
            dealer: d1,
            complainer: d3,
            sealed: good_1to2,
            encoding: c_wrong.encode(),
            nonce: None,
            expect: Err("bad_trustee_index"),
        },
        ComplaintCase {
            name: "complainer equal to the dealer",
            dealer: d1,
            complainer: d1,
            sealed: good_1to2,
            encoding: self_complaint,
            nonce: None,
            expect: Err("bad_trustee_index"),
        },
        ComplaintCase {
            name: "identity shared secret",
            dealer: d1,
            complainer: d2,
            sealed: good_1to2,
            encoding: identity_s,
            nonce: None,
            expect: Err("identity_element"),
        },
    ];
    for c in complaint_cases {
        cases.push(complaint_case(&fp, c)?);
    }

    // Whole ceremonies.
    let rec = |r1: Vec<Round1Message>, r2: Vec<Round2Message>, cs: Vec<Complaint>| CeremonyRecord {
        params: p,
        manifest_hash: mh,
        round1: r1,
        round2: r2,
        complaints: cs,
    };
    let r1_all: Vec<Round1Message> = dealers.iter().map(|d| d.msg.clone()).collect();
    cases.push(ceremony_case(
        "honest ceremony: everyone qualified",
        &rec(r1_all.clone(), round2.clone(), vec![]),
        &dealers,
        None,
    )?);
    cases.push(ceremony_case(
        "dealer 3 seals a bad share to trustee 1, trustee 1 complains: dealer 3 disqualified",
        &rec(
            r1_all.clone(),
            vec![round2[0].clone(), round2[1].clone(), r2_bad3],
            vec![c_bad],
        ),
        &dealers,
        None,
    )?);
    cases.push(ceremony_case(
        "trustee 2 complains about dealer 1's good share: trustee 2 disqualified",
        &rec(r1_all.clone(), round2.clone(), vec![c_false]),
        &dealers,
        None,
    )?);
    cases.push(ceremony_case(
        "trustee 3 publishes no round 2 message: trustee 3 disqualified",
        &rec(
            r1_all.clone(),
            vec![round2[0].clone(), round2[1].clone()],
            vec![],
        ),
        &dealers,
        None,
    )?);
    // Trustee 3's coefficient proof fails: P = {1, 2}, who deal to each other only.
    let p12: Vec<&Dealer> = vec![d1, d2];
    let (r2_1, _) = deal(&mut rng, &fp, d1, &p12, None)?;
    let (r2_2, _) = deal(&mut rng, &fp, d2, &p12, None)?;
    cases.push(ceremony_case(
        "trustee 3's round 1 coefficient proof fails: trustee 3 disqualified, 1 and 2 deal to each other",
        &rec(
            vec![d1.msg.clone(), d2.msg.clone(), tampered.clone()],
            vec![r2_1, r2_2],
            vec![],
        ),
        &dealers,
        None,
    )?);
    let mut id2 = d2.msg.clone();
    id2.coefficients[1].commitment = Element::identity();
    let mut three3 = d3.msg.clone();
    three3.coefficients.push(d3.msg.coefficients[1]);
    cases.push(ceremony_case(
        "trustee 2 commits to the identity, trustee 3 sends three coefficients: only trustee 1 left",
        &rec(vec![d1.msg.clone(), id2, three3], vec![], vec![]),
        &dealers,
        Some("too_few_qualified"),
    )?);

    Ok(file(
        "Pedersen DKG with Feldman commitments, n = 3, t = 2 (spec §8). Types: round1 (secrets, contexts, proof nonces → message in JSON form and binary encoding; invalid: decode strictly (§8.8.1) then run the public check of §8.2 on it beside the valid messages of trustees 1 and 2); round2 (per share: share = f_i(j), ephemeral_secret e, shared_secret S = e·X_j → message and encoding); seal (one share in full: the seal-key transcript, key, AEAD nonce, aad, ciphertext and tag); open (recipient opens a sealed share with S = x_j·E: share or unreadable_share); complaint (judge per §8.5 given both round 1 encodings, the sealed share and the complaint encoding: upheld = valid with evidence, rejected = invalid with the reason; disqualified names who is out); ceremony (a whole ceremony record in its JSON form (§8.8.4) → qualified set, faults, joint commitments A_k, joint key K, verification keys K_j, secret shares s_j, election fingerprint; or too_few_qualified). Faults: {trustee, fault, error | round | complainer + evidence | dealer + reason}.",
        "§8",
        vec![(
            "ceremony",
            O::new()
                .k("params", params_j(&p))
                .k("manifest_hash", x(&mh))
                .k("fingerprint", x(&fp.0))
                .j(),
        )],
        cases,
    ))
}

/// threshold.json (spec §9).
pub(super) fn threshold() -> Result<String, Error> {
    let mut rng = insecure_test_rng(insecure_seed_for("threshold.json"));
    let mh = rand_bytes::<32>(&mut rng);
    let poly: Vec<Scalar> = (0..T).map(|_| rand_scalar(&mut rng)).collect();
    let key = ok(PublicKey::new(pt(mul_g(&poly[0]))))?;
    let fp = Fingerprint::election(&mh, key.element());
    let shares: Vec<KeyShare> = (1..=N)
        .map(|j| {
            let sj = poly_eval(&poly, j);
            ok(KeyShare::new(j, SecretScalar::new(sj), pt(mul_g(&sj))))
        })
        .collect::<Result<_, _>>()?;
    let key_j = O::new()
        .k("params", params_j(&CeremonyParams { n: N, t: T }))
        .k("manifest_hash", x(&mh))
        .k("polynomial", J::Arr(poly.iter().map(sc).collect()))
        .k("joint_secret", sc(&poly[0]))
        .k("joint_key", el(key.element()))
        .k("fingerprint", x(&fp.0))
        .k(
            "trustees",
            J::Arr(
                shares
                    .iter()
                    .map(|k| {
                        O::new()
                            .k("trustee", n16(k.index()))
                            .k("secret_share", sc(k.secret().expose()))
                            .k("verification_key", el(k.verification_key()))
                            .j()
                    })
                    .collect(),
            ),
        )
        .j();
    let bound = 100u64;
    let table = DlogTable::new(bound);
    let mut cases = Vec::new();
    let plain: [(u64, &[u8]); 3] = [
        (0, b"district 0/contest 0/option 0"),
        (1, b"district 0/contest 0/option 1"),
        (42, b"district 1/contest 2/option 3"),
    ];
    let verify = |f: &Fingerprint,
                  label: &[u8],
                  ct: &Ciphertext,
                  vk: &Element,
                  b: &[u8]|
     -> Result<(), PeerError> {
        let p = PartialDecryption::decode(b)?;
        verify_one(&p.check(f, label, ct, vk), None, &mut weights())
    };
    let mut cts = Vec::new();
    let mut partials: Vec<Vec<PartialDecryption>> = Vec::new();
    for (ci, (m, label)) in plain.iter().enumerate() {
        let r = rand_scalar(&mut rng);
        let ct = key.encrypt_with_nonce(*m, &r);
        let mut row = Vec::new();
        for ks in &shares {
            let u = rand_scalar(&mut rng);
            let mut rr = ReplayRng::new();
            rr.scalar(&u);
            let pd = ks.partial_decrypt(&fp, label, &ct, &mut rr);
            rr.done()?;
            let enc = pd.encode();
            ok(verify(&fp, label, &ct, ks.verification_key(), &enc))?;
            let ctx = partial_context(ks.index(), &ct, label);
            let mut t = Transcript::new(domain::PROOF_DLEQ);
            t.append_fingerprint(&fp)
                .append("context", &ctx)
                .append_element("base", &ct.alpha)
                .append_element("public", ks.verification_key())
                .append_element("image", &pd.share)
                .append_element("commitment_g", &pd.proof.commitment_g)
                .append_element("commitment_y", &pd.proof.commitment_y);
            cases.push(valid(
                O::new()
                    .k(
                        "name",
                        s(format!(
                            "partial decryption of ciphertext {ci} (m = {m}) by trustee {}",
                            ks.index()
                        )),
                    )
                    .k("type", s("partial"))
                    .k("trustee", n16(ks.index()))
                    .k("fingerprint", x(&fp.0))
                    .k("label", x(label))
                    .k("ciphertext", ct_json(&ct))
                    .k("verification_key", el(ks.verification_key()))
                    .k("secret_share", sc(ks.secret().expose()))
                    .k("encryption_nonce", sc(&r))
                    .k("message", n(*m))
                    .k("context", x(&ctx))
                    .k("nonce", sc(&u))
                    .k("challenge", sc(&t.challenge()))
                    .k("share", el(&pd.share))
                    .k("proof", dleq_j(&pd.proof))
                    .k("encoding", x(&enc)),
            ));
            row.push(pd);
        }
        cts.push(ct);
        partials.push(row);
    }

    // Invalid partial decryptions (of ciphertext 0).
    let (ct0, label0) = (cts[0], plain[0].1);
    let p1 = partials[0][0];
    let vk = |j: u16| *shares[usize::from(j) - 1].verification_key();
    let wrong = {
        let s2 = *shares[1].secret().expose() + Scalar::ONE;
        let d = pt(ct0.alpha.point() * s2);
        let st = DleqStatement {
            base: ct0.alpha,
            public: vk(2),
            image: d,
        };
        PartialDecryption {
            trustee: 2,
            share: d,
            proof: prove_dleq(
                &fp,
                &partial_context(2, &ct0, label0),
                &s2,
                &st,
                &rand_scalar(&mut rng),
            )?,
        }
    };
    let other_ct = Ciphertext {
        alpha: ct0.alpha,
        beta: pt(ct0.beta.point() + mul_h(&Scalar::ONE)),
    };
    let mut relabelled = p1;
    relabelled.trustee = 2;
    let mut noncanon = p1.encode();
    unreduce(&mut noncanon, 3 + 32 + 64)?;
    let mut zero = p1.encode();
    zero[1..3].fill(0);
    let ceremony_fp = Fingerprint::ceremony(&mh);
    let other_label: &[u8] = b"district 0/contest 0/option 1";
    let invalid_p: Vec<(&str, &Fingerprint, &[u8], Ciphertext, u16, Vec<u8>, &str)> = vec![
        (
            "wrong share: trustee 2 uses s_2 + 1",
            &fp,
            label0,
            ct0,
            2,
            wrong.encode(),
            "bad_partial_decryption",
        ),
        (
            "trustee 1's proof checked for another ciphertext with the same α (β + H)",
            &fp,
            label0,
            other_ct,
            1,
            p1.encode(),
            "bad_partial_decryption",
        ),
        (
            "trustee 1's proof checked under another label",
            &fp,
            other_label,
            ct0,
            1,
            p1.encode(),
            "bad_partial_decryption",
        ),
        (
            "trustee 1's proof checked under the ceremony fingerprint",
            &ceremony_fp,
            label0,
            ct0,
            1,
            p1.encode(),
            "bad_partial_decryption",
        ),
        (
            "trustee 1's partial decryption presented as trustee 2's",
            &fp,
            label0,
            ct0,
            2,
            relabelled.encode(),
            "bad_partial_decryption",
        ),
        (
            "non-canonical response (z + ℓ)",
            &fp,
            label0,
            ct0,
            1,
            noncanon,
            "non_canonical_scalar",
        ),
        (
            "trustee index 0",
            &fp,
            label0,
            ct0,
            1,
            zero,
            "out_of_bounds",
        ),
        (
            "truncated (130 bytes)",
            &fp,
            label0,
            ct0,
            1,
            p1.encode()[..130].to_vec(),
            "truncated",
        ),
    ];
    for (name, f, label, ct, j, enc, kind) in invalid_p {
        let err = expect_err(verify(f, label, &ct, &vk(j), &enc), kind)?;
        cases.push(invalid(
            O::new()
                .k("name", s(name))
                .k("type", s("partial"))
                .k("trustee", n16(j))
                .k("fingerprint", x(&f.0))
                .k("label", x(label))
                .k("ciphertext", ct_json(&ct))
                .k("verification_key", el(&vk(j)))
                .k("encoding", x(&enc)),
            err,
        ));
    }

    // Lagrange coefficients at 0.
    let subsets: [&[u16]; 6] = [&[1, 2], &[1, 3], &[2, 3], &[3, 1], &[1, 2, 3], &[2]];
    for set in subsets {
        let l = ok(lagrange_at_zero(set))?;
        cases.push(valid(
            O::new()
                .k("name", s(format!("Lagrange coefficients at 0 for {set:?}")))
                .k("type", s("lagrange"))
                .k("indices", J::Arr(set.iter().map(|&j| n16(j)).collect()))
                .k("coefficients", J::Arr(l.iter().map(sc).collect())),
        ));
    }
    let err = expect_err(lagrange_at_zero(&[2, 2]), "duplicate_trustee")?;
    cases.push(invalid(
        O::new()
            .k("name", s("Lagrange coefficients for [2, 2]"))
            .k("type", s("lagrange"))
            .k("indices", J::Arr(vec![n16(2), n16(2)])),
        err,
    ));

    // Combination: every 2-subset and all three give the same plaintext.
    let combos: [&[usize]; 4] = [&[0, 1], &[0, 2], &[1, 2], &[0, 1, 2]];
    for (ci, ct) in cts.iter().enumerate() {
        let m = plain[ci].0;
        for set in combos {
            let ps: Vec<PartialDecryption> = set.iter().map(|&k| partials[ci][k]).collect();
            let idx: Vec<u16> = ps.iter().map(|q| q.trustee).collect();
            let l = ok(lagrange_at_zero(&idx))?;
            let elem = ok(combine_element(T, ct, &ps))?;
            if ok(combine(T, ct, &ps, &table))? != m || elem != pt(mul_h(&Scalar::from(m))) {
                return Err(fail("combination gives the wrong plaintext"));
            }
            let combined = pt(ct.beta.point() - elem.point());
            cases.push(valid(
                O::new()
                    .k(
                        "name",
                        s(format!(
                            "combine ciphertext {ci} (m = {m}) with trustees {idx:?}"
                        )),
                    )
                    .k("type", s("combine"))
                    .k("threshold", n16(T))
                    .k("ciphertext", ct_json(ct))
                    .k(
                        "partials",
                        J::Arr(ps.iter().map(|q| x(&q.encode())).collect()),
                    )
                    .k("dlog_bound", n(bound))
                    .k("lagrange", J::Arr(l.iter().map(sc).collect()))
                    .k("combined", el(&combined))
                    .k("plaintext_element", el(&elem))
                    .k("plaintext", n(m)),
            ));
        }
    }
    let ct = &cts[2];
    let combine_invalid: Vec<(&str, Vec<PartialDecryption>, &str)> = vec![
        (
            "one partial decryption, t = 2",
            vec![partials[2][0]],
            "not_enough_shares",
        ),
        (
            "trustee 1's partial decryption twice",
            vec![partials[2][0], partials[2][0]],
            "duplicate_trustee",
        ),
    ];
    for (name, ps, kind) in combine_invalid {
        let err = expect_err(combine(T, ct, &ps, &table), kind)?;
        cases.push(invalid(
            O::new()
                .k("name", s(name))
                .k("type", s("combine"))
                .k("threshold", n16(T))
                .k("ciphertext", ct_json(ct))
                .k(
                    "partials",
                    J::Arr(ps.iter().map(|q| x(&q.encode())).collect()),
                )
                .k("dlog_bound", n(bound)),
            err,
        ));
    }

    Ok(file(
        "Threshold decryption, n = 3, t = 2 (spec §9). The key: secret shares s_j = F(j) of the polynomial F (any DKG output has this form), K = F(0)·G, K_j = s_j·G, fingerprint = F_election. Types: partial (D_j = s_j·α, DLEQ proof with base α, public K_j, image D_j, context \"urna/v1/decrypt/partial\" ‖ u16(j) ‖ β ‖ label, explicit nonce; invalid: decode the 131-byte encoding (§9.4) and verify against the given ciphertext, label, fingerprint and verification_key); lagrange (λ_j at 0 in the order given); combine (verified partial decryptions → lagrange, combined = Σ λ_j·D_j = r·K, plaintext_element = β − combined = m·H, plaintext m; invalid: not_enough_shares, duplicate_trustee).",
        "§9",
        vec![("key", key_j)],
        cases,
    ))
}
