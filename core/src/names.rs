//! Kubernetes name rules: DNS-1123 labels and subdomains, label keys and values.
//!
//! Each check returns why a name is invalid as one readable phrase.

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

/// Checks a DNS-1123 label (object names such as a KubeFedCluster's): at most 63 lower case
/// alphanumerics or `-`, starting and ending with an alphanumeric.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    check(s, LABEL_MAX, is_lower_alnum, |c| c == '-').map_err(|e| {
        e.unwrap_or_else(|| {
            "must consist of lower case alphanumeric characters or '-' and start and end with an alphanumeric"
                .to_string()
        })
    })
}

/// Checks a DNS-1123 subdomain (most object names): at most 253 characters, dot-separated
/// parts of lower case alphanumerics or `-` that start and end with an alphanumeric.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    let rule = "must consist of lower case alphanumeric characters, '-' or '.', and each dot-separated part must start and end with an alphanumeric";
    check(s, SUBDOMAIN_MAX, is_lower_alnum, |c| c == '-' || c == '.')
        .map_err(|e| e.unwrap_or_else(|| rule.to_string()))?;
    let parts_ok = s.split('.').all(|part| {
        part.chars().next().is_some_and(is_lower_alnum) && part.chars().next_back().is_some_and(is_lower_alnum)
    });
    if parts_ok { Ok(()) } else { Err(rule.to_string()) }
}

/// Checks a label key: an optional DNS-1123 subdomain prefix and `/`, then a name of at most
/// 63 alphanumerics, `-`, `_` or `.` that starts and ends with an alphanumeric.
pub fn label_key(s: &str) -> Result<(), String> {
    let name = match s.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                return Err("prefix before '/' must not be empty".to_string());
            }
            dns1123_subdomain(prefix).map_err(|e| format!("prefix {prefix:?} {e}"))?;
            name
        }
        None => s,
    };
    if name.is_empty() {
        return Err("name part must not be empty".to_string());
    }
    qualified_name_part(name)
}

/// Checks a label value: empty, or at most 63 alphanumerics, `-`, `_` or `.` that starts and
/// ends with an alphanumeric.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() { Ok(()) } else { qualified_name_part(s) }
}

fn qualified_name_part(s: &str) -> Result<(), String> {
    check(s, LABEL_MAX, |c| c.is_ascii_alphanumeric(), |c| matches!(c, '-' | '_' | '.')).map_err(|e| {
        e.unwrap_or_else(|| {
            "must consist of alphanumeric characters, '-', '_' or '.' and start and end with an alphanumeric"
                .to_string()
        })
    })
}

/// Length and character-class check shared by every rule: `end` characters may appear
/// anywhere, `middle` characters only inside. `Err(Some(_))` carries a specific reason,
/// `Err(None)` asks the caller for its character-rule wording.
fn check(s: &str, max: usize, end: fn(char) -> bool, middle: fn(char) -> bool) -> Result<(), Option<String>> {
    if s.is_empty() {
        return Err(Some("must not be empty".to_string()));
    }
    if s.len() > max {
        return Err(Some(format!("must be at most {max} characters (has {})", s.len())));
    }
    let first = s.chars().next().is_some_and(end);
    let last = s.chars().next_back().is_some_and(end);
    if first && last && s.chars().all(|c| end(c) || middle(c)) { Ok(()) } else { Err(None) }
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        for ok in ["a", "earth", "vulcan-2", "0abc", &"a".repeat(63)] {
            assert_eq!(dns1123_label(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-a", "a-", "Earth", "a.b", "a_b", "a b", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
        assert_eq!(dns1123_label("").unwrap_err(), "must not be empty");
        assert!(dns1123_label(&"a".repeat(64)).unwrap_err().contains("at most 63"));
        assert!(dns1123_label("Earth").unwrap_err().contains("lower case"));
    }

    #[test]
    fn dns1123_subdomains() {
        for ok in ["a", "a.b", "kubefed.io", "x-1.y-2.z", &"a".repeat(253)] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "a.-b", "a-.b", "A.b", "a_b", &"a".repeat(254)] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(dns1123_subdomain("a..b").unwrap_err().contains("dot-separated"));
        assert!(dns1123_subdomain(&"a".repeat(254)).unwrap_err().contains("at most 253"));
    }

    #[test]
    fn label_keys() {
        for ok in ["region", "kubefed.io/host", "a.b/C_d-e.f", "Tier", &"a".repeat(63)] {
            assert_eq!(label_key(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "must not be empty"),
            ("/a", "prefix before '/'"),
            ("a/", "name part must not be empty"),
            ("Bad_Prefix/a", "prefix \"Bad_Prefix\""),
            ("a b", "alphanumeric"),
            ("-a", "alphanumeric"),
            ("a/b/c", "alphanumeric"),
        ] {
            let err = label_key(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn label_values() {
        for ok in ["", "eu", "Eu_1.x-y", &"v".repeat(63)] {
            assert_eq!(label_value(ok), Ok(()), "{ok}");
        }
        for bad in ["-eu", "eu-", "e u", "a/b", "=x", &"v".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }
}
