//! [`Outbox`]: the development delivery. Each message becomes one file
//! `<unix-millis>-<sequence>-<id>.json` in a folder, written under a temporary name and renamed
//! so a reader never sees half a file. Sorting the names gives the order of sending, also within
//! one millisecond (the sequence counts this process's messages).
//!
//! Like the SMTP delivery, `send` hands the message over and returns: the file is written on
//! the blocking pool while the request goes on, so a real code request takes no longer than a
//! simulated one. Readers poll the folder (or, in-process, call [`Outbox::wait_written`]).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use super::{Channel, Delivery, DeliveryError, Message, Purpose};
use crate::time::{format_rfc3339_millis, unix_millis};

/// Writes messages as JSON files into a folder (created on first use).
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
    /// Orders messages written in the same millisecond (a fixed test clock writes them all
    /// in one).
    sequence: Arc<AtomicU64>,
    /// Messages handed over and not written yet.
    pending: Arc<AtomicU64>,
}

/// The file format (`serve-contract.md`).
#[derive(Serialize)]
struct OutboxFile<'a> {
    id: &'a str,
    pool_id: &'a str,
    username: &'a str,
    channel: Channel,
    destination: &'a str,
    purpose: Purpose,
    subject: &'a str,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporary_password: Option<&'a str>,
    created_at: String,
}

impl Outbox {
    /// An outbox writing into `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            sequence: Arc::new(AtomicU64::new(0)),
            pending: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Blocks until every message handed over so far is written (or `limit` passed); returns
    /// whether they all were.
    pub fn wait_written(&self, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        true
    }

    /// The folder messages land in.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn write(
        dir: &std::path::Path,
        sequence: u64,
        message: &Message,
        now: SystemTime,
    ) -> Result<(), DeliveryError> {
        let io = |e: std::io::Error| DeliveryError::Io(e.to_string());
        let id = crate::ids::uuid_v4();
        let millis = unix_millis(now);
        let file = OutboxFile {
            id: &id,
            pool_id: &message.pool_id,
            username: &message.username,
            channel: message.channel,
            destination: &message.destination,
            purpose: message.purpose,
            subject: &message.subject,
            body: &message.body,
            code: message.code.as_deref(),
            temporary_password: message.temporary_password.as_deref(),
            created_at: format_rfc3339_millis(millis),
        };
        let json =
            serde_json::to_vec_pretty(&file).map_err(|e| DeliveryError::Io(e.to_string()))?;
        std::fs::create_dir_all(dir).map_err(io)?;
        // Readers list `*.json`: the temporary name has another extension, and the rename is
        // atomic on one file system.
        let stem = format!("{millis}-{sequence:010}-{id}");
        let tmp = dir.join(format!(".{stem}.tmp"));
        let target = dir.join(format!("{stem}.json"));
        std::fs::write(&tmp, &json).map_err(io)?;
        std::fs::rename(&tmp, &target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }
}

impl Delivery for Outbox {
    fn send(
        &self,
        message: Message,
        now: SystemTime,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + '_>> {
        let dir = self.dir.clone();
        // Taken before the blocking hop, so names follow the order of the `send` calls.
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let pending = self.pending.clone();
        pending.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            // Handed over, not awaited: a failure is logged (no secret in it: the path and
            // the I/O error only).
            tokio::task::spawn_blocking(move || {
                if let Err(error) = Self::write(&dir, sequence, &message, now) {
                    tracing::warn!(%error, "outbox message not written");
                }
                pending.fetch_sub(1, Ordering::SeqCst);
            });
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn message(purpose: Purpose) -> Message {
        Message {
            pool_id: "us-east-1_Abc123xyZ".into(),
            username: "jane".into(),
            channel: Channel::Email,
            destination: "jane@example.com".into(),
            purpose,
            subject: "Your code".into(),
            body: "Your code is 123456".into(),
            code: Some("123456".into()),
            temporary_password: None,
        }
    }

    #[tokio::test]
    async fn writes_one_file_per_message_in_the_contract_format() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        outbox.send(message(Purpose::SignUp), now).await.unwrap();
        let mut invite = message(Purpose::AdminCreateUser);
        invite.code = None;
        invite.temporary_password = Some("Temp-1234!".into());
        outbox.send(invite, now).await.unwrap();
        assert!(outbox.wait_written(std::time::Duration::from_secs(10)));

        let mut files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        let mut seen = Vec::new();
        for name in &files {
            assert!(
                name.starts_with("1800000000123-") && name.ends_with(".json"),
                "{name}"
            );
            let v: serde_json::Value = serde_json::from_slice(
                &std::fs::read(dir.path().join("outbox").join(name)).unwrap(),
            )
            .unwrap();
            let sequence = seen.len();
            assert_eq!(
                name,
                &format!(
                    "1800000000123-{sequence:010}-{}.json",
                    v["id"].as_str().unwrap()
                ),
                "sorted names follow the order of sending"
            );
            assert_eq!(v["pool_id"], "us-east-1_Abc123xyZ");
            assert_eq!(v["channel"], "EMAIL");
            assert_eq!(v["destination"], "jane@example.com");
            assert_eq!(v["created_at"], "2027-01-15T08:00:00.123Z");
            seen.push(v);
        }
        let code = seen.iter().find(|v| v["purpose"] == "SignUp").unwrap();
        assert_eq!(code["code"], "123456");
        assert!(code.get("temporary_password").is_none());
        let invite = seen
            .iter()
            .find(|v| v["purpose"] == "AdminCreateUser")
            .unwrap();
        assert!(invite.get("code").is_none());
        assert_eq!(invite["temporary_password"], "Temp-1234!");
    }
}
