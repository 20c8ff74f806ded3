//! Delivering one-time codes: the [`Notifier`] interface and its adapters
//! (spec/registration.md §G6).
//!
//! * [`Outbox`]: appends each message as one JSON line to a file, for
//!   development and the demo (the demo reads its codes from there).
//! * [`Webhook`]: POSTs each message as JSON to an SMS gateway's
//!   ([`Webhook::new`]: `{ channel, to, text }`) or an e-mail gateway's
//!   ([`Webhook::email`]: `{ to, subject, text }`) HTTP endpoint
//!   (`http://host:port/path`), with an optional bearer token. Plain HTTP
//!   only: the gateway is expected on the same host or a private network,
//!   where the operator terminates TLS; a 2xx answer means accepted.
//! * [`Channels`]: an SMS notifier and optionally an e-mail one, each
//!   message to the one of its channel.
//!
//! The code is in the message and nowhere else: adapters never log it.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::RegistryError;

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A text message to a phone.
    Sms,
    /// An e-mail.
    Email,
}

/// The language of a message to a voter (spec/registration.md §G6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Russian.
    Ru,
    /// English.
    En,
}

impl Lang {
    /// `ru` or `en`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// Longest election title in an SMS, in characters: a Cyrillic SMS
/// segment holds 70, and the code and its sentences need the rest.
const SMS_TITLE_CHARS: usize = 32;

/// One message to a voter.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// SMS or e-mail.
    pub channel: Channel,
    /// Phone (`+…`) or e-mail address.
    pub to: String,
    /// The text, with the code in it.
    pub text: String,
    /// An e-mail's subject, in the message's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text holds a live code: keep it out of debug logs.
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Message {
    /// The login-code message of the election titled `title`, in `lang`
    /// (spec/registration.md §G6): the code is the first word, so a phone
    /// can offer to fill it in; an SMS shortens a long title.
    pub fn login_code(
        channel: Channel,
        to: &str,
        title: &str,
        code: &str,
        ttl_seconds: u64,
        lang: Lang,
    ) -> Self {
        let minutes = ttl_seconds.div_ceil(60);
        let title = title_for(channel, title);
        let (text, subject) = match lang {
            Lang::Ru => (
                format!(
                    "{code} — код для входа: «{title}». Действует {minutes} мин. Никому его не сообщайте."
                ),
                format!("Код для входа: {title}"),
            ),
            Lang::En => (
                format!(
                    "{code} is your login code for “{title}”. It expires in {minutes} min. Never tell it to anyone."
                ),
                format!("Login code: {title}"),
            ),
        };
        Message::new(channel, to, text, subject)
    }
}

impl Message {
    /// The receipt message of a cast ballot (spec/registration.md §G6.1):
    /// the election's title and the ballot's receipt code, nothing of its
    /// content, in `lang`.
    pub fn receipt(
        channel: Channel,
        to: &str,
        title: &str,
        receipt_code: &str,
        lang: Lang,
    ) -> Self {
        let title = title_for(channel, title);
        let (text, subject) = match lang {
            Lang::Ru => (
                format!(
                    "Ваш бюллетень принят: «{title}». Код квитанции: {receipt_code}. По нему на сайте голосования можно проверить, что бюллетень в урне."
                ),
                format!("Квитанция: {title}"),
            ),
            Lang::En => (
                format!(
                    "Your ballot was received: “{title}”. Receipt code: {receipt_code}. With it you can check on the voting site that your ballot is in the ballot box."
                ),
                format!("Receipt: {title}"),
            ),
        };
        Message::new(channel, to, text, subject)
    }
}

impl Message {
    /// A message of `channel`; the subject is kept for an e-mail only.
    fn new(channel: Channel, to: &str, text: String, subject: String) -> Self {
        Message {
            channel,
            to: to.to_string(),
            text,
            subject: (channel == Channel::Email).then_some(subject),
        }
    }
}

/// The election's title as a message of `channel` carries it: shortened
/// in an SMS, whole in an e-mail (spec/registration.md §G6).
fn title_for(channel: Channel, title: &str) -> String {
    match channel {
        Channel::Sms => shorten(title, SMS_TITLE_CHARS),
        Channel::Email => title.to_string(),
    }
}

/// `s` cut to at most `max` characters, at a word's end when the cut
/// falls inside a word, ending with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    let cut_inside_word = s.chars().nth(keep).is_some_and(|c| !c.is_whitespace());
    if let Some(space) = out.rfind(char::is_whitespace).filter(|_| cut_inside_word) {
        out.truncate(space);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Sends messages to voters.
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Sends one message; `Err` if it was not accepted for delivery.
    fn send(&self, message: &Message) -> Result<(), RegistryError>;

    /// Whether messages of `channel` can be sent (by default, any).
    fn supports(&self, channel: Channel) -> bool {
        let _ = channel;
        true
    }
}

/// An SMS notifier and, when configured, an e-mail one.
#[derive(Debug)]
pub struct Channels {
    /// Where SMS go.
    pub sms: std::sync::Arc<dyn Notifier>,
    /// Where e-mails go; `None`: codes by SMS only.
    pub email: Option<std::sync::Arc<dyn Notifier>>,
}

impl Notifier for Channels {
    fn send(&self, message: &Message) -> Result<(), RegistryError> {
        match (message.channel, &self.email) {
            (Channel::Sms, _) => self.sms.send(message),
            (Channel::Email, Some(e)) => e.send(message),
            (Channel::Email, None) => Err(RegistryError::refused(
                "channel_unavailable",
                "codes are not sent by e-mail here",
            )),
        }
    }

