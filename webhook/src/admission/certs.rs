//! A CA and a serving certificate for the webhook, made with rcgen.
//!
//! `fed-webhook certs --out-dir DIR` writes `ca.crt`/`ca.key` and `tls.crt`/`tls.key`, made by
//! [`fed_core::certs`] (ECDSA P-256). Existing files are reused when they still verify — the serving certificate chains to
//! the CA, covers every requested name and is not close to expiry ([`renew_margin`]) — so
//! the CA (and the caBundle registered with the apiserver) stays stable across runs; when only
//! the serving certificate is stale it is re-issued by the existing CA. `--force` starts over.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use fed_core::certs;
use rcgen::{Issuer, KeyPair, SanType};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::admission::tls;

/// Existing certificates expiring within this many days (or within a third of the requested
/// validity, when that is shorter) are replaced.
pub const RENEW_BEFORE_DAYS: u32 = 30;

/// The four files in the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPaths {
    /// CA certificate (the caBundle).
    pub ca_cert: PathBuf,
    /// CA private key.
    pub ca_key: PathBuf,
    /// Serving certificate.
    pub tls_cert: PathBuf,
    /// Serving private key.
    pub tls_key: PathBuf,
}

impl CertPaths {
    /// The standard names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        CertPaths {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            tls_cert: dir.join("tls.crt"),
            tls_key: dir.join("tls.key"),
        }
    }
}

/// Names the serving certificate must cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sans {
    /// IP address SANs.
    pub ips: Vec<IpAddr>,
    /// DNS name SANs.
    pub dns_names: Vec<String>,
}

impl Sans {
    /// `127.0.0.1` when nothing was asked for.
    pub fn or_loopback(mut self) -> Self {
        if self.ips.is_empty() && self.dns_names.is_empty() {
            self.ips.push(IpAddr::from([127, 0, 0, 1]));
        }
        self
    }

    fn server_names(&self) -> Result<Vec<ServerName<'static>>> {
        let mut names: Vec<ServerName<'static>> =
            self.ips.iter().map(|ip| ServerName::IpAddress((*ip).into())).collect();
        for dns in &self.dns_names {
            names.push(ServerName::try_from(dns.clone()).map_err(|e| anyhow!("invalid DNS name {dns:?}: {e}"))?);
        }
        Ok(names)
    }

    fn san_types(&self) -> Result<Vec<SanType>> {
        let mut sans: Vec<SanType> = self.ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
        for dns in &self.dns_names {
            sans.push(SanType::DnsName(dns.clone().try_into().map_err(|e| anyhow!("invalid DNS name {dns:?}: {e}"))?));
        }
        Ok(sans)
    }
}

/// What [`ensure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issued {
    /// Every existing file was valid and kept.
    Reused,
    /// The existing CA was kept and a new serving certificate issued.
    Reissued,
    /// A new CA and serving certificate were generated.
    Generated,
}

