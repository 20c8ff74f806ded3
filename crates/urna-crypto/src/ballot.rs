//! Encrypted ballots: one ciphertext per option with its range proof, one
//! selection-limit proof per contest, all signed with the voter's
//! credential (spec §7). In an exact contest (min = max) the last option's
//! ciphertext is derived from the others and the contest's fixed sum, so it
//! is not sent, nor is a sum proof, nor the derived option's range proof
//! where the others imply it (spec §7.1, docs/decisions/0007).
//!
//! Every proof's context binds the credential, the contest and the option
//! (spec §7.2). Without that, a voter could copy someone else's
//! ciphertexts and proofs into a ballot of their own and, by watching how
//! the copied vote moves the tally, learn how that person voted (the
//! replay attack on Helios, Cortier and Smyth 2011).

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::CryptoRng;

use crate::batch::{Accumulator, Verify};
use crate::credential::{CredentialKey, Signature};
use crate::elgamal::{Ciphertext, Nonce, PublicKey, SecretScalar};
use crate::encoding::{Element, Reader, Writer, bounded};
use crate::error::{PeerError, UsageError};
use crate::group::{h, mul_h};
use crate::proof::range::{
    MAX_BRANCHES, RangeProof, RangeStatement, accumulate_range, accumulate_range_open,
};
use crate::transcript::Fingerprint;

/// Encoding version of [`Ballot`] (spec §7.3).
pub const BALLOT_VERSION: u8 = 2;
/// Most contests on one ballot.
pub const MAX_CONTESTS: u64 = 64;
/// Most options in one contest.
pub const MAX_OPTIONS: u64 = 512;
/// Largest ballot header (election-defined bytes such as the style and a nonce).
pub const MAX_HEADER: u32 = 1024;
/// Option index written in the sum proof's context (spec §7.2).
pub const SUM_OPTION: u16 = u16::MAX;

/// The shape of a contest as the ballot style defines it (spec §7.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct ContestShape {
    /// Number of options.
    pub options: u16,
    /// Largest value one option may get (1 for ordinary choices).
    pub option_max: u32,
    /// Fewest selections in total.
    pub min: u32,
    /// Most selections in total.
    pub max: u32,
}

impl ContestShape {
    /// Choose between `min` and `max` of `options`, at most once each.
    pub fn choose(options: u16, min: u32, max: u32) -> Self {
        ContestShape {
            options,
            option_max: 1,
            min,
            max,
        }
    }

    /// Checks the shape against the limits of spec §7.1.
    pub fn validate(&self) -> Result<(), PeerError> {
        bounded("options", self.options.into(), 1, MAX_OPTIONS)?;
        bounded("option_max", self.option_max.into(), 1, MAX_BRANCHES - 1)?;
        let total = u64::from(self.options) * u64::from(self.option_max);
        bounded("max", self.max.into(), self.min.into(), total)?;
        bounded(
            "max - min",
            u64::from(self.max - self.min),
            0,
            MAX_BRANCHES - 1,
        )?;
        Ok(())
    }

    /// Whether the contest's sum is fixed (min = max = k): its last option
    /// is then derived, not sent (spec §7.1).
    pub fn is_exact(&self) -> bool {
        self.min == self.max
    }

    /// Options whose ciphertext is on the wire: all but the derived last
    /// one of an exact contest (spec §7.3).
    pub fn sent_options(&self) -> usize {
        usize::from(self.options).saturating_sub(usize::from(self.is_exact()))
    }

    /// Whether the derived option's range follows from the others' (spec
    /// §7.1): n = 1 (it is k itself, and k ≤ option_max by the bounds) or
    /// n = 2 with k = option_max (v_1 = k − v_0 with v_0 ∈ [0, k]).
    pub fn last_range_implied(&self) -> bool {
        self.is_exact() && (self.options == 1 || (self.options == 2 && self.max == self.option_max))
    }

    /// Range proofs per contest, one per option in option order except an
    /// implied derived option (spec §7.3).
    pub fn option_proofs(&self) -> usize {
        usize::from(self.options).saturating_sub(usize::from(self.last_range_implied()))
    }

