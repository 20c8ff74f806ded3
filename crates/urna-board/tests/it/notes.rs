//! Checkpoints, signed notes and cosignatures.

// clippy.toml allows unwrap in #[test] fns; this extends it to the helpers here.
#![allow(clippy::unwrap_used)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use urna_board::*;

const ORIGIN: &str = "urna.example/2024-test";

fn board_key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &[0x11; 32]).unwrap()
}

fn observer(n: u8) -> ObserverSigningKey {
    ObserverSigningKey::from_secret_bytes(&format!("observer.example/{n}"), &[0x20 + n; 32])
        .unwrap()
}

fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint::new(ORIGIN, size, leaf_hash(&size.to_be_bytes())).unwrap()
}

#[test]
fn sign_parse_verify_round_trip() {
    let key = board_key();
    let cp = checkpoint(1234);
    let note = sign_checkpoint(&key, &cp).unwrap();
    let text = note.to_text();
    let parsed = SignedNote::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, note);
    assert_eq!(parsed.to_text(), text);
    let v = verify_checkpoint(&parsed, &key.verifier_key(), &[]).unwrap();
    assert_eq!(v.checkpoint, cp);
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.cosigners().count(), 0);

    let with_ext =
        Checkpoint::with_extensions(ORIGIN, 7, [9; 32], vec!["ext one".into(), "ext+two".into()])
            .unwrap();
    assert_eq!(Checkpoint::parse(&with_ext.to_text()).unwrap(), with_ext);
    let note = sign_checkpoint(&key, &with_ext).unwrap();
    let v = verify_note(&note, &[key.verifier_key()]).unwrap();
    assert_eq!(v.checkpoint.extensions(), ["ext one", "ext+two"]);
}

#[test]
fn keys_generate_and_round_trip() {
    let mut rng = StdRng::seed_from_u64(1);
    let a = BoardSigningKey::generate(ORIGIN, &mut rng).unwrap();
    let b = BoardSigningKey::generate(ORIGIN, &mut rng).unwrap();
    assert_ne!(a.verifier_key(), b.verifier_key());
    let again = BoardSigningKey::from_secret_bytes(ORIGIN, &a.to_secret_bytes()).unwrap();
    assert_eq!(again.verifier_key(), a.verifier_key());

    let vk = a.verifier_key();
    assert_eq!(VerifierKey::parse(&vk.to_string()).unwrap(), vk);
    assert_eq!(vk.to_string().parse::<VerifierKey>().unwrap(), vk);
    assert_eq!(vk.signature_type(), SignatureType::Ed25519);

    let o = ObserverSigningKey::generate("observer.example/x", &mut rng).unwrap();
    let ovk = o.verifier_key();
    assert_eq!(ovk.signature_type(), SignatureType::CosignatureV1);
    assert_eq!(VerifierKey::parse(&ovk.to_string()).unwrap(), ovk);
    // Same name and public key, other type: other key ID (C2SP key-ID rule).
    let as_plain = VerifierKey::new(ovk.name(), SignatureType::Ed25519, &ovk.public_key()).unwrap();
    assert_ne!(as_plain.key_id(), ovk.key_id());
    assert_eq!(
        ovk.key_id(),
        key_id(ovk.name(), SignatureType::CosignatureV1, &ovk.public_key())
    );

    assert!(matches!(
        BoardSigningKey::generate("bad name", &mut rng),
        Err(KeyError::InvalidName(_))
    ));
    // The identity point is a weak key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        VerifierKey::new("x", SignatureType::Ed25519, &identity),
        Err(KeyError::InvalidPublicKey)
    );
}