/// Make sure `dir` holds a CA and a serving certificate for `sans` valid for `days` days.
pub fn ensure(dir: &Path, sans: &Sans, days: u32, force: bool) -> Result<Issued> {
    let paths = CertPaths::in_dir(dir);
    let names = sans.server_names()?;
    if names.is_empty() {
        return Err(anyhow!("the serving certificate needs at least one --ip or --dns name"));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let margin = renew_margin(days);
    if !force {
        if verify(&paths, &names, margin).is_ok() {
            return Ok(Issued::Reused);
        }
        if let Ok(ca_key) = read_ca(&paths) {
            issue_serving(&paths, &certs::ca_issuer(ca_key), sans, days)?;
            if verify(&paths, &names, margin).is_ok() {
                return Ok(Issued::Reissued);
            }
        }
    }
    let (ca, issuer) = certs::new_ca().context("generating the CA")?;
    write_file(&paths.ca_key, ca.key.as_bytes(), true)?;
    write_file(&paths.ca_cert, ca.cert.as_bytes(), false)?;
    issue_serving(&paths, &issuer, sans, days)?;
    verify(&paths, &names, margin).context("the generated certificate does not verify")?;
    Ok(Issued::Generated)
}

/// The CA key, when the CA certificate and key on disk fit together.
fn read_ca(paths: &CertPaths) -> Result<KeyPair> {
    let ca_pem = std::fs::read(&paths.ca_cert)?;
    let key_pem = std::fs::read_to_string(&paths.ca_key)?;
    // The pair must fit; whether the CA is still valid long enough is checked by `verify` on
    // the certificate issued with it.
    tls::certified_key(&ca_pem, key_pem.as_bytes(), &tls::provider())?;
    KeyPair::from_pem(&key_pem).map_err(|e| anyhow!("CA key: {e}"))
}

/// How long before expiry a certificate meant to last `days` days is replaced.
pub fn renew_margin(days: u32) -> Duration {
    Duration::from_secs(u64::from(RENEW_BEFORE_DAYS.min(days / 3)) * 86_400)
}

/// Check the files: the serving certificate chains to the CA, covers every name, matches its
/// key, and all of it is still valid `margin` from now.
pub fn verify(paths: &CertPaths, names: &[ServerName<'static>], margin: Duration) -> Result<()> {
    let provider = tls::provider();
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&paths.ca_cert).map_err(|e| anyhow!("{}: {e}", paths.ca_cert.display()))? {
        roots.add(ca.map_err(|e| anyhow!("{}: {e}", paths.ca_cert.display()))?)?;
    }
    let cert_pem = std::fs::read(&paths.tls_cert).with_context(|| format!("reading {}", paths.tls_cert.display()))?;
    let key_pem = std::fs::read(&paths.tls_key).with_context(|| format!("reading {}", paths.tls_key.display()))?;
    let certified = tls::certified_key(&cert_pem, &key_pem, &provider)?;
    let (leaf, intermediates) = certified.cert.split_first().ok_or_else(|| anyhow!("empty certificate chain"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let then = UnixTime::since_unix_epoch(now + margin);
    for name in names {
        verifier
            .verify_server_cert(leaf, intermediates, name, &[], then)
            .map_err(|e| anyhow!("serving certificate not valid for {name:?}: {e}"))?;
    }
    Ok(())
}

/// Issues a serving certificate for `sans` with `issuer` and writes it with its key.
fn issue_serving(paths: &CertPaths, issuer: &Issuer<'_, KeyPair>, sans: &Sans, days: u32) -> Result<()> {
    let leaf = certs::issue_serving(issuer, sans.san_types()?, days).context("issuing the serving certificate")?;
    // Key first: a reloading server that sees a new certificate with the old key keeps serving
    // the old pair until both fit.
    write_file(&paths.tls_key, leaf.key.as_bytes(), true)?;
    write_file(&paths.tls_cert, leaf.cert.as_bytes(), false)?;
    Ok(())
}

/// Write atomically (temp file + rename); private keys get mode 0600.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(contents).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Sans {
        Sans::default().or_loopback()
    }

    #[test]
    fn generates_then_reuses_then_forces() {
        let dir = tempfile::tempdir().unwrap();
        let sans = Sans { ips: vec![IpAddr::from([127, 0, 0, 1])], dns_names: vec!["fed.example".into()] };
        assert_eq!(ensure(dir.path(), &sans, 30, false).unwrap(), Issued::Generated);
        let paths = CertPaths::in_dir(dir.path());
        let ca = std::fs::read(&paths.ca_cert).unwrap();
        let leaf = std::fs::read(&paths.tls_cert).unwrap();
        assert_eq!(ensure(dir.path(), &sans, 30, false).unwrap(), Issued::Reused);
        assert_eq!(std::fs::read(&paths.tls_cert).unwrap(), leaf);
        assert_eq!(ensure(dir.path(), &sans, 30, true).unwrap(), Issued::Generated);
        assert_ne!(std::fs::read(&paths.ca_cert).unwrap(), ca);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&paths.tls_key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(&paths.ca_key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_new_name_reissues_with_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        ensure(dir.path(), &loopback(), 30, false).unwrap();
        let paths = CertPaths::in_dir(dir.path());
        let ca = std::fs::read(&paths.ca_cert).unwrap();
        let more = Sans { ips: vec![IpAddr::from([127, 0, 0, 1])], dns_names: vec!["svc.example".into()] };
        assert_eq!(ensure(dir.path(), &more, 30, false).unwrap(), Issued::Reissued);
        assert_eq!(std::fs::read(&paths.ca_cert).unwrap(), ca, "the CA (caBundle) must stay");
        verify(&paths, &more.server_names().unwrap(), renew_margin(30)).unwrap();
    }

    #[test]
    fn short_lived_serving_certs_are_renewed() {
        let dir = tempfile::tempdir().unwrap();
        // Valid for less than the 30-day margin of a 90-day certificate: the next run re-issues.
        ensure(dir.path(), &loopback(), 2, false).unwrap();
        assert_eq!(ensure(dir.path(), &loopback(), 90, false).unwrap(), Issued::Reissued);
        assert_eq!(ensure(dir.path(), &loopback(), 90, false).unwrap(), Issued::Reused);
    }

    #[test]
    fn garbage_on_disk_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::in_dir(dir.path());
        for p in [&paths.ca_cert, &paths.ca_key, &paths.tls_cert, &paths.tls_key] {
            std::fs::write(p, "not pem").unwrap();
        }
        assert_eq!(ensure(dir.path(), &loopback(), 30, false).unwrap(), Issued::Generated);
        verify(&paths, &loopback().server_names().unwrap(), renew_margin(30)).unwrap();
    }

    #[test]
    fn invalid_dns_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Sans { ips: vec![], dns_names: vec!["not a name".into()] };
        assert!(ensure(dir.path(), &bad, 30, false).is_err());
    }
}
