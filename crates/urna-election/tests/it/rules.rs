//! Voting window, re-vote policies by board order, replays and the counted
//! set (spec/record.md §R6.3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use urna_election::manifest::{RevotePolicy, Schedule};
use urna_election::rules::{BallotBox, check_voting_window, counted};
use urna_election::{Refusal, Timestamp};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_unix(s)
}

fn schedule() -> Schedule {
    Schedule {
        time_zone: "Europe/Moscow".into(),
        applications_open: ts(0),
        applications_close: ts(100),
        voting_opens: ts(1000),
        voting_closes: ts(2000),
    }
}

#[test]
fn window_edges() {
    let s = schedule();
    assert!(check_voting_window(&s, ts(999)).is_err());
    assert!(
        check_voting_window(&s, ts(1000)).is_ok(),
        "opening instant is inside"
    );
    assert!(check_voting_window(&s, ts(1999)).is_ok());
    let e = check_voting_window(&s, ts(2000)).unwrap_err();
    assert_eq!(
        e.code(),
        "outside_voting_window",
        "closing instant is outside"
    );
    assert!(e.to_string().contains("1970-01-01T00:33:20Z"), "{e}");
    assert!(urna_election::rules::check_application_window(&s, ts(99)).is_ok());
    assert!(urna_election::rules::check_application_window(&s, ts(100)).is_err());
}

#[test]
fn forbidden_refuses_a_second_ballot() {
    let mut b = BallotBox::new(RevotePolicy::Forbidden);
    b.record(&[1; 32], &[10; 32], ts(0)).unwrap();
    let e = b.record(&[1; 32], &[11; 32], ts(1_000_000)).unwrap_err();
    assert_eq!(e, Refusal::RevoteForbidden);
    assert_eq!(e.code(), "revote_forbidden");
    // Another credential is fine; the refused ballot left no trace.
    b.record(&[2; 32], &[11; 32], ts(1)).unwrap();
    assert_eq!(b.latest(&[1; 32]), Some(&[10; 32]));
    assert_eq!(b.voters(), 2);
}

#[test]
fn last_counts_with_min_interval() {
    let mut b = BallotBox::new(RevotePolicy::LastCounts {
        min_interval_seconds: 60,
    });
    b.record(&[1; 32], &[10; 32], ts(100)).unwrap();
    let e = b.record(&[1; 32], &[11; 32], ts(159)).unwrap_err();
    assert_eq!(
        e,
        Refusal::RevoteTooSoon {
            min_interval: 60,
            wait: 1
        }
    );
    assert_eq!(e.code(), "revote_too_soon");
    let r = b.record(&[1; 32], &[11; 32], ts(160)).unwrap();
    assert_eq!(r.superseded, Some([10; 32]));
    // The interval runs from the last accepted ballot, not the first.
    assert!(b.record(&[1; 32], &[12; 32], ts(219)).is_err());
    assert!(b.record(&[1; 32], &[12; 32], ts(220)).is_ok());
    assert_eq!(b.latest(&[1; 32]), Some(&[12; 32]));
    // Zero interval: immediate re-votes are fine.
    let mut z = BallotBox::new(RevotePolicy::LastCounts {
        min_interval_seconds: 0,
    });
    z.record(&[1; 32], &[1; 32], ts(5)).unwrap();
    z.record(&[1; 32], &[2; 32], ts(5)).unwrap();
}

#[test]
fn replays_and_audits() {
    let mut b = BallotBox::new(RevotePolicy::LastCounts {
        min_interval_seconds: 0,
    });
    b.record(&[1; 32], &[10; 32], ts(0)).unwrap();
    // Same tracking code, even "from" another credential, is a replay.
    assert_eq!(
        b.record(&[2; 32], &[10; 32], ts(9)).unwrap_err(),
        Refusal::ReplayedBallot
    );
    b.record_audit(&[20; 32]).unwrap();
    assert_eq!(
        b.record_audit(&[20; 32]).unwrap_err(),
        Refusal::ReplayedBallot
    );
    assert_eq!(
        b.record(&[3; 32], &[20; 32], ts(9)).unwrap_err(),
        Refusal::AuditedBallot
    );
    assert_eq!(
        b.record_audit(&[10; 32]).unwrap_err(),
        Refusal::ReplayedBallot
    );
}

