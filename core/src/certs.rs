//! The webhook's CA and serving certificates (rcgen): the one generator behind both
//! `fed-webhook certs` and `kubectl fed install`. Behind the `certs` feature, so the pure core
//! (and its fuzz targets) builds without a crypto library.
//!
//! ECDSA P-256 keys; the CA is constrained to issue leaves only; validity runs from midnight UTC
//! yesterday (clock skew) to midnight UTC the given number of days ahead.

use k8s_openapi::jiff::civil::Date;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Span, Timestamp};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Common name of the CA.
pub const CA_COMMON_NAME: &str = "kubectl-fed webhook CA";
/// Common name of the serving certificate (the SANs are what clients check).
pub const SERVING_COMMON_NAME: &str = "fed-webhook";
/// Validity of a CA, in days.
pub const CA_DAYS: u32 = 3650;

/// A certificate and its private key, PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemPair {
    /// The certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

/// Why a certificate could not be made.
pub type Error = rcgen::Error;

/// The CA's parameters. Re-creating them for an existing CA key yields an issuer with the same
/// subject and key identifier, so certificates it signs chain to the CA already handed out.
pub fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params, CA_DAYS);
    params
}

/// A new CA: its PEM and the issuer that signs with it.
pub fn new_ca() -> Result<(PemPair, Issuer<'static, KeyPair>), Error> {
    let key = KeyPair::generate()?;
    let params = ca_params();
    let cert = params.self_signed(&key)?;
    let pem = PemPair { cert: cert.pem(), key: key.serialize_pem() };
    Ok((pem, Issuer::new(params, key)))
}

/// The issuer of an existing CA, from its key.
pub fn ca_issuer(key: KeyPair) -> Issuer<'static, KeyPair> {
    Issuer::new(ca_params(), key)
}

/// A new serving certificate for `sans`, valid for `days` days, signed by `issuer`.
pub fn issue_serving(issuer: &Issuer<'_, KeyPair>, sans: Vec<SanType>, days: u32) -> Result<PemPair, Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, SERVING_COMMON_NAME);
    params.distinguished_name = dn;
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, days);
    let cert = params.signed_by(&key, issuer)?;
    Ok(PemPair { cert: cert.pem(), key: key.serialize_pem() })
}

/// The SANs for `names`: each an IP address when it parses as one, else a DNS name.
pub fn sans(names: &[String]) -> Result<Vec<SanType>, Error> {
    Ok(CertificateParams::new(names.to_vec())?.subject_alt_names)
}

/// Valid from midnight UTC yesterday (clock skew) until midnight UTC `days` days from today.
fn set_validity(params: &mut CertificateParams, days: u32) {
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    let ymd = |d: Date| rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8);
    params.not_before = ymd(today.yesterday().unwrap_or(today));
    params.not_after = ymd(today.checked_add(Span::new().days(i64::from(days))).unwrap_or(Date::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_runs_from_midnight_yesterday_to_midnight_days_ahead() {
        let mut params = CertificateParams::default();
        set_validity(&mut params, 30);
        assert_eq!((params.not_after - params.not_before).whole_days(), 31);
        assert_eq!((params.not_before.hour(), params.not_before.minute()), (0, 0));
        let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
        assert_eq!(params.not_after.day(), today.checked_add(Span::new().days(30)).unwrap().day() as u8);
    }

    #[test]
    fn a_serving_certificate_is_issued_by_a_new_or_restored_ca() {
        let (ca, issuer) = new_ca().unwrap();
        assert!(ca.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca.key.contains("PRIVATE KEY"));
        let names = sans(&["127.0.0.1".into(), "fed.example".into()]).unwrap();
        assert!(matches!(names[0], SanType::IpAddress(_)));
        assert!(matches!(names[1], SanType::DnsName(_)));
        let leaf = issue_serving(&issuer, names.clone(), 30).unwrap();
        assert_ne!(leaf.cert, ca.cert);
        let restored = ca_issuer(KeyPair::from_pem(&ca.key).unwrap());
        assert!(issue_serving(&restored, names, 30).is_ok());
    }
}
