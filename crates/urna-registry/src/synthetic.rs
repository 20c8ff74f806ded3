//! Synthetic registry files (the format of spec/registration.md §G2) for
//! tests, demos and `urna bench registry`: realistic shapes (Russian
//! names, ten-digit passport numbers, mobile phones, precincts of the
//! region), deterministic from a seed. Never a real person: the
//! generator only combines fixed lists.

use std::io::{self, Write};

use crate::import::HEADER;

const SURNAMES: [&str; 12] = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
];
const NAMES: [&str; 10] = [
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Артём",
    "Илья",
    "Кирилл",
    "Михаил",
];
const PATRONYMICS: [&str; 8] = [
    "Александрович",
    "Дмитриевич",
    "Сергеевич",
    "Андреевич",
    "Алексеевич",
    "Иванович",
    "Петрович",
    "Николаевич",
];

/// SplitMix64: a tiny deterministic generator (not for secrets).
#[derive(Debug, Clone)]
pub struct Mix(u64);

impl Mix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Mix(seed)
    }
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The fields of voter number `i` (0-based) of a synthetic region file:
/// `(voter_id, full_name, birth_date, document_number, phone, email, precinct, account_created)`.
pub fn voter(prefix: &str, i: u64, precincts: &[String], seed: u64) -> [String; 8] {
    let mut m = Mix::new(seed ^ i.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let name = format!(
        "{} {} {}",
        SURNAMES[m.below(12) as usize],
        NAMES[m.below(10) as usize],
        PATRONYMICS[m.below(8) as usize]
    );
    let birth = format!(
        "{:04}-{:02}-{:02}",
        1930 + m.below(72),
        1 + m.below(12),
        1 + m.below(28)
    );
    // Unique per (prefix, i): the index is part of the number.
    let doc = format!("{:02} {:02} {:09}", prefix.len() % 100, m.below(100), i);
    let phone = format!("+79{:09}", i % 1_000_000_000);
    let email = if m.below(3) == 0 {
        format!("v{i}@example.org")
    } else {
        String::new()
    };
    let precinct = precincts
        .get(m.below(precincts.len() as u64) as usize)
        .cloned()
        .unwrap_or_default();
    let created = format!(
        "20{:02}-{:02}-{:02}",
        10 + m.below(10),
        1 + m.below(12),
        1 + m.below(28)
    );
    [
        format!("{prefix}{i:08}"),
        name,
        birth,
        doc,
        phone,
        email,
        precinct,
        created,
    ]
}

/// Writes a registry CSV of `rows` synthetic voters of the given precincts.
pub fn write_registry_csv(
    out: &mut impl Write,
    prefix: &str,
    rows: u64,
    precincts: &[String],
    seed: u64,
) -> io::Result<()> {
    writeln!(out, "{}", HEADER.join(","))?;
    for i in 0..rows {
        let v = voter(prefix, i, precincts, seed);
        writeln!(out, "{}", v.join(","))?;
    }
    Ok(())
}
