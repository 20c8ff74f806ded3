//! `urna trustee … --server URL`: the trustee's steps with the payloads
//! carried by the election server (spec/api.md §A5, spec/trustee.md §T5)
//! instead of files, through the CLI's small blocking HTTP/1.1 client
//! (`http://` or `https://`): a trustee makes a handful of requests, and
//! the key store code stays the same as in file mode.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use urna_trustee::Zeroizing;

use urna_observe::http::{self, BaseUrl};

/// The environment variable holding the trustee token.
const TOKEN_ENV: &str = "URNA_TRUSTEE_TOKEN";

/// Server options shared by the `urna trustee` steps.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerOpts {
    /// Take the published messages from, and post this trustee's to, the
    /// election server at this URL (http[s]://host:port) instead of files.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// With --server https://: also trust the CA certificates in this PEM
    /// file (a private CA), besides Mozilla's roots.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub ca_cert: Option<PathBuf>,
    /// File holding this trustee's token (first line; otherwise the
    /// URNA_TRUSTEE_TOKEN environment variable), as issued by the admin.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub token_file: Option<PathBuf>,
    /// With --server: wait up to this many seconds for the other
    /// trustees' messages (polling every second) instead of failing at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0, requires = "server")]
    pub wait: u64,
    /// With --server: the board's verifier key (text, or a file holding
    /// it) as the election authority publishes it. `decrypt` checks the
    /// board it recomputes the tally from against this key; without it,
    /// the key the server serves is trusted on first use.
    #[arg(long, value_name = "KEY", requires = "server")]
    pub board_key: Option<String>,
}

/// A server and this trustee's token.
#[derive(Debug)]
pub struct Remote {
    url: String,
    base: BaseUrl,
    board_key: Option<String>,
    token: Zeroizing<String>,
    wait: Duration,
}

/// What `GET /election/ceremony` says.
#[derive(Debug)]
pub struct Ceremony {
    /// Number of trustees.
    pub n: u16,
    /// Every ceremony payload on the board, in board order.
    pub payloads: Vec<Vec<u8>>,
    /// The joint key, once the admin finished the ceremony.
    pub joint_key: Option<String>,
}

impl Ceremony {
    /// How many payloads carry `tag` (spec/record.md §R3).
    pub fn count(&self, tag: u8) -> usize {
        self.payloads
            .iter()
            .filter(|p| p.get(1) == Some(&tag))
            .count()
    }
}