#[test]
fn tampering_with_any_line_fails() {
    let key = board_key();
    let vk = key.verifier_key();
    let cp = checkpoint(20852163);
    let good = sign_checkpoint(&key, &cp).unwrap().to_text();
    let lines: Vec<&str> = good.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 5);
    let other_root = base64_root(&[1; 32]);
    let replacements: [(usize, String); 5] = [
        (0, "urna.example/2024-other\n".into()),
        (1, "20852164\n".into()),
        (2, other_root),
        (3, "\n\n".into()),
        (4, tamper_signature_line(lines[4])),
    ];
    for (i, new_line) in replacements {
        let mut tampered: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        tampered[i] = new_line;
        let tampered = tampered.concat();
        assert_ne!(tampered, good);
        let verdict =
            SignedNote::parse(tampered.as_bytes()).and_then(|n| verify_checkpoint(&n, &vk, &[]));
        assert!(verdict.is_err(), "line {i} tampered but accepted");
    }

    // And every single-bit change anywhere in the note.
    let bytes = good.as_bytes();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x20] {
            let mut b = bytes.to_vec();
            b[i] ^= bit;
            let verdict = SignedNote::parse(&b).and_then(|n| verify_checkpoint(&n, &vk, &[]));
            assert!(verdict.is_err(), "byte {i} ^ {bit:#x} accepted");
        }
    }
}

/// Changes the first base64 character of a signature line.
fn tamper_signature_line(line: &str) -> String {
    let (head, b64) = line.rsplit_once(' ').unwrap();
    let first = if b64.starts_with('A') { "B" } else { "A" };
    format!("{head} {first}{}", &b64[1..])
}

fn base64_root(h: &Hash) -> String {
    Checkpoint::new(ORIGIN, 1, *h)
        .unwrap()
        .to_text()
        .lines()
        .nth(2)
        .unwrap()
        .to_owned()
        + "\n"
}

#[test]
fn non_canonical_checkpoints_rejected() {
    let good = checkpoint(5).to_text();
    let root_line = good.lines().nth(2).unwrap().to_owned();
    assert!(root_line.ends_with('='));
    // Same 32 bytes, but a non-zero padding bit: not the canonical spelling.
    let mut chars: Vec<char> = root_line.chars().collect();
    let last = chars.len() - 2;
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pos = alphabet.find(chars[last]).unwrap();
    chars[last] = alphabet.chars().nth(pos ^ 1).unwrap();
    let non_canonical_root: String = chars.into_iter().collect();
    let no_pad = root_line.trim_end_matches('=').to_owned();

    let bad: Vec<(String, &str)> = vec![
        (good.trim_end().to_owned(), "no final newline"),
        (format!("{ORIGIN}\n5\n"), "two lines"),
        (format!("{ORIGIN}\n05\n{root_line}\n"), "leading zero"),
        (format!("{ORIGIN}\n+5\n{root_line}\n"), "plus sign"),
        (format!("{ORIGIN}\n 5\n{root_line}\n"), "space"),
        (format!("{ORIGIN}\n5 \n{root_line}\n"), "trailing space"),
        (format!("{ORIGIN}\n\n{root_line}\n"), "empty size"),
        (
            format!("{ORIGIN}\n5\n{non_canonical_root}\n"),
            "non-canonical base64",
        ),
        (format!("{ORIGIN}\n5\n{no_pad}\n"), "unpadded base64"),
        (format!("{ORIGIN}\n5\n{root_line}=\n"), "extra padding"),
        (format!("{ORIGIN}\n5\nAAAA\n"), "short root"),
        (format!("{ORIGIN}\n5\n {root_line}\n"), "space before root"),
        (
            format!("{ORIGIN}\n5\n{root_line}\n\n"),
            "empty extension line",
        ),
        (format!("{ORIGIN}\r\n5\n{root_line}\n"), "CR"),
        (
            format!("{ORIGIN}\n5\n{root_line}\nx\ty\n"),
            "tab in extension",
        ),
        (format!("\n5\n{root_line}\n"), "empty origin"),
        (format!("urna example\n5\n{root_line}\n"), "space in origin"),
        (format!("urna+example\n5\n{root_line}\n"), "plus in origin"),
        (
            format!("{ORIGIN}\n9223372036854775809\n{root_line}\n"),
            "size above 2^63",
        ),
    ];
    for (text, why) in bad {
        assert!(Checkpoint::parse(&text).is_err(), "{why}: {text:?}");
    }
    assert_eq!(Checkpoint::parse(&good).unwrap(), checkpoint(5));
    assert_eq!(
        Checkpoint::parse(&format!("{ORIGIN}\n0\n{root_line}\n"))
            .unwrap()
            .size(),
        0
    );
}