#[test]
fn counted_from_the_board() {
    let c = |b: u8| [b; 32];
    let board = [c(1), c(2), c(1), c(3), c(2), c(1)];
    let none = HashSet::new();
    assert_eq!(
        counted(
            RevotePolicy::LastCounts {
                min_interval_seconds: 0
            },
            &board,
            &none
        )
        .unwrap(),
        [3, 4, 5]
    );
    assert_eq!(
        counted(RevotePolicy::Forbidden, &board, &none).unwrap_err(),
        Refusal::RevoteForbidden
    );
    assert_eq!(
        counted(RevotePolicy::Forbidden, &[c(1), c(2)], &none).unwrap(),
        [0, 1]
    );
    let annulled: HashSet<[u8; 32]> = [c(2)].into_iter().collect();
    assert_eq!(
        counted(
            RevotePolicy::LastCounts {
                min_interval_seconds: 0
            },
            &board,
            &annulled
        )
        .unwrap(),
        [3, 5]
    );
}

proptest! {
    /// Under last-counts the counted set is exactly the last ballot of each
    /// credential, minus annulled ones; and the BallotBox, fed the same
    /// board order, ends with the same latest ballot per credential.
    #[test]
    fn last_counts_is_last_per_credential(
        board in proptest::collection::vec(0u8..8, 0..60),
        annul in proptest::collection::hash_set(0u8..8, 0..3),
    ) {
        let creds: Vec<[u8; 32]> = board.iter().map(|&b| [b; 32]).collect();
        let annulled: HashSet<[u8; 32]> = annul.iter().map(|&b| [b; 32]).collect();
        let policy = RevotePolicy::LastCounts { min_interval_seconds: 0 };
        let got = counted(policy, &creds, &annulled).unwrap();
        let mut last: HashMap<u8, usize> = HashMap::new();
        for (i, &b) in board.iter().enumerate() {
            last.insert(b, i);
        }
        let mut want: Vec<usize> = last
            .iter()
            .filter(|(b, _)| !annul.contains(b))
            .map(|(_, &i)| i)
            .collect();
        want.sort_unstable();
        prop_assert_eq!(&got, &want);

        let mut bx = BallotBox::new(policy);
        for (i, c) in creds.iter().enumerate() {
            let mut tracking = [0u8; 32];
            tracking[..8].copy_from_slice(&(i as u64).to_be_bytes());
            bx.record(c, &tracking, ts(i as i64)).unwrap();
        }
        for (&b, &i) in &last {
            let t = bx.latest(&[b; 32]).unwrap();
            prop_assert_eq!(u64::from_be_bytes(t[..8].try_into().unwrap()), i as u64);
        }
    }

    /// Under forbidden the board is valid iff no credential repeats.
    #[test]
    fn forbidden_is_valid_iff_distinct(board in proptest::collection::vec(0u8..12, 0..20)) {
        let creds: Vec<[u8; 32]> = board.iter().map(|&b| [b; 32]).collect();
        let distinct = board.iter().collect::<HashSet<_>>().len() == board.len();
        let got = counted(RevotePolicy::Forbidden, &creds, &HashSet::new());
        prop_assert_eq!(got.is_ok(), distinct);
        if let Ok(v) = got {
            prop_assert_eq!(v, (0..board.len()).collect::<Vec<_>>());
        }
    }
}

/// Replaying ballots read back from the board (a server restart): what
/// the board shows is checked, the clock is not, and the replayed time
/// governs the re-vote interval afterwards.
#[test]
fn replayed_ballots() {
    let (c, d) = ([1u8; 32], [2u8; 32]);
    let mut f = BallotBox::new(RevotePolicy::Forbidden);
    f.record_replayed(&c, &[10; 32], ts(1500)).unwrap();
    assert_eq!(
        f.record_replayed(&c, &[11; 32], ts(1900)),
        Err(Refusal::RevoteForbidden)
    );
    assert_eq!(
        f.record_replayed(&d, &[10; 32], ts(1900)),
        Err(Refusal::ReplayedBallot)
    );
    f.record_audit(&[12; 32]).unwrap();
    assert_eq!(
        f.record_replayed(&d, &[12; 32], ts(1900)),
        Err(Refusal::AuditedBallot)
    );
    let mut l = BallotBox::new(RevotePolicy::LastCounts {
        min_interval_seconds: 60,
    });
    // Estimated times may be closer than the interval: board order decides.
    l.record_replayed(&c, &[20; 32], ts(1500)).unwrap();
    let r = l.record_replayed(&c, &[21; 32], ts(1530)).unwrap();
    assert_eq!(r.superseded, Some([20; 32]));
    // A live ballot after the replay obeys the interval from the replayed time.
    assert!(matches!(
        l.check(&c, &[22; 32], ts(1580)),
        Err(Refusal::RevoteTooSoon { .. })
    ));
    l.check(&c, &[22; 32], ts(1590)).unwrap();
}