impl Remote {
    /// From the options; `None` without `--server`.
    pub fn from_opts(o: &ServerOpts) -> anyhow::Result<Option<Remote>> {
        let Some(url) = &o.server else {
            return Ok(None);
        };
        let base = BaseUrl::parse(url).map_err(|e| anyhow!("--server: {e:#}"))?;
        if let Some(ca) = &o.ca_cert {
            http::trust_ca_file(ca)?;
        }
        let token = match &o.token_file {
            Some(p) => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading the token file {}", p.display()))?,
                );
                Zeroizing::new(text.lines().next().unwrap_or("").trim().to_string())
            }
            None => Zeroizing::new(std::env::var(TOKEN_ENV).map_err(|_| {
                anyhow!("no trustee token: set {TOKEN_ENV} or pass --token-file FILE")
            })?),
        };
        if token.is_empty() {
            bail!("the trustee token is empty");
        }
        Ok(Some(Remote {
            url: url.clone(),
            base,
            board_key: o.board_key.clone(),
            token,
            wait: Duration::from_secs(o.wait),
        }))
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        auth: bool,
        body: Option<&[u8]>,
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let r = http::send(
            &self.base,
            method,
            path,
            body,
            auth.then_some(self.token.as_str()),
            Duration::from_secs(120),
        )?;
        Ok((r.status, r.body))
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        auth: bool,
        body: Option<Value>,
    ) -> anyhow::Result<Vec<u8>> {
        let b = body.map(|v| v.to_string().into_bytes());
        let (status, body) = self.request(method, path, auth, b.as_deref())?;
        if !(200..300).contains(&status) {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (code, msg) = (
                v["error"]["code"].as_str().unwrap_or("?"),
                v["error"]["message"].as_str().unwrap_or(""),
            );
            bail!("the server refused {method} {path}: {status} {code}: {msg}");
        }
        Ok(body)
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        auth: bool,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let b = self.call(method, path, auth, body)?;
        serde_json::from_slice(&b).with_context(|| format!("{method} {path}: not JSON"))
    }

    /// The published manifest bytes.
    pub fn manifest(&self) -> anyhow::Result<Vec<u8>> {
        self.call("GET", "/election/manifest", false, None)
    }

    /// The ceremony so far.
    pub fn ceremony(&self) -> anyhow::Result<Ceremony> {
        let v = self.json("GET", "/election/ceremony", false, None)?;
        let payloads = v["messages"]
            .as_array()
            .ok_or_else(|| anyhow!("GET /election/ceremony: no messages"))?
            .iter()
            .map(|m| {
                m["payload"]
                    .as_str()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| anyhow!("GET /election/ceremony: bad payload"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Ceremony {
            n: v["n"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| anyhow!("GET /election/ceremony: no n"))?,
            payloads,
            joint_key: v["joint_key"].as_str().map(str::to_string),
        })
    }

    /// Polls the ceremony until `ready` holds or `--wait` runs out.
    pub fn ceremony_when(
        &self,
        what: &str,
        ready: impl Fn(&Ceremony) -> bool,
    ) -> anyhow::Result<Ceremony> {
        let start = Instant::now();
        loop {
            let c = self.ceremony()?;
            if ready(&c) {
                return Ok(c);
            }
            if start.elapsed() >= self.wait {
                bail!(
                    "{what} (round 1: {}, round 2: {}, complaints: {}, of n = {}); try again later or give --wait SECONDS",
                    c.count(1),
                    c.count(2),
                    c.count(3),
                    c.n
                );
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Posts this trustee's ceremony payloads.
    pub fn post_ceremony(&self, index: u16, payloads: &[Vec<u8>]) -> anyhow::Result<()> {
        for p in payloads {
            let v = self.json(
                "POST",
                &format!("/election/trustees/{index}/ceremony"),
                true,
                Some(json!({ "message": hex::encode(p) })),
            )?;
            println!("posted to the board at entry {}", v["entries"][0]);
        }
        Ok(())
    }

    /// The encrypted tally's payloads: the board's, recomputed and checked
    /// here (spec/trustee.md §T1.1). The server's `GET /election/tally`
    /// and its published fingerprint must be exactly the board's, or the
    /// trustee refuses before anything is decrypted.
    pub fn tally(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let board = self.board_tally()?;
        let served = self.served_tally()?;
        if served != board.payloads {
            bail!(
                "refusing to decrypt: the tally the server serves (GET /election/tally) is not \
                 the tally recomputed from its board ({} entries, checked against the signed \
                 checkpoint); nothing was decrypted",
                board.entries
            );
        }
        if self.fingerprint()? != board.fingerprint {
            bail!(
                "refusing to decrypt: the fingerprint the server publishes is not the board's; \
                 nothing was decrypted"
            );
        }
        Ok(board.payloads)
    }

    /// Downloads the board up to its latest signed checkpoint into a
    /// temporary record folder and has the verifier check it and return
    /// its tally (spec/trustee.md §T1.1).
    fn board_tally(&self) -> anyhow::Result<urna_verify::BoardTally> {
        let board = urna_observe::mirror::Remote::connect(&self.url, self.board_key.as_deref())?;
        if !board.pinned {
            eprintln!(
                "urna trustee: trusting the board key served by {} ({}); pin it with --board-key",
                board.base, board.key
            );
        }
        let served = board.check(board.checkpoint_text()?)?;
        let size = served.checkpoint.size();
        let tmp = tempfile::tempdir().context("creating a temporary folder")?;
        let dir = tmp.path().join("record");
        let mut mirror = urna_observe::mirror::Mirror::create(&dir, &board.key)?;
        mirror.keep_checkpoint(size, &served.text, true)?;
        board.entries(0, size, |e| mirror.append(e))?;
        mirror.flush()?;
        drop(mirror);
        urna_verify::decryptable_tally(&dir)
            .map_err(|e| anyhow!("refusing to decrypt: {e}; nothing was decrypted"))
    }

    /// What the server calls the tally (`GET /election/tally`).
    fn served_tally(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let v = self.json("GET", "/election/tally", false, None)?;
        v["payloads"]
            .as_array()
            .ok_or_else(|| anyhow!("GET /election/tally: no payloads"))?
            .iter()
            .map(|p| {
                p.as_str()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| anyhow!("GET /election/tally: bad payload"))
            })
            .collect()
    }

    /// The published election fingerprint.
    pub fn fingerprint(&self) -> anyhow::Result<[u8; 32]> {
        let v = self.json("GET", "/election/status", false, None)?;
        v["fingerprint"]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow!("the server publishes no election fingerprint yet"))
    }

    /// Posts this trustee's partial decryptions.
    pub fn post_partials(&self, index: u16, payloads: &[Vec<u8>]) -> anyhow::Result<()> {
        let v = self.json(
            "POST",
            &format!("/election/trustees/{index}/partials"),
            true,
            Some(json!({ "payloads": payloads.iter().map(hex::encode).collect::<Vec<_>>() })),
        )?;
        println!(
            "posted {} partial decryption payload(s) to the board: entries {}",
            payloads.len(),
            v["entries"]
        );
        Ok(())
    }
}
