//! "Did you mean …?" suggestions for mistyped names.

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
}
