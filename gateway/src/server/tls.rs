//! TLS on the public listeners: rustls (aws-lc-rs), TLS 1.2 and 1.3, ALPN `h2` and
//! `http/1.1`, and a certificate that is replaced while the listener runs.
//!
//! A [`ServerTls`] is loaded once from a certificate chain and a private key (PEM files) and
//! handed to the edge listener. Its certificate is read by rustls at every handshake from an
//! [`ArcSwap`], so [`ServerTls::reload`] (on SIGHUP, or when either file changes — see
//! [`ServerTls::watch`]) swaps a new pair in without touching open connections: a connection
//! keeps the certificate it was handshaken with, the next handshake gets the new one. A pair
//! that cannot be used (unreadable, not PEM, a key that does not belong to the certificate —
//! as happens for a moment while a renewal writes the two files one after the other) is
//! refused with the reason logged, and the old pair keeps serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The ALPN protocols the listeners offer, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Where a listener's certificate chain and private key are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificates: the server's first, then the intermediates.
    pub certificate: PathBuf,
    /// A PEM private key (PKCS#8, PKCS#1 or SEC1) of the first certificate.
    pub key: PathBuf,
}

/// TLS for one listener (cheap to clone: every worker of the gateway port shares one).
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    slot: Arc<CertificateSlot>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.slot.files)
            .finish_non_exhaustive()
    }
}

/// The certificate rustls hands out, replaced whole on reload.
#[derive(Debug)]
struct CertificateSlot {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    /// Modification time and size of both files when they were last looked at, so a change
    /// is noticed once (a pair refused is not retried until a file changes again).
    seen: Mutex<Fingerprint>,
}

type Fingerprint = [Option<(SystemTime, u64)>; 2];

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` holds no PEM certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("`{}` is not a PEM certificate file: {message}", path.display())]
    Certificate { path: PathBuf, message: String },
    #[error("`{}` holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("the private key in `{}` does not belong to the certificate in `{}`: {message}", key.display(), certificate.display())]
    Mismatch {
        certificate: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("`{}` holds a certificate that is not a usable trust anchor: {message}", path.display())]
    TrustAnchor { path: PathBuf, message: String },
    #[error("tls setup: {0}")]
    Setup(String),
}

// === impl ServerTls ===

impl ServerTls {
    /// Reads the pair and builds the listener's TLS settings; an error names the file and
    /// what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let seen = fingerprint(&files);
        let key = read_pair(&files, &provider)?;
        let slot = Arc::new(CertificateSlot {
            files,
            provider: Arc::clone(&provider),
            current: ArcSwap::from_pointee(key),
            seen: Mutex::new(seen),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&slot) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            slot,
        })
    }

    /// The files this listener's pair is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.slot.files
    }

    /// Reads the pair again and swaps it in; on an error the old pair keeps serving.
    pub fn reload(&self) -> Result<(), TlsError> {
        let slot = &*self.slot;
        *slot.seen.lock().unwrap_or_else(|e| e.into_inner()) = fingerprint(&slot.files);
        let key = read_pair(&slot.files, &slot.provider)?;
        slot.current.store(Arc::new(key));
        Ok(())
    }

    /// The certificate chain new handshakes get (the server's certificate first).
    pub fn certificate_chain(&self) -> Vec<CertificateDer<'static>> {
        self.slot.current.load().cert.clone()
    }

    /// Reloads on SIGHUP and whenever either file's modification time or size changes
    /// (looked at every `interval`), until `shutdown` resolves; each outcome is logged, a
    /// refused pair with its reason.
    pub async fn watch(self, interval: Duration, shutdown: impl std::future::Future<Output = ()>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::pin!(shutdown);
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<Option<()>>();
            let reason = tokio::select! {
                () = &mut shutdown => return,
                _ = hup => "SIGHUP",
                _ = ticker.tick() => {
                    if !self.changed() {
                        continue;
                    }
                    "file change"
                }
            };
            let this = self.clone();
            // File reads and key parsing: off the request threads.
            let outcome = tokio::task::spawn_blocking(move || this.reload()).await;
            let certificate = self.slot.files.certificate.display();
            match outcome {
                Ok(Ok(())) => tracing::info!(reason, %certificate, "tls certificate reloaded"),
                Ok(Err(err)) => tracing::error!(
                    reason,
                    error = %err,
                    "tls certificate refused; the previous one keeps serving"
                ),
                Err(err) => tracing::error!(%err, "tls certificate reload task failed"),
            }
        }
    }

    /// Whether either file changed since it was last read.
    fn changed(&self) -> bool {
        let now = fingerprint(&self.slot.files);
        *self.slot.seen.lock().unwrap_or_else(|e| e.into_inner()) != now
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

// === impl CertificateSlot ===

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

// === reading PEM files ===

fn fingerprint(files: &TlsFiles) -> Fingerprint {
    let stat = |path: &Path| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    [stat(&files.certificate), stat(&files.key)]
}

fn read_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_certificates(&files.certificate)?;
    let key = read_key(&files.key)?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            certificate: files.certificate.clone(),
            key: files.key.clone(),
            message: e.to_string(),
        },
        other => TlsError::Key {
            path: files.key.clone(),
            message: other.to_string(),
        },
    })?;
    Ok(certified)
}

/// Every certificate of a PEM file, in order; at least one.
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    certificates_from_pem(&bytes, path)
}

pub(crate) fn certificates_from_pem(
    bytes: &[u8],
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The first private key of a PEM file.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Key {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// PEM files are small; a larger one is a mistake (or not a PEM file).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if meta.len() > MAX_PEM_BYTES {
        return Err(TlsError::Certificate {
            path: path.to_path_buf(),
            message: format!("larger than {MAX_PEM_BYTES} bytes"),
        });
    }
    std::fs::read(path).map_err(read_error)
}
