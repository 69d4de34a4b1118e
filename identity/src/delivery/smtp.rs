//! [`Smtp`]: delivers email messages through an SMTP server with lettre (async, rustls).
//!
//! Configured by one URL:
//! - `smtp://host[:port]` — plain SMTP (port 25), `?tls=required` for STARTTLS (port 587),
//!   `?tls=opportunistic` for STARTTLS when the server offers it;
//! - `smtps://host[:port]` — implicit TLS (port 465);
//! - `user:password@` in the authority — credentials (percent-encoded), kept out of logs and
//!   of `Debug`;
//! - `?from=no-reply@example.com` — the sender (default `no-reply@{host}`).
//!
//! SMS messages cannot go by email: [`DeliveryError::UnsupportedChannel`].
//!
//! [`Delivery::send`] checks and builds the email, then hands it to a background task and
//! returns: an operation never waits for the mail server (that wait would tell a real user
//! from an unknown one by timing, and a slow server would hold requests). At most
//! [`MAX_QUEUED`] emails wait at once, [`MAX_CONVERSATIONS`] of them talking to the server;
//! failures are logged. [`Smtp::send_now`] waits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};

use super::{Channel, Delivery, DeliveryError, Message};

/// How long one SMTP conversation may take before the delivery fails.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Most emails handed over and not yet sent; beyond, `send` refuses (the server is down or
/// far too slow, and memory must stay bounded).
pub const MAX_QUEUED: usize = 10_000;
/// Most SMTP conversations at once. Each is a connection to the mail server (and a file
/// descriptor here) held for up to [`SMTP_TIMEOUT`]: without a bound, a slow server and a
/// burst of sign-ups would open one per waiting email, up to [`MAX_QUEUED`]. The others wait
/// their turn in memory.
pub const MAX_CONVERSATIONS: usize = 16;

/// Sends email through an SMTP server.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `scheme://host:port` without credentials, for logs and `Debug`.
    display: String,
    /// Emails handed to background tasks and not yet sent.
    queued: Arc<AtomicUsize>,
    /// Turns to talk to the server: [`MAX_CONVERSATIONS`] of them.
    conversations: Arc<tokio::sync::Semaphore>,
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("server", &self.display)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Decodes `%XX` escapes and `+` in a query value.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

/// The scheme, host and port of the URL, without credentials or query.
fn display_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(format!("{scheme}://{host}"))
}

impl Smtp {
    /// A delivery for the server at `url` (see the module docs). Nothing is sent yet.
    pub fn from_url(url: &str) -> Result<Self, DeliveryError> {
        let display = display_url(url)
            .filter(|d| d.starts_with("smtp://") || d.starts_with("smtps://"))
            .ok_or_else(|| {
                DeliveryError::Config("the SMTP URL must start with smtp:// or smtps://".into())
            })?;
        let authority = display.split_once("://").map_or("", |(_, h)| h);
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
        .trim_matches(['[', ']'])
        .to_owned();
        let mut from = None;
        if let Some((_, query)) = url.split_once('?') {
            for pair in query.split('&') {
                if let Some(("from", value)) = pair.split_once('=') {
                    from = Some(percent_decode(value).ok_or_else(|| {
                        DeliveryError::Config("`from` in the SMTP URL is not valid UTF-8".into())
                    })?);
                }
            }
        }
        let from = from.unwrap_or_else(|| format!("no-reply@{host}"));
        let from: Mailbox = from.parse().map_err(|e| {
            DeliveryError::Config(format!("sender `{from}` is not an email address: {e}"))
        })?;
        // lettre reads the scheme, host, port, `tls` and credentials itself; its errors name
        // the part that is wrong, never the password.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| DeliveryError::Config(format!("invalid SMTP URL: {e}")))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self {
            transport,
            from,
            display,
            queued: Arc::new(AtomicUsize::new(0)),
            conversations: Arc::new(tokio::sync::Semaphore::new(MAX_CONVERSATIONS)),
        })
    }

    /// Sends one message and waits for the server's answer.
    pub async fn send_now(&self, message: Message) -> Result<(), DeliveryError> {
        let email = self.build(message)?;
        self.transmit(email).await
    }

    /// The email for `message`; SMS and bad recipients are refused here, before any I/O.
    fn build(&self, message: Message) -> Result<lettre::Message, DeliveryError> {
        if message.channel == Channel::Sms {
            return Err(DeliveryError::UnsupportedChannel("SMS"));
        }
        let to: Mailbox = message.destination.parse().map_err(|e| {
            DeliveryError::Rejected(format!(
                "recipient `{}` is not an email address: {e}",
                message.destination
            ))
        })?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(message.body)
            .map_err(|e| DeliveryError::Rejected(format!("cannot build the email: {e}")))?;
        Ok(email)
    }

    async fn transmit(&self, email: lettre::Message) -> Result<(), DeliveryError> {
        self.transport.send(email).await.map_err(|e| {
            tracing::warn!(server = %self.display, error = %e, "SMTP delivery failed");
            DeliveryError::Rejected(format!("SMTP server {}: {e}", self.display))
        })?;
        Ok(())
    }
}

