//! The webhook's CA and serving certificate (rcgen), for `install`.
//!
//! The file layout (`ca.crt`, `ca.key`, `tls.crt`, `tls.key`) is the one `fed-webhook certs`
//! writes and `fed-webhook serve --tls-cert/--tls-key` reads, so either tool can make them.
//! Existing material is reused, so the caBundle registered with the apiserver stays stable
//! across repeated installs.

use std::path::Path;

use anyhow::{Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// PEM material for the webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCerts {
    pub ca_cert: String,
    pub ca_key: String,
    pub tls_cert: String,
    pub tls_key: String,
}

/// A fresh CA and a serving certificate for `names` (DNS names or IP addresses).
pub fn generate(names: &[String]) -> Result<WebhookCerts> {
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "kubectl-fed webhook CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).context("signing the CA certificate")?;

    let tls_key = KeyPair::generate().context("generating the serving key")?;
    let mut params = CertificateParams::new(names.to_vec()).context("serving certificate names")?;
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().map(String::as_str).unwrap_or("kubectl-fed-webhook"));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let tls_cert = params.signed_by(&tls_key, &issuer).context("signing the serving certificate")?;
    Ok(WebhookCerts {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        tls_cert: tls_cert.pem(),
        tls_key: tls_key.serialize_pem(),
    })
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
