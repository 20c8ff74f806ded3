//! The observer's cosigning key file (spec/board.md §B7.4): made on first
//! use, readable only by its owner.

use std::fs;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use rand::RngExt;
use urna_board::ObserverSigningKey;
use zeroize::Zeroizing;

/// Loads the observer key, or makes one (name on line 1, hex secret on
/// line 2; the verifier key goes next to it as `<file>.pub`).
pub(crate) fn load_or_make_key(path: &Path, name: &str) -> anyhow::Result<ObserverSigningKey> {
    if path.exists() {
        let text = Zeroizing::new(
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let mut lines = text.lines();
        let (Some(n), Some(h)) = (lines.next(), lines.next()) else {
            bail!("{}: expected a key name and a hex secret", path.display());
        };
        let bytes = Zeroizing::new(hex::decode(h.trim()).context("the key secret is not hex")?);
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| anyhow!("the key secret is not 32 bytes"))?,
        );
        return ObserverSigningKey::from_secret_bytes(n.trim(), &secret)
            .map_err(|e| anyhow!("{}: {e}", path.display()));
    }
    // The secret and its text are wiped when dropped.
    let mut secret = Zeroizing::new([0u8; 32]);
    rand::rng().fill(&mut secret[..]);
    let key = ObserverSigningKey::from_secret_bytes(name, &secret)
        .map_err(|e| anyhow!("observer name {name:?}: {e}"))?;
    let text = Zeroizing::new(format!("{name}\n{}\n", hex::encode(*secret)));
    {
        use std::io::Write;
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())?;
    }
    fs::write(
        path.with_extension("pub"),
        format!("{}\n", key.verifier_key()),
    )?;
    Ok(key)
}