#[test]
fn malformed_notes_rejected() {
    let good = sign_checkpoint(&board_key(), &checkpoint(3))
        .unwrap()
        .to_text();
    let (text, sig) = good.split_once("\n\n").unwrap();
    let (name_part, b64) = sig.trim_end().rsplit_once(' ').unwrap();
    let cases: Vec<(String, NoteError)> = vec![
        (format!("{text}\n{sig}"), NoteError::MissingSeparator),
        (format!("{text}\n\n"), NoteError::NoSignatures),
        (
            format!("{text}\n\n{}", sig.trim_end()),
            NoteError::MalformedSignatureLine(0),
        ),
        (
            format!("{text}\n\n{}", sig.replacen('\u{2014}', "--", 1)),
            NoteError::MalformedSignatureLine(0),
        ),
        (
            format!("{text}\n\n{name_part}  {b64}\n"),
            NoteError::MalformedSignatureLine(0),
        ),
        (
            format!("{text}\n\n{name_part} {b64} \n"),
            NoteError::MalformedSignatureLine(0),
        ),
        (
            format!("{text}\n\n{sig}— {ORIGIN} AAAAAA==\n"),
            NoteError::MalformedSignatureLine(1),
        ),
        (
            format!("{text}\n\n{sig}— {ORIGIN} AAAAAAB=\n"),
            NoteError::MalformedSignatureLine(1),
        ),
        (format!("{text}\r\n\n{sig}"), NoteError::ControlCharacter),
        // A trailing blank line becomes the separator: no signatures after it.
        (format!("{text}\n\n{sig}\n"), NoteError::NoSignatures),
    ];
    for (note, want) in cases {
        assert_eq!(SignedNote::parse(note.as_bytes()), Err(want), "{note:?}");
    }
    let huge = format!("{}\n{sig}", "a\n".repeat(MAX_NOTE_LEN / 2));
    assert_eq!(SignedNote::parse(huge.as_bytes()), Err(NoteError::TooLarge));
    assert!(matches!(
        SignedNote::parse(format!("{text}\n\n— bad+name {b64}\n").as_bytes()),
        Err(NoteError::Key(KeyError::InvalidName(_)))
    ));
}

#[test]
fn note_text_may_contain_blank_lines() {
    // Generic notes (not checkpoints) split at the last blank line.
    let key = board_key();
    let text = "first\n\nsecond\n";
    let note = SignedNote::new(text.into(), vec![key.sign_text(text).unwrap()]).unwrap();
    let parsed = SignedNote::parse(note.to_text().as_bytes()).unwrap();
    assert_eq!(parsed.text(), text);
    assert_eq!(parsed.verify(&[key.verifier_key()]).unwrap().len(), 1);
    // But such a text is not a checkpoint.
    assert!(matches!(
        verify_note(&parsed, &[key.verifier_key()]),
        Err(NoteError::Checkpoint(CheckpointError::EmptyLine(1)))
    ));
}

