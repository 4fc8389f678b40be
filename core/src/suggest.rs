//! Message helpers: "did you mean …?" suggestions for mistyped names, and what a JSON value is.

/// The candidate closest to `name` by Levenshtein distance, when it is close enough to be a
/// plausible typo: distance at most `max(1, len(name) / 3)`. Ties go to the first candidate;
/// `name` itself is never suggested.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean "x"?` when a candidate is close to `name` (see [`nearest`]), else empty:
/// the suffix every "unknown name" message ends with.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suffix(nearest(name, candidates))
}

/// `; did you mean "x"?` for an already chosen suggestion, else empty.
pub fn suffix(suggestion: Option<&str>) -> String {
    suggestion.map(|s| format!("; did you mean {s:?}?")).unwrap_or_default()
}

/// What a JSON value is, for messages: `null`, `a boolean`, `a number`, `a string`, `an array`
/// or `an object`.
pub fn json_type(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        let joined = ["earth", "kronos", "vulcan"];
        let cases = [
            ("vulcn", Some("vulcan")),
            ("Earth", Some("earth")),
            ("kronoz", Some("kronos")),
            ("mars", None),
            ("ea", None),
            ("earth", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(nearest(name, joined), want, "{name:?}");
        }
        assert_eq!(nearest("ab", ["ac", "ab2"]), Some("ac"), "ties go to the first candidate");
        assert_eq!(nearest("x", []), None);
    }

    #[test]
    fn the_suffix_names_the_nearest_candidate_or_nothing() {
        assert_eq!(did_you_mean("vulcn", ["earth", "vulcan"]), "; did you mean \"vulcan\"?");
        assert_eq!(did_you_mean("mars", ["earth", "vulcan"]), "");
        assert_eq!(suffix(None), "");
    }
}
