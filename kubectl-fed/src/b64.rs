//! Base64 as Kubernetes writes it (standard alphabet, padded), through k8s-openapi's
//! `ByteString` so no second implementation is needed.

use anyhow::{Context as _, Result};
use k8s_openapi::ByteString;
use serde_json::Value;

/// Encode bytes.
pub fn encode(bytes: &[u8]) -> String {
    match serde_json::to_value(ByteString(bytes.to_vec())) {
        Ok(Value::String(s)) => s,
        _ => unreachable!("ByteString serializes to a string"),
    }
}

/// Decode a base64 string (surrounding whitespace ignored).
pub fn decode(text: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes: ByteString = serde_json::from_value(Value::String(compact)).context("invalid base64")?;
    Ok(bytes.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        assert_eq!(super::encode(b"hello"), "aGVsbG8=");
        assert_eq!(super::decode("aGVs\nbG8=").unwrap(), b"hello");
        assert!(super::decode("***").is_err());
    }
}
