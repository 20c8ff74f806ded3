//! Sealed credential lists (spec/record.md §R4).

use super::*;

impl Verifier {
    /// record.md §R4: a chunk seals its credentials only if it passes
    /// every rule; lists come in manifest district order.
    pub(super) fn credential_chunk(&mut self, payload: &[u8]) -> Result<(), String> {
        let Some(m) = self.manifest.as_ref() else {
            return Err("no manifest".into());
        };
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let district = read_id(&mut r)?;
        let pos = read_pos(&mut r)?;
        let n = r.u32().map_err(pe)?;
        let Some(&di) = m.district_index.get(&district) else {
            return Err(format!("unknown district {district}"));
        };
        // A list goes on with its next chunk; a new list starts with
        // chunk 0 of a district after the previous list's district. The
        // state changes only once the whole chunk has passed.
        let continuing = self.cred_district == Some(di);
        if !continuing && self.cred_district.is_some_and(|prev| di <= prev) {
            return Err(format!(
                "inconsistent_chunks: list of {district} out of manifest district order or repeated"
            ));
        }
        let (mut seq, mut last) = if continuing {
            (self.cred_seq.clone(), self.cred_last)
        } else {
            (Seq::default(), None)
        };
        seq.push(pos)?;
        // Decompressing costs an inverse square root per credential (a
        // million in a large election): done in parallel, then checked
        // in list order exactly as one at a time would.
        let whole = (r.remaining() / 32).min(n as usize);
        let raw = r.take(whole * 32).map_err(pe)?;
        let decoded: Vec<Result<Element, PeerError>> = raw
            .par_chunks(32)
            .map(|c| {
                <&[u8; 32]>::try_from(c)
                    .map_err(|_| PeerError::Truncated { needed: 32 })
                    .and_then(Element::decode_non_identity)
            })
            .collect();
        let mut decoded = decoded.into_iter();
        let mut accepted = Vec::with_capacity(whole);
        for _ in 0..n {
            let p = match decoded.next() {
                Some(p) => p.map_err(pe)?,
                // Fewer bytes than the count: the same error as reading on.
                None => r.element_non_identity().map_err(pe)?,
            };
            let b = *p.as_bytes();
            self.checks.checked("credential_lists", 1);
            if last.is_some_and(|l| b <= l) {
                return Err(format!("not_canonical_order at credential {}", p.to_hex()));
            }
            last = Some(b);
            if self.creds.get(&b).is_some() {
                return Err(format!("credential {} is in two districts", p.to_hex()));
            }
            accepted.push(b);
        }
        r.finish().map_err(pe)?;
        // Every rule passed: the chunk's credentials are sealed.
        for b in accepted {
            // Not sealed twice: checked above against every earlier list.
            self.creds.insert(&b, di as u32);
        }
        self.cred_district = Some(di);
        self.cred_seq = seq;
        self.cred_last = last;
        if self.cred_seq.complete() {
            self.lists_done[di] = true;
        }
        Ok(())
    }
}
