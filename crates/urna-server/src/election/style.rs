//! The client's side of `GET /election/style/{district}` (spec/api.md):
//! what a device needs to make a ballot. The demo's devices, the bench and
//! the tests read the server's answer through this one type, so a change
//! to the answer breaks them all at compile or parse time together.

use serde::Deserialize;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::ContestShape;
use urna_crypto::elgamal::PublicKey;
use urna_crypto::encoding::Element;

/// A district's ballot style as a device uses it.
#[derive(Debug, Clone)]
pub struct BallotStyle {
    /// The ballot header to put in every ballot of the district (§R6.1).
    pub header: Vec<u8>,
    /// One shape per contest, in ballot order.
    pub shapes: Vec<ContestShape>,
    /// The joint election key.
    pub key: PublicKey,
    /// The election fingerprint F_election.
    pub fingerprint: Fingerprint,
}

/// Why an answer is not a ballot style.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StyleError {
    /// Not the JSON of spec/api.md.
    #[error("ballot style JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field that is not what it must be.
    #[error("ballot style field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

#[derive(Deserialize)]
struct StyleJson {
    header: String,
    contests: Vec<ContestJson>,
    joint_key: String,
    fingerprint: String,
}

#[derive(Deserialize)]
struct ContestJson {
    shape: ContestShape,
}

fn field(field: &'static str, reason: impl ToString) -> StyleError {
    StyleError::Field {
        field,
        reason: reason.to_string(),
    }
}

impl BallotStyle {
    /// Parses the server's answer (the response body).
    pub fn from_json(body: &[u8]) -> Result<Self, StyleError> {
        let s: StyleJson = serde_json::from_slice(body)?;
        let fingerprint: [u8; 32] = hex::decode(&s.fingerprint)
            .map_err(|e| field("fingerprint", e))?
            .try_into()
            .map_err(|_| field("fingerprint", "not 32 bytes"))?;
        let key = Element::from_hex(&s.joint_key).map_err(|e| field("joint_key", e))?;
        Ok(BallotStyle {
            header: hex::decode(&s.header).map_err(|e| field("header", e))?,
            shapes: s.contests.into_iter().map(|c| c.shape).collect(),
            key: PublicKey::new(key).map_err(|e| field("joint_key", e))?,
            fingerprint: Fingerprint(fingerprint),
        })
    }

    /// Parses an answer already read as JSON.
    pub fn from_value(v: &serde_json::Value) -> Result<Self, StyleError> {
        Self::from_json(v.to_string().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const K: &str = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";

    fn doc(shape: &str, fp: &str) -> String {
        format!(
            r#"{{"header":"0102","contests":[{{"id":"q","shape":{shape}}}],"joint_key":"{K}","fingerprint":"{fp}"}}"#
        )
    }

    #[test]
    fn reads_the_answer_and_names_a_bad_field() {
        let shape = r#"{"options":2,"option_max":1,"min":1,"max":1}"#;
        let s = BallotStyle::from_json(doc(shape, &"ab".repeat(32)).as_bytes()).unwrap();
        assert_eq!(s.header, vec![1, 2]);
        assert_eq!(
            s.shapes,
            vec![ContestShape {
                options: 2,
                option_max: 1,
                min: 1,
                max: 1
            }]
        );
        assert_eq!(s.fingerprint.0, [0xab; 32]);
        let short = BallotStyle::from_json(doc(shape, "abab").as_bytes()).unwrap_err();
        assert!(
            matches!(
                short,
                StyleError::Field {
                    field: "fingerprint",
                    ..
                }
            ),
            "{short}"
        );
        let bad_shape =
            BallotStyle::from_json(doc(r#"{"options":2}"#, &"ab".repeat(32)).as_bytes());
        assert!(matches!(bad_shape, Err(StyleError::Json(_))));
    }
}