impl Delivery for Smtp {
    fn send(
        &self,
        message: Message,
        _now: SystemTime,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + '_>> {
        Box::pin(async move {
            let email = self.build(message)?;
            if self.queued.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(DeliveryError::Rejected(format!(
                    "SMTP server {}: {MAX_QUEUED} emails are already waiting",
                    self.display
                )));
            }
            let smtp = self.clone();
            tokio::spawn(async move {
                // The semaphore is never closed, so a turn always comes.
                let turn = smtp.conversations.acquire().await;
                // `transmit` logs a failure; nobody waits for the outcome.
                let _ = smtp.transmit(email).await;
                drop(turn);
                smtp.queued.fetch_sub(1, Ordering::SeqCst);
            });
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Purpose;
    use base64::Engine as _;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpListener;

    /// A tiny SMTP server on 127.0.0.1 that accepts one message and returns the transcript of
    /// what the client sent.
    async fn one_message_server() -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let mut seen = Vec::new();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            let mut in_data = false;
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push(line.clone());
                let reply: &[u8] = if in_data {
                    if line == "." {
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        continue;
                    }
                } else {
                    let verb = line
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_uppercase();
                    match verb.as_str() {
                        "EHLO" => b"250-test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                        "AUTH" => b"235 authenticated\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    }
                };
                write.write_all(reply).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    fn message(channel: Channel) -> Message {
        Message {
            pool_id: "us-east-1_Abc123xyZ".into(),
            username: "jane".into(),
            channel,
            destination: "jane@example.com".into(),
            purpose: Purpose::SignUp,
            subject: "Your verification code".into(),
            body: "Your verification code is 482913. ".into(),
            code: Some("482913".into()),
            temporary_password: None,
        }
    }

    #[tokio::test]
    async fn sends_the_code_to_the_recipient_with_url_credentials() {
        let (port, server) = one_message_server().await;
        let url = format!("smtp://mailer:s%40cret@127.0.0.1:{port}?from=codes%40example.org");
        let smtp = Smtp::from_url(&url).unwrap();
        let shown = format!("{smtp:?}");
        assert!(
            !shown.contains("cret") && !shown.contains("mailer"),
            "{shown}"
        );
        assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

        smtp.send(message(Channel::Email), SystemTime::UNIX_EPOCH)
            .await
            .unwrap();
        let transcript = server.await.unwrap();
        let has = |prefix: &str| transcript.iter().any(|l| l.starts_with(prefix));
        assert!(has("MAIL FROM:<codes@example.org>"), "{transcript:?}");
        assert!(has("RCPT TO:<jane@example.com>"), "{transcript:?}");
        assert!(has("To: jane@example.com"), "{transcript:?}");
        assert!(has("Subject: Your verification code"), "{transcript:?}");
        assert!(
            transcript.iter().any(|l| l.contains("482913")),
            "the code is in the body: {transcript:?}"
        );
        let auth = transcript
            .iter()
            .find(|l| l.starts_with("AUTH PLAIN"))
            .expect("the client authenticated");
        let token = auth.trim_start_matches("AUTH PLAIN ").trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap();
        assert_eq!(decoded, b"\0mailer\0s@cret", "percent-decoded credentials");
    }

    #[tokio::test]
    async fn send_hands_the_email_over_without_waiting_for_the_server() {
        // A server that accepts the connection but greets only when told to: `send` must
        // return while the conversation has not even started.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            wait.await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            let mut seen = Vec::new();
            let mut in_data = false;
            while let Some(line) = lines.next_line().await.unwrap() {
                seen.push(line.clone());
                let reply: &[u8] = match (in_data, line.as_str()) {
                    (true, ".") => {
                        in_data = false;
                        b"250 queued\r\n"
                    }
                    (true, _) => continue,
                    (false, l) if l.starts_with("DATA") => {
                        in_data = true;
                        b"354 go ahead\r\n"
                    }
                    (false, l) if l.starts_with("QUIT") => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
            seen
        });
        let smtp = Smtp::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
        smtp.send(message(Channel::Email), SystemTime::UNIX_EPOCH)
            .await
            .unwrap();
        // Only now does the server speak; the email still arrives.
        go.send(()).unwrap();
        let transcript = server.await.unwrap();
        assert!(
            transcript.iter().any(|l| l.contains("482913")),
            "{transcript:?}"
        );
    }

    /// An SMTP server on 127.0.0.1 that greets nobody until `go` fires, then serves every
    /// connection; returns the port and a task with (messages received, most connections
    /// open at once).
    async fn held_server(
        go: tokio::sync::watch::Receiver<bool>,
        expected: usize,
    ) -> (u16, tokio::task::JoinHandle<(usize, usize)>) {
        use std::sync::atomic::AtomicUsize;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let open = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let mut conversations = tokio::task::JoinSet::new();
            for _ in 0..expected {
                let (socket, _) = listener.accept().await.unwrap();
                let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now_open, Ordering::SeqCst);
                let (open, mut go) = (open.clone(), go.clone());
                conversations.spawn(async move {
                    go.wait_for(|go| *go).await.unwrap();
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                    let mut in_data = false;
                    let mut delivered = 0;
                    while let Some(line) = lines.next_line().await.unwrap() {
                        let reply: &[u8] = match (in_data, line.as_str()) {
                            (true, ".") => {
                                in_data = false;
                                delivered += 1;
                                b"250 queued\r\n"
                            }
                            (true, _) => continue,
                            (false, l) if l.starts_with("DATA") => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            (false, l) if l.starts_with("QUIT") => {
                                // Counted closed before the client hears it is: its next
                                // conversation may open at once.
                                open.fetch_sub(1, Ordering::SeqCst);
                                write.write_all(b"221 bye\r\n").await.unwrap();
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        write.write_all(reply).await.unwrap();
                    }
                    delivered
                });
            }
            let mut delivered = 0;
            while let Some(n) = conversations.join_next().await {
                delivered += n.unwrap();
            }
            (delivered, peak.load(Ordering::SeqCst))
        });
        (port, task)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_a_few_conversations_run_at_once_however_many_emails_wait() {
        let emails = MAX_CONVERSATIONS + 5;
        let (go, held) = tokio::sync::watch::channel(false);
        let (port, server) = held_server(held, emails).await;
        let smtp = Smtp::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap();
        for _ in 0..emails {
            smtp.send(message(Channel::Email), SystemTime::UNIX_EPOCH)
                .await
                .unwrap();
        }
        // The server holds the first conversations; the others wait their turn here, not
        // in connections of their own. Then all are delivered.
        go.send(true).unwrap();
        let (delivered, peak) = server.await.unwrap();
        assert_eq!(delivered, emails);
        assert!(peak <= MAX_CONVERSATIONS, "{peak} connections at once");
    }

    #[tokio::test]
    async fn sms_is_refused_without_connecting() {
        let smtp = Smtp::from_url("smtp://127.0.0.1:1").unwrap();
        assert_eq!(
            smtp.send(message(Channel::Sms), SystemTime::UNIX_EPOCH)
                .await,
            Err(DeliveryError::UnsupportedChannel("SMS"))
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_rejection_not_a_panic() {
        // Bind and drop a listener so the port is (almost certainly) closed.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let smtp = Smtp::from_url(&format!("smtp://u:pw@127.0.0.1:{port}")).unwrap();
        let err = smtp.send_now(message(Channel::Email)).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Rejected(_)), "{err:?}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn url_forms() {
        for good in [
            "smtp://127.0.0.1",
            "smtp://mail.example.com:2525?tls=required",
            "smtp://mail.example.com?tls=opportunistic&from=a%40b.example",
            "smtps://user:pass@mail.example.com",
            "smtps://mail.example.com:4650",
        ] {
            assert!(Smtp::from_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://mail.example.com",
            "mail.example.com",
            "smtp://mail.example.com?tls=sometimes",
            "smtp://mail.example.com?from=not-an-address",
            "smtp://mail.example.com?from=%ZZ",
        ] {
            assert!(
                matches!(Smtp::from_url(bad), Err(DeliveryError::Config(_))),
                "{bad}"
            );
        }
        let err = Smtp::from_url("smtp://user:hunter2@?tls=sometimes").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