    fn supports(&self, channel: Channel) -> bool {
        match channel {
            Channel::Sms => self.sms.supports(Channel::Sms),
            Channel::Email => self
                .email
                .as_ref()
                .is_some_and(|e| e.supports(Channel::Email)),
        }
    }
}

/// What a gateway's JSON body looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// `{ "channel": "sms", "to": phone, "text": … }` (the [`Message`]).
    Sms,
    /// `{ "to": address, "subject": …, "text": … }`; the subject is the
    /// configured one, else the message's own.
    Email { subject: Option<String> },
}

fn undeliverable(e: impl fmt::Display) -> RegistryError {
    RegistryError::storage("sending a message", e)
}

/// Appends messages as JSON lines to a file (development, demo).
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Outbox {
    /// An outbox appending to `path` (created if missing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Outbox {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// Every message in the outbox, oldest first (for the demo and tests).
    pub fn read_all(&self) -> Result<Vec<serde_json::Value>, RegistryError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(undeliverable(e)),
        };
        text.lines()
            .map(|l| serde_json::from_str(l).map_err(undeliverable))
            .collect()
    }
}

impl Notifier for Outbox {
    fn send(&self, message: &Message) -> Result<(), RegistryError> {
        let _g = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut line = serde_json::to_vec(message).map_err(undeliverable)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(undeliverable)?;
        // One write of the whole line: concurrent appenders never interleave.
        f.write_all(&line).map_err(undeliverable)?;
        f.sync_data().map_err(undeliverable)
    }
}

/// POSTs messages as JSON to a gateway (`http://host[:port]/path`).
pub struct Webhook {
    host: String,
    port: u16,
    path: String,
    token: Option<String>,
    timeout: Duration,
    shape: Shape,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook at `url` (`http://` only), sending `Authorization: Bearer
    /// token` when given.
    pub fn new(url: &str, token: Option<String>) -> Result<Self, RegistryError> {
        let bad = || {
            RegistryError::refused(
                "invalid_webhook_url",
                format!("`{url}` is not an http://host[:port]/path URL"),
            )
        };
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (authority, 80),
        };
        if host.is_empty() || path.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Webhook {
            host: host.to_string(),
            port,
            path: path.to_string(),
            token,
            timeout: Duration::from_secs(10),
            shape: Shape::Sms,
        })
    }

    /// An e-mail gateway at `url`: messages go as `{ to, subject, text }`,
    /// with `subject` when given, else each message's subject in its
    /// voter's language.
    pub fn email(
        url: &str,
        token: Option<String>,
        subject: Option<&str>,
    ) -> Result<Self, RegistryError> {
        let mut w = Webhook::new(url, token)?;
        w.shape = Shape::Email {
            subject: subject.map(str::to_string),
        };
        Ok(w)
    }
}

impl Notifier for Webhook {
    fn supports(&self, channel: Channel) -> bool {
        matches!(
            (&self.shape, channel),
            (Shape::Sms, Channel::Sms) | (Shape::Email { .. }, Channel::Email)
        )
    }