    fn encode(&self, w: &mut Writer) {
        w.u16(self.options)
            .u32(self.option_max)
            .u32(self.min)
            .u32(self.max);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, PeerError> {
        let s = ContestShape {
            options: r.u16()?,
            option_max: r.u32()?,
            min: r.u32()?,
            max: r.u32()?,
        };
        s.validate()?;
        Ok(s)
    }
}

/// One contest: its shape, one ciphertext per option (an exact contest's
/// last one derived, spec §7.1), a `0..=option_max` proof per option whose
/// range is not implied, and the selection-limit proof on their sum unless
/// the sum is fixed.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct EncryptedContest {
    /// The shape the voter's device used.
    pub shape: ContestShape,
    /// One ciphertext per option, in the manifest's order, the derived
    /// one of an exact contest included.
    pub ciphertexts: Vec<Ciphertext>,
    /// Range proofs in option order: one per option, except that an
    /// exact contest's implied last option has none
    /// ([`ContestShape::option_proofs`]).
    pub proofs: Vec<RangeProof>,
    /// Proof that the options' sum lies in `min..=max`; `None` in an exact
    /// contest, whose sum is `min` by construction.
    pub sum_proof: Option<RangeProof>,
}

/// `k·H`; `k` is 1 in every yes/no contest, where the table is not needed.
fn small_multiple_of_h(k: u32) -> RistrettoPoint {
    match k {
        0 => RistrettoPoint::identity(),
        1 => *h().point(),
        _ => mul_h(&Scalar::from(k)),
    }
}

/// The derived last option of an exact contest (spec §7.1):
/// `Enc(k; 0) − Σ sent = (−Σα, k·H − Σβ)`, which encrypts `k − Σ v` under
/// nonce `−Σ r`. Its α may be the identity (n = 1); it is never decoded.
pub fn derived_ciphertext(shape: &ContestShape, sent: &[Ciphertext]) -> Ciphertext {
    let (a, b) = sent.iter().fold(
        (RistrettoPoint::identity(), small_multiple_of_h(shape.max)),
        |(a, b), c| (a - c.alpha.point(), b - c.beta.point()),
    );
    Ciphertext {
        alpha: Element::from_point(a),
        beta: Element::from_point(b),
    }
}

impl EncryptedContest {
    /// The points (α, β) of the derived last option of an exact contest
    /// (spec §7.1), computed without encoding them; `None` otherwise.
    pub fn derived_points(&self) -> Option<(RistrettoPoint, RistrettoPoint)> {
        if !self.shape.is_exact() {
            return None;
        }
        let sent = self.shape.sent_options().min(self.ciphertexts.len());
        Some(self.ciphertexts[..sent].iter().fold(
            (
                RistrettoPoint::identity(),
                small_multiple_of_h(self.shape.max),
            ),
            |(a, b), c| (a - c.alpha.point(), b - c.beta.point()),
        ))
    }

    /// The homomorphic sum of the options.
    pub fn sum(&self) -> Ciphertext {
        Ciphertext::sum(&self.ciphertexts)
    }
}

/// A signed encrypted ballot (spec §7.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ballot {
    /// The public credential that signed it.
    pub credential: Element,
    /// Election-defined header bytes (covered by the signature).
    pub header: Vec<u8>,
    /// The contests, in ballot-style order.
    pub contests: Vec<EncryptedContest>,
    /// The credential's signature over the encoding up to here.
    pub signature: Signature,
}

/// What a voter's device keeps to audit a ballot (Benaloh challenge, spec §7.5).
#[derive(Clone, Debug)]
pub struct BallotSecrets {
    /// The selections, per contest and option.
    pub selections: Vec<Vec<u64>>,
    /// The encryption nonces, per contest and option.
    pub nonces: Vec<Vec<Nonce>>,
}

/// Proof context for an option (`option = Some`) or a contest sum (spec §7.2):
/// `credential (32) || contest (u16) || option (u16, 0xFFFF for the sum)`.
pub fn proof_context(credential: &Element, contest: u16, option: u16) -> [u8; 36] {
    let mut c = [0u8; 36];
    c[..32].copy_from_slice(credential.as_bytes());
    c[32..34].copy_from_slice(&contest.to_be_bytes());
    c[34..].copy_from_slice(&option.to_be_bytes());
    c
}

fn index16(i: usize) -> Result<u16, UsageError> {
    u16::try_from(i)
        .map_err(|_| UsageError::Parameters("more than 65535 contests or options".into()))
}

