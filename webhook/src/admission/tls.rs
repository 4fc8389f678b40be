//! TLS for the webhook server: rustls (ring), TLS 1.2 and 1.3 only, ALPN h2 + http/1.1, and a
//! serving certificate that follows its files.
//!
//! [`ReloadingCert`] answers every handshake from an in-memory `CertifiedKey`; a file watcher
//! ([`watch_files`]: inotify through notify, no polling) re-reads the PEM files when their
//! directory changes and swaps the key in when their bytes changed and parse into a consistent
//! pair. A half-written or mismatched pair is logged once and the previous certificate keeps
//! serving, so rotating a Secret never drops the webhook.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use anyhow::{Context, Result, anyhow};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The only protocol versions the server speaks.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider used everywhere in the webhook (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parse a PEM certificate chain and private key into a checked `CertifiedKey`.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8], provider: &CryptoProvider) -> Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("certificate PEM: {e}"))?;
    if chain.is_empty() {
        return Err(anyhow!("certificate PEM holds no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| anyhow!("private key PEM: {e}"))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| anyhow!("certificate and key do not fit together: {e}"))
}

#[derive(Debug)]
struct State {
    current: Arc<CertifiedKey>,
    /// File contents seen at the last check (loaded or rejected), to act once per change.
    seen: (Vec<u8>, Vec<u8>),
    last_error: Option<String>,
}

/// A certificate resolver that serves the latest valid contents of a cert/key file pair.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    state: RwLock<State>,
}

impl ReloadingCert {
    /// Load the pair; fails when the files are missing or invalid (nothing to serve yet).
    pub fn load(cert_path: &Path, key_path: &Path, provider: Arc<CryptoProvider>) -> Result<Arc<Self>> {
        let cert = std::fs::read(cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
        let key = std::fs::read(key_path).with_context(|| format!("reading {}", key_path.display()))?;
        let current = certified_key(&cert, &key, &provider)
            .with_context(|| format!("loading {} and {}", cert_path.display(), key_path.display()))?;
        Ok(Arc::new(ReloadingCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            state: RwLock::new(State { current: Arc::new(current), seen: (cert, key), last_error: None }),
        }))
    }

    /// The certificate served right now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.state.read().unwrap_or_else(PoisonError::into_inner).current.clone()
    }

    /// Re-read the files; swap in the new pair when they changed and are valid.
    /// Returns true when a new certificate was loaded. Blocking (file I/O).
    pub fn reload_if_changed(&self) -> bool {
        let read = std::fs::read(&self.cert_path)
            .with_context(|| format!("reading {}", self.cert_path.display()))
            .and_then(|c| {
                Ok((c, std::fs::read(&self.key_path).with_context(|| format!("reading {}", self.key_path.display()))?))
            });
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let (cert, key) = match read {
            Ok(pair) => pair,
            Err(e) => {
                let msg = format!("{e:#}");
                if state.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(error = %msg, "cannot re-read the serving certificate; keeping the current one");
                    state.last_error = Some(msg);
                }
                return false;
            }
        };
        if state.seen.0 == cert && state.seen.1 == key {
            return false;
        }
        let outcome = certified_key(&cert, &key, &self.provider);
        state.seen = (cert, key);
        match outcome {
            Ok(new) => {
                state.current = Arc::new(new);
                state.last_error = None;
                tracing::info!(cert = %self.cert_path.display(), "reloaded the serving certificate");
                true
            }
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::warn!(error = %msg, "new serving certificate files are not usable (yet); keeping the current one");
                state.last_error = Some(msg);
                false
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Watches the directories holding the certificate and key (inotify, through notify) and
/// reloads on any change in them, for as long as the returned watcher and the resolver live.
///
/// The directories rather than the files: a Secret volume swaps its files by renaming a
/// `..data` symlink in the directory, which a watch on the old file would never see.
pub fn watch_files(cert: &Arc<ReloadingCert>) -> Result<RecommendedWatcher> {
    let weak: Weak<ReloadingCert> = Arc::downgrade(cert);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Some(cert) = weak.upgrade() else { return };
        match event {
            Ok(event) if event.kind.is_access() => {}
            Ok(_) => {
                cert.reload_if_changed();
            }
            Err(e) => tracing::warn!(error = %e, "watching the serving certificate's files"),
        }
    })
    .context("starting the certificate file watcher")?;
    let dirs: BTreeSet<PathBuf> = [&cert.cert_path, &cert.key_path]
        .into_iter()
        .map(|p| p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf())
        .collect();
    for dir in dirs {
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("watching {} for certificate changes", dir.display()))?;
    }
    // A change between the first read and the watch starting is not missed.
    cert.reload_if_changed();
    Ok(watcher)
}

/// The rustls server configuration: TLS 1.2+, ALPN h2 and http/1.1, certificate from `cert`.
pub fn server_config(cert: Arc<ReloadingCert>, provider: Arc<CryptoProvider>) -> Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
