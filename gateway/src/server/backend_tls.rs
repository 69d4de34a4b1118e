//! TLS to `https://` backends: the client settings an API's integrations connect with.
//!
//! Certificates are always verified — against the Mozilla roots compiled in (as the JWKS
//! client does), or against the API's own CA bundle (`tls_config.trusted_ca`) — with the
//! backend's name from the URI host (SNI and the name checked); the one exception is a method
//! whose OpenAPI integration says `tlsConfig.insecureSkipVerification`, as API Gateway
//! honours it (warned about at load time). An API may present a client certificate (mTLS).
//! ALPN offers `h2` and `http/1.1`: a backend that picks HTTP/2 gets it; a WebSocket upgrade
//! offers `http/1.1` only, since the upgrade is HTTP/1.1's.
//!
//! The settings are built when a snapshot is built (the files are read then, never per
//! request) and each gets an id of its own: pooled connections are keyed by it, so a
//! connection made under one API's trust settings is never lent to another's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::definition::model::BackendTlsSettings;
use crate::server::tls::{TlsError, read_certificates, read_key};

/// The ALPN protocols offered to backends, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Client TLS settings for backends, with the id their pooled connections are kept under.
#[derive(Debug)]
pub struct BackendTls {
    id: u64,
    /// ALPN `h2`, `http/1.1`.
    config: Arc<rustls::ClientConfig>,
    /// The same settings with ALPN `http/1.1` alone, for WebSocket upgrades.
    http1: Arc<rustls::ClientConfig>,
}

/// Accepts any certificate (signatures of the handshake are still checked): only for a
/// method whose definition says `insecureSkipVerification`.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

// === impl BackendTls ===

impl BackendTls {
    /// The settings of an API without `tls_config`: the Mozilla roots, no client
    /// certificate. Built once per process.
    pub fn mozilla() -> Result<Arc<Self>, TlsError> {
        static MOZILLA: OnceLock<Arc<BackendTls>> = OnceLock::new();
        if let Some(tls) = MOZILLA.get() {
            return Ok(Arc::clone(tls));
        }
        let built = Arc::new(Self::build(&BackendTlsSettings::default(), false)?);
        Ok(Arc::clone(MOZILLA.get_or_init(|| built)))
    }

    /// The settings for an API's `settings`, with verification off when `insecure`. Reads the
    /// files the settings name.
    pub fn build(settings: &BackendTlsSettings, insecure: bool) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let builder = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            match &settings.trusted_ca {
                Some(path) => {
                    for certificate in read_certificates(path)? {
                        roots.add(certificate).map_err(|e| TlsError::TrustAnchor {
                            path: path.clone(),
                            message: e.to_string(),
                        })?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match &settings.client_certificate {
            Some(client) => {
                let chain = read_certificates(&client.certificate)?;
                let key = read_key(&client.key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsError::Mismatch {
                        certificate: client.certificate.clone(),
                        key: client.key.clone(),
                        message: e.to_string(),
                    })?
            }
            None => builder.with_no_client_auth(),
        };
        let mut http1 = config.clone();
        http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config: Arc::new(config),
            http1: Arc::new(http1),
        })
    }

    /// The key pooled connections made with these settings are kept under (`http1_only`:
    /// those made for WebSocket upgrades).
    pub(crate) fn pool_id(&self, http1_only: bool) -> u64 {
        (self.id << 1) | u64::from(http1_only)
    }

    pub(crate) fn connector(&self, http1_only: bool) -> tokio_rustls::TlsConnector {
        let config = if http1_only {
            &self.http1
        } else {
            &self.config
        };
        tokio_rustls::TlsConnector::from(Arc::clone(config))
    }
}

// === impl NoVerification ===

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