    fn send(&self, message: &Message) -> Result<(), RegistryError> {
        if !self.supports(message.channel) {
            return Err(undeliverable("a message of another channel"));
        }
        let body = match &self.shape {
            Shape::Sms => serde_json::to_vec(message),
            Shape::Email { subject } => serde_json::to_vec(&serde_json::json!({
                "to": message.to,
                "subject": subject.as_ref().or(message.subject.as_ref()),
                "text": message.text,
            })),
        }
        .map_err(undeliverable)?;
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(undeliverable)?
            .next()
            .ok_or_else(|| undeliverable("the gateway's host name has no address"))?;
        let mut s = TcpStream::connect_timeout(&addr, self.timeout).map_err(undeliverable)?;
        s.set_read_timeout(Some(self.timeout))
            .map_err(undeliverable)?;
        s.set_write_timeout(Some(self.timeout))
            .map_err(undeliverable)?;
        let auth = self
            .token
            .as_deref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
            self.path,
            self.host,
            body.len()
        );
        s.write_all(head.as_bytes()).map_err(undeliverable)?;
        s.write_all(&body).map_err(undeliverable)?;
        let mut answer = Vec::new();
        s.take(64 * 1024)
            .read_to_end(&mut answer)
            .map_err(undeliverable)?;
        let status_line = answer.split(|&b| b == b'\n').next().unwrap_or_default();
        let status = std::str::from_utf8(status_line)
            .ok()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse::<u16>().ok());
        match status {
            Some(200..=299) => Ok(()),
            Some(code) => Err(undeliverable(format!("the gateway answered HTTP {code}"))),
            None => Err(undeliverable("the gateway's answer is not HTTP")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn outbox_appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::new(dir.path().join("outbox.jsonl"));
        assert!(o.read_all().unwrap().is_empty());
        let m = Message::login_code(
            Channel::Sms,
            "+79161234567",
            "Vote 2020",
            "987650",
            300,
            Lang::En,
        );
        o.send(&m).unwrap();
        o.send(&Message {
            channel: Channel::Email,
            to: "a@b.org".into(),
            text: "x".into(),
            subject: None,
        })
        .unwrap();
        let all = o.read_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["channel"], "sms");
        assert!(
            all[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("987650 is your login code")
        );
        assert!(!format!("{m:?}").contains("987650"));
    }

    fn gateway(status: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/sms", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            // Read until the body (after the blank line) is complete.
            loop {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    if got.len() >= i + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        (url, h)
    }

    #[test]
    fn webhook_posts_json_and_checks_status() {
        let (url, h) = gateway("202 Accepted");
        let w = Webhook::new(&url, Some("s3cret".into())).unwrap();
        let m = Message::login_code(
            Channel::Sms,
            "+79161234567",
            "Vote 2020",
            "654321",
            300,
            Lang::En,
        );
        w.send(&m).unwrap();
        let req = h.join().unwrap();
        assert!(req.starts_with("POST /sms HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Authorization: Bearer s3cret\r\n"));
        let body = &req[req.find("\r\n\r\n").unwrap() + 4..];
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["to"], "+79161234567");

        let (url, h) = gateway("500 Internal Server Error");
        let e = Webhook::new(&url, None).unwrap().send(&m).unwrap_err();
        assert!(e.to_string().contains("HTTP 500"), "{e}");
        h.join().unwrap();

        // The e-mail gateway gets its own shape; an SMS is not for it.
        let (url, h) = gateway("200 OK");
        let w = Webhook::email(&url, None, Some("Login code")).unwrap();
        let mail = Message::login_code(
            Channel::Email,
            "v1@example.org",
            "Vote 2020",
            "112233",
            300,
            Lang::En,
        );
        assert!(w.supports(Channel::Email) && !w.supports(Channel::Sms));
        assert!(w.send(&m).is_err());
        w.send(&mail).unwrap();
        let req = h.join().unwrap();
        let body = &req[req.find("\r\n\r\n").unwrap() + 4..];
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["to"], "v1@example.org");
        assert_eq!(v["subject"], "Login code");
        assert!(v["text"].as_str().unwrap().starts_with("112233"));
        assert!(v.get("channel").is_none());

        for bad in ["https://x/y", "http://:80/", "http://h:99999/", "ftp://h"] {
            assert_eq!(
                Webhook::new(bad, None).unwrap_err().code(),
                "invalid_webhook_url",
                "{bad}"
            );
        }
    }

    #[test]
    fn login_code_texts_in_the_voters_language() {
        let title = "Общероссийское голосование по вопросу одобрения изменений в Конституцию";
        let sms = Message::login_code(Channel::Sms, "+79161234567", title, "123456", 300, Lang::Ru);
        assert_eq!(
            sms.text,
            "123456 — код для входа: «Общероссийское голосование по…». Действует 5 мин. Никому его не сообщайте."
        );
        assert_eq!(sms.subject, None);
        // The code is the first word, as a phone's autofill expects.
        assert_eq!(sms.text.split(' ').next(), Some("123456"));
        let mail = Message::login_code(Channel::Email, "a@b.org", title, "123456", 600, Lang::Ru);
        assert!(mail.text.contains(title), "an e-mail keeps the whole title");
        assert!(mail.text.contains("Действует 10 мин."));
        assert_eq!(
            mail.subject.as_deref(),
            Some(&*format!("Код для входа: {title}"))
        );
        let en = Message::login_code(Channel::Sms, "+1", "Budget", "000001", 61, Lang::En);
        assert_eq!(
            en.text,
            "000001 is your login code for “Budget”. It expires in 2 min. Never tell it to anyone."
        );
        assert_eq!(Lang::parse("ru"), Some(Lang::Ru));
        assert_eq!(Lang::parse("RU"), None);
    }

    #[test]
    fn email_subject_is_the_messages_unless_configured() {
        let (url, h) = gateway("200 OK");
        let w = Webhook::email(&url, None, None).unwrap();
        let mail =
            Message::login_code(Channel::Email, "v@x.org", "Выборы", "445566", 300, Lang::Ru);
        w.send(&mail).unwrap();
        let req = h.join().unwrap();
        let body = &req[req.find("\r\n\r\n").unwrap() + 4..];
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["subject"], "Код для входа: Выборы");
    }
}