impl Ballot {
    /// Encrypts `selections` (one `Vec` per contest, one value per option),
    /// proves every rule of `shapes`, and signs with `credential`.
    #[allow(clippy::too_many_arguments)]
    pub fn encrypt<R: CryptoRng + ?Sized>(
        key: &PublicKey,
        fp: &Fingerprint,
        credential: &CredentialKey,
        header: &[u8],
        shapes: &[ContestShape],
        selections: &[Vec<u64>],
        rng: &mut R,
    ) -> Result<(Ballot, BallotSecrets), UsageError> {
        if shapes.len() != selections.len()
            || shapes.is_empty()
            || shapes.len() as u64 > MAX_CONTESTS
        {
            return Err(UsageError::Parameters(format!(
                "{} selections for {} contests (1..={MAX_CONTESTS})",
                selections.len(),
                shapes.len()
            )));
        }
        if header.len() > MAX_HEADER as usize {
            return Err(UsageError::Parameters(format!(
                "header longer than {MAX_HEADER} bytes"
            )));
        }
        let cred = credential.public();
        let mut contests = Vec::with_capacity(shapes.len());
        let mut all_nonces = Vec::with_capacity(shapes.len());
        for (ci, (shape, sel)) in shapes.iter().zip(selections).enumerate() {
            shape
                .validate()
                .map_err(|e| UsageError::Parameters(e.to_string()))?;
            if sel.len() != usize::from(shape.options) {
                return Err(UsageError::Parameters(format!(
                    "contest {ci}: {} values for {} options",
                    sel.len(),
                    shape.options
                )));
            }
            let cidx = index16(ci)?;
            let total = sel.iter().fold(0u64, |t, &v| t.saturating_add(v));
            if shape.is_exact() && total != u64::from(shape.max) {
                return Err(UsageError::ValueOutOfRange {
                    value: total,
                    lo: shape.min.into(),
                    hi: shape.max.into(),
                });
            }
            if let Some(&v) = sel.iter().find(|&&v| v > u64::from(shape.option_max)) {
                return Err(UsageError::ValueOutOfRange {
                    value: v,
                    lo: 0,
                    hi: shape.option_max.into(),
                });
            }
            let mut ciphertexts = Vec::with_capacity(sel.len());
            let mut proofs = Vec::with_capacity(sel.len());
            let mut nonces = Vec::with_capacity(sel.len());
            let mut nonce_sum = Scalar::ZERO;
            for (oi, &v) in sel.iter().enumerate() {
                let (ct, r) = if oi < shape.sent_options() {
                    key.encrypt(v, rng)
                } else {
                    // The derived option: Enc(k; 0) − Σ Enc(v_o; r_o).
                    (
                        derived_ciphertext(shape, &ciphertexts),
                        SecretScalar::new(-nonce_sum),
                    )
                };
                if oi < shape.option_proofs() {
                    let ctx = proof_context(cred, cidx, index16(oi)?);
                    proofs.push(RangeProof::prove(
                        fp,
                        &ctx,
                        key,
                        &[ct],
                        0,
                        shape.option_max.into(),
                        v,
                        &r,
                        rng,
                    )?);
                }
                nonce_sum += r.expose();
                ciphertexts.push(ct);
                nonces.push(r);
            }
            let sum_proof = if shape.is_exact() {
                None
            } else {
                let ctx = proof_context(cred, cidx, SUM_OPTION);
                let nonce_sum = SecretScalar::new(nonce_sum);
                Some(RangeProof::prove(
                    fp,
                    &ctx,
                    key,
                    &ciphertexts,
                    shape.min.into(),
                    shape.max.into(),
                    total,
                    &nonce_sum,
                    rng,
                )?)
            };
            contests.push(EncryptedContest {
                shape: *shape,
                ciphertexts,
                proofs,
                sum_proof,
            });
            all_nonces.push(nonces);
        }
        let mut ballot = Ballot {
            credential: *cred,
            header: header.to_vec(),
            contests,
            signature: Signature {
                commitment: Element::identity(),
                response: Scalar::ZERO,
            },
        };
        let unsigned = ballot.signed_bytes()?;
        ballot.signature = credential.sign(fp, &unsigned, rng);
        Ok((
            ballot,
            BallotSecrets {
                selections: selections.to_vec(),
                nonces: all_nonces,
            },
        ))
    }