#[test]
fn cosignatures() {
    let key = board_key();
    let (o1, o2, o3) = (observer(1), observer(2), observer(3));
    let cp = checkpoint(100);
    let mut note = sign_checkpoint(&key, &cp).unwrap();
    note.add_signature(cosign_checkpoint(&o1, &cp, 1_700_000_000).unwrap())
        .unwrap();
    note.add_signature(cosign_checkpoint(&o2, &cp, 1_700_000_005).unwrap())
        .unwrap();
    // Unknown cosigner: kept in the note, ignored by verification.
    note.add_signature(cosign_checkpoint(&o3, &cp, 1).unwrap())
        .unwrap();
    let wire = note.to_text();
    let note = SignedNote::parse(wire.as_bytes()).unwrap();
    assert_eq!(note.signatures().len(), 4);
    assert_eq!(note.signatures()[1].signature().len(), 72);

    let observers = [o1.verifier_key(), o2.verifier_key()];
    let v = verify_checkpoint(&note, &key.verifier_key(), &observers).unwrap();
    assert_eq!(v.checkpoint, cp);
    let cos: Vec<(String, Option<u64>)> = v
        .cosigners()
        .map(|s| (s.name.clone(), s.timestamp))
        .collect();
    assert_eq!(
        cos,
        [
            ("observer.example/1".to_owned(), Some(1_700_000_000)),
            ("observer.example/2".to_owned(), Some(1_700_000_005)),
        ]
    );

    // The signed message is the cosignature/v1 header, time line and body.
    let sig = &note.signatures()[1];
    let ts = u64::from_be_bytes(sig.signature()[..8].try_into().unwrap());
    let msg = cosignature_message(&cp.to_text(), ts);
    assert!(msg.starts_with(b"cosignature/v1\ntime 1700000000\nurna.example/2024-test\n100\n"));

    // A cosignature over another checkpoint does not verify on this one.
    let other = checkpoint(101);
    let mut forged = sign_checkpoint(&key, &cp).unwrap();
    forged
        .add_signature(cosign_checkpoint(&o1, &other, 1_700_000_000).unwrap())
        .unwrap();
    assert!(matches!(
        verify_checkpoint(&forged, &key.verifier_key(), &observers),
        Err(NoteError::InvalidSignature { .. })
    ));

    // Changing only the timestamp breaks it too.
    let mut raw = note.signatures()[1].signature().to_vec();
    raw[7] ^= 1;
    let mut lines: Vec<String> = wire.split_inclusive('\n').map(String::from).collect();
    let tampered_sig = {
        use base64::Engine as _;
        let mut all = note.signatures()[1].key_id().to_vec();
        all.extend_from_slice(&raw);
        base64::engine::general_purpose::STANDARD.encode(all)
    };
    lines[5] = format!("\u{2014} observer.example/1 {tampered_sig}\n");
    let tampered = SignedNote::parse(lines.concat().as_bytes()).unwrap();
    assert!(matches!(
        verify_checkpoint(&tampered, &key.verifier_key(), &observers),
        Err(NoteError::InvalidSignature { .. })
    ));

    // Cosignatures alone do not make a board checkpoint.
    let mut only_cosigned =
        SignedNote::new(cp.to_text(), vec![cosign_checkpoint(&o1, &cp, 5).unwrap()]).unwrap();
    assert!(matches!(
        verify_checkpoint(&only_cosigned, &key.verifier_key(), &observers),
        Err(NoteError::MissingRequiredSignature(_))
    ));
    // ... but verify_note accepts any trusted signer.
    assert!(verify_note(&only_cosigned, &observers).is_ok());
    // A re-cosignature by the same observer replaces the old line.
    only_cosigned
        .add_signature(cosign_checkpoint(&o1, &cp, 6).unwrap())
        .unwrap();
    assert_eq!(only_cosigned.signatures().len(), 1);
    let v = verify_note(&only_cosigned, &observers).unwrap();
    assert_eq!(v.signers[0].timestamp, Some(6));

    // The board's key must be an Ed25519 (0x01) key and must match the origin.
    assert!(matches!(
        verify_checkpoint(&note, &o1.verifier_key(), &[]),
        Err(NoteError::MissingRequiredSignature(_))
    ));
    let other_board =
        BoardSigningKey::from_secret_bytes("urna.example/other", &[0x11; 32]).unwrap();
    assert!(matches!(
        verify_checkpoint(&note, &other_board.verifier_key(), &[]),
        Err(NoteError::MissingRequiredSignature(_))
    ));
    assert!(matches!(
        sign_checkpoint(&other_board, &cp),
        Err(NoteError::Checkpoint(
            CheckpointError::OriginMismatch { .. }
        ))
    ));
}
