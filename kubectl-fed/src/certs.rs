//! The webhook's CA and serving certificate, for `install`.
//!
//! The file layout (`ca.crt`, `ca.key`, `tls.crt`, `tls.key`) is the one `fed-webhook certs`
//! writes and `fed-webhook serve --tls-cert/--tls-key` reads, so either tool can make them.
//! Existing material is reused, so the caBundle registered with the apiserver stays stable
//! across repeated installs.

use std::path::Path;

use anyhow::{Context as _, Result};
use fed_core::certs;

/// PEM material for the webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCerts {
    /// CA certificate (the caBundle).
    pub ca_cert: String,
    /// CA private key.
    pub ca_key: String,
    /// Serving certificate.
    pub tls_cert: String,
    /// Serving private key.
    pub tls_key: String,
}

/// A fresh CA and a serving certificate for `names` (DNS names or IP addresses), both valid for
/// [`certs::CA_DAYS`] days, from the generator `fed-webhook certs` uses ([`fed_core::certs`]).
pub fn generate(names: &[String]) -> Result<WebhookCerts> {
    let (ca, issuer) = certs::new_ca().context("generating the CA")?;
    let sans = certs::sans(names).context("serving certificate names")?;
    let tls = certs::issue_serving(&issuer, sans, certs::CA_DAYS).context("issuing the serving certificate")?;
    Ok(WebhookCerts { ca_cert: ca.cert, ca_key: ca.key, tls_cert: tls.cert, tls_key: tls.key })
}

/// Read the four files from `dir` when they all exist.
pub fn read_dir(dir: &Path) -> Result<Option<WebhookCerts>> {
    let files = ["ca.crt", "ca.key", "tls.crt", "tls.key"].map(|f| dir.join(f));
    if !files.iter().all(|f| f.exists()) {
        return Ok(None);
    }
    let read = |i: usize| std::fs::read_to_string(&files[i]).with_context(|| format!("reading {}", files[i].display()));
    Ok(Some(WebhookCerts { ca_cert: read(0)?, ca_key: read(1)?, tls_cert: read(2)?, tls_key: read(3)? }))
}

/// Write the four files into `dir` (keys readable by the owner only).
pub fn write_dir(dir: &Path, certs: &WebhookCerts) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text, private) in [
        ("ca.crt", &certs.ca_cert, false),
        ("ca.key", &certs.ca_key, true),
        ("tls.crt", &certs.tls_cert, false),
        ("tls.key", &certs.tls_key, true),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        let _ = private;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pem_and_round_trips_through_a_directory() {
        let certs = generate(&["127.0.0.1".into(), "localhost".into()]).unwrap();
        assert!(certs.ca_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(certs.tls_key.contains("PRIVATE KEY"));
        assert_ne!(certs.ca_cert, certs.tls_cert);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_dir(dir.path()).unwrap(), None);
        write_dir(dir.path(), &certs).unwrap();
        assert_eq!(read_dir(dir.path()).unwrap(), Some(certs));
    }
}