    fn encode_unsigned(&self, w: &mut Writer) -> Result<(), UsageError> {
        w.u8(BALLOT_VERSION).element(&self.credential);
        w.bytes32(&self.header)?;
        w.u16(index16(self.contests.len())?);
        for c in &self.contests {
            c.shape.encode(w);
            // Sent options with their proofs, then the derived option's
            // proof if any, then the sum proof if any (spec §7.3).
            let sent = c.shape.sent_options().min(c.ciphertexts.len());
            for (ct, proof) in c.ciphertexts[..sent].iter().zip(&c.proofs) {
                ct.encode(w);
                proof.encode(w);
            }
            for proof in c.proofs.iter().skip(sent) {
                proof.encode(w);
            }
            if let Some(p) = &c.sum_proof {
                p.encode(w);
            }
        }
        Ok(())
    }

    /// The bytes the signature covers: the encoding without the signature.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, UsageError> {
        let mut w = Writer::with_capacity(self.encoded_len_hint());
        self.encode_unsigned(&mut w)?;
        Ok(w.finish())
    }

    fn encoded_len_hint(&self) -> usize {
        let proofs: usize = self
            .contests
            .iter()
            .map(|c| {
                c.proofs
                    .iter()
                    .map(|p| 64 + 128 * p.branches.len())
                    .sum::<usize>()
                    + c.sum_proof.as_ref().map_or(0, |p| 128 * p.branches.len())
                    + 14
            })
            .sum();
        1 + 32 + 4 + self.header.len() + 2 + proofs + 64
    }

    /// The canonical encoding (spec §7.3).
    pub fn encode(&self) -> Result<Vec<u8>, UsageError> {
        let mut w = Writer::with_capacity(self.encoded_len_hint());
        self.encode_unsigned(&mut w)?;
        self.signature.encode(&mut w);
        Ok(w.finish())
    }

    /// Strict decoding (spec §7.3): every field canonical, nothing left over.
    pub fn decode(bytes: &[u8]) -> Result<Self, PeerError> {
        Self::decode_with(bytes, true)
    }

    /// [`decode`](Self::decode) for a verifier that needs only points: a
    /// contest whose derived option is implied (no proof is about it,
    /// spec §7.1) keeps just its n − 1 sent ciphertexts, and
    /// [`EncryptedContest::derived_points`] gives the last one's points.
    /// This skips compressing two points per such contest (an inverse
    /// square root each), about a tenth of verifying a yes/no ballot.
    /// The checks are the same; [`Ballot::statement`] accepts both forms.
    pub fn decode_deferred(bytes: &[u8]) -> Result<Self, PeerError> {
        Self::decode_with(bytes, false)
    }

    fn decode_with(bytes: &[u8], derive_implied: bool) -> Result<Self, PeerError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != BALLOT_VERSION {
            return Err(PeerError::UnknownVersion(version));
        }
        let credential = r.element_non_identity()?;
        let header = r.bytes32("header length", MAX_HEADER)?.to_vec();
        let n = bounded("contests", r.u16()?.into(), 1, MAX_CONTESTS)?;
        let mut contests = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let shape = ContestShape::decode(&mut r)?;
            let mut ciphertexts = Vec::with_capacity(shape.options.into());
            let mut proofs = Vec::with_capacity(shape.options.into());
            for _ in 0..shape.sent_options() {
                ciphertexts.push(Ciphertext::decode(&mut r)?);
                proofs.push(RangeProof::decode(&mut r, 0, shape.option_max.into())?);
            }
            let sum_proof = if shape.is_exact() {
                if derive_implied || !shape.last_range_implied() {
                    ciphertexts.push(derived_ciphertext(&shape, &ciphertexts));
                }
                if !shape.last_range_implied() {
                    proofs.push(RangeProof::decode(&mut r, 0, shape.option_max.into())?);
                }
                None
            } else {
                Some(RangeProof::decode(
                    &mut r,
                    shape.min.into(),
                    shape.max.into(),
                )?)
            };
            contests.push(EncryptedContest {
                shape,
                ciphertexts,
                proofs,
                sum_proof,
            });
        }
        let signature = Signature::decode(&mut r)?;
        r.finish()?;
        Ok(Ballot {
            credential,
            header,
            contests,
            signature,
        })
    }

    /// Binds the ballot to the election and the expected ballot style.
    pub fn statement<'a>(
        &'a self,
        key: &'a Element,
        fp: &'a Fingerprint,
        shapes: &'a [ContestShape],
    ) -> BallotCheck<'a> {
        BallotCheck {
            ballot: self,
            key,
            fp,
            shapes,
            signed: None,
        }
    }

    /// Checks a Benaloh audit (spec §7.5): re-encrypting every revealed
    /// selection with its revealed nonce gives exactly this ballot's
    /// ciphertexts, an exact contest's derived one included.
    pub fn check_audit(&self, key: &PublicKey, secrets: &BallotSecrets) -> Result<(), PeerError> {
        if secrets.selections.len() != self.contests.len()
            || secrets.nonces.len() != self.contests.len()
        {
            return Err(PeerError::ShapeMismatch {
                what: "audited contests",
                expected: self.contests.len() as u64,
                found: secrets.selections.len() as u64,
            });
        }
        for (ci, ((c, sel), nonces)) in self
            .contests
            .iter()
            .zip(&secrets.selections)
            .zip(&secrets.nonces)
            .enumerate()
        {
            if sel.len() != c.ciphertexts.len() || nonces.len() != c.ciphertexts.len() {
                return Err(PeerError::ShapeMismatch {
                    what: "audited options",
                    expected: c.ciphertexts.len() as u64,
                    found: sel.len() as u64,
                });
            }
            for (oi, ((ct, &v), r)) in c.ciphertexts.iter().zip(sel).zip(nonces).enumerate() {
                if key.encrypt_with_nonce(v, r.expose()) != *ct {
                    return Err(PeerError::AuditMismatch {
                        contest: ci as u16,
                        option: oi as u16,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A ballot with what it must satisfy. Holds the signed bytes once computed.
#[derive(Debug, Clone)]
pub struct BallotCheck<'a> {
    ballot: &'a Ballot,
    key: &'a Element,
    fp: &'a Fingerprint,
    shapes: &'a [ContestShape],
    signed: Option<&'a [u8]>,
}

impl<'a> BallotCheck<'a> {
    fn check_shapes(&self) -> Result<(), PeerError> {
        let b = self.ballot;
        if b.contests.len() != self.shapes.len() {
            return Err(PeerError::ShapeMismatch {
                what: "contests",
                expected: self.shapes.len() as u64,
                found: b.contests.len() as u64,
            });
        }
        for (ci, (c, shape)) in b.contests.iter().zip(self.shapes).enumerate() {
            // n − 1 ciphertexts only from `decode_deferred`, where the
            // derived option is implied and no proof is about it.
            let deferred = shape.is_exact()
                && shape.last_range_implied()
                && c.ciphertexts.len() == shape.sent_options();
            if c.shape != *shape
                || (c.ciphertexts.len() != usize::from(shape.options) && !deferred)
                || c.proofs.len() != shape.option_proofs()
                || c.sum_proof.is_some() == shape.is_exact()
            {
                return Err(PeerError::ShapeMismatch {
                    what: "contest shape differs from the ballot style in contest",
                    expected: ci as u64,
                    found: ci as u64,
                });
            }
        }
        Ok(())
    }

    /// Walks every range proof of the ballot in the order of spec §7.4 —
    /// per contest, each option's proof (an exact contest's derived option
    /// last, about its derived ciphertext), then the sum proof if any —
    /// with its statement and context; `option` is `None` for the sum proof.
    fn for_each_proof(
        &self,
        mut f: impl FnMut(
            u16,
            Option<u16>,
            &RangeProof,
            &RangeStatement<'_>,
            &[u8],
        ) -> Result<(), PeerError>,
    ) -> Result<(), PeerError> {
        let b = self.ballot;
        for (ci, (c, shape)) in b.contests.iter().zip(self.shapes).enumerate() {
            let cidx = ci as u16;
            for (oi, (ct, proof)) in c.ciphertexts.iter().zip(&c.proofs).enumerate() {
                let st = RangeStatement {
                    key: self.key,
                    summands: std::slice::from_ref(ct),
                    lo: 0,
                    hi: shape.option_max.into(),
                };
                let ctx = proof_context(&b.credential, cidx, oi as u16);
                f(cidx, Some(oi as u16), proof, &st, &ctx)?;
            }
            if let Some(sum_proof) = &c.sum_proof {
                let st = RangeStatement {
                    key: self.key,
                    summands: &c.ciphertexts,
                    lo: shape.min.into(),
                    hi: shape.max.into(),
                };
                let ctx = proof_context(&b.credential, cidx, SUM_OPTION);
                f(cidx, None, sum_proof, &st, &ctx)?;
            }
        }
        Ok(())
    }

    /// Supplies the signed bytes when the caller has the encoding at hand
    /// (a verifier reading the board does), saving a re-encoding.
    pub fn with_signed_bytes(mut self, signed: &'a [u8]) -> Self {
        self.signed = Some(signed);
        self
    }
}

impl Verify for BallotCheck<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        let b = self.ballot;
        self.check_shapes()?;
        // Same equations as `for_each_proof` with `accumulate_range`, but
        // each sent ciphertext enters the multiscalar multiplication once:
        // its option proof's coefficients and the contest's sum-proof
        // coefficients (the sum proof is about Σ of these very
        // ciphertexts) are added before the term is. A derived ciphertext
        // (−Σα, k·H − Σβ) never enters: its proof's coefficients (a, b)
        // become −a and −b on every sent option and k·b on H.
        let mut coeffs: Vec<(Scalar, Scalar)> = Vec::new();
        for (ci, (c, shape)) in b.contests.iter().zip(self.shapes).enumerate() {
            let cidx = ci as u16;
            coeffs.clear();
            for (oi, (ct, proof)) in c.ciphertexts.iter().zip(&c.proofs).enumerate() {
                let st = RangeStatement {
                    key: self.key,
                    summands: std::slice::from_ref(ct),
                    lo: 0,
                    hi: shape.option_max.into(),
                };
                let ctx = proof_context(&b.credential, cidx, oi as u16);
                coeffs.push(accumulate_range_open(acc, proof, self.fp, &ctx, &st)?);
            }
            let sent = shape.sent_options();
            let (sa, sb) = match &c.sum_proof {
                Some(sum_proof) => {
                    let st = RangeStatement {
                        key: self.key,
                        summands: &c.ciphertexts,
                        lo: shape.min.into(),
                        hi: shape.max.into(),
                    };
                    let ctx = proof_context(&b.credential, cidx, SUM_OPTION);
                    accumulate_range_open(acc, sum_proof, self.fp, &ctx, &st)?
                }
                None => match coeffs.get(sent) {
                    // The derived option's proof (check_shapes: only
                    // exact contests have no sum proof, and only their
                    // derived option follows the sent ones).
                    Some(&(da, db)) => {
                        acc.raw_h(db * Scalar::from(shape.max));
                        (-da, -db)
                    }
                    None => (Scalar::ZERO, Scalar::ZERO),
                },
            };
            for (ct, (ca, cb)) in c.ciphertexts[..sent].iter().zip(&coeffs) {
                acc.raw_term(ca + sa, &ct.alpha);
                acc.raw_term(cb + sb, &ct.beta);
            }
        }
        let owned;
        let signed = match self.signed {
            Some(s) => s,
            None => {
                owned = b.signed_bytes().map_err(|_| PeerError::OutOfBounds {
                    field: "ballot size",
                    value: u64::MAX,
                    min: 0,
                    max: u32::MAX.into(),
                })?;
                &owned
            }
        };
        b.signature
            .statement(self.fp, &b.credential, signed)
            .accumulate(acc)
    }

    fn failure(&self) -> PeerError {
        PeerError::InvalidProof(crate::error::ProofKind::Range)
    }

    fn locate(&self, key: Option<&Element>, seed: [u8; 32]) -> PeerError {
        use rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
        let b = self.ballot;
        let mut alone = |f: &mut dyn FnMut(&mut Accumulator) -> Result<(), PeerError>| {
            let mut acc = Accumulator::new(&mut rng, key);
            f(&mut acc).is_ok() && acc.check()
        };
        // Proofs first: a changed proof also breaks the signature, and
        // naming the proof says more.
        let named = self.for_each_proof(|contest, option, proof, st, ctx| {
            if alone(&mut |acc| accumulate_range(acc, proof, self.fp, ctx, st)) {
                Ok(())
            } else {
                Err(PeerError::BadBallotProof { contest, option })
            }
        });
        if let Err(e) = named {
            return e;
        }
        if let Ok(signed) = b.signed_bytes() {
            let sig = b.signature.statement(self.fp, &b.credential, &signed);
            if !alone(&mut |acc| sig.accumulate(acc)) {
                return sig.failure();
            }
        }
        self.failure()
    }

    fn terms_hint(&self) -> usize {
        self.ballot
            .contests
            .iter()
            .map(|c| {
                c.proofs
                    .iter()
                    .map(|p| 2 * p.branches.len() + 2)
                    .sum::<usize>()
                    + c.sum_proof.as_ref().map_or(0, |p| 2 * p.branches.len())
            })
            .sum::<usize>()
            + 2
    }
}
