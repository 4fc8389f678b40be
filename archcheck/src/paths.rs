//! The paths a module's code names, resolved to paths from the crate root.

use std::collections::{BTreeMap, BTreeSet};

/// Every path the tokens of `module` name that starts at `crate::`, `super::`, `self::`, at one
/// of the module's `children` (`child::Item`, as `use` and expressions allow) or at a module the
/// file imported (`use crate::cmd;` then `cmd::completion::X`), as a path from the crate root.
/// A `use` group (`crate::a::{b, c::D}`) gives one path per leaf. `is_module` tells modules
/// from items.
pub fn referenced(
    tokens: &[String],
    module: &[String],
    children: &BTreeSet<&str>,
    is_module: impl Fn(&[String]) -> bool,
) -> Vec<Vec<String>> {
    let mut anchors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in ["crate", "super", "self"].into_iter().chain(children.iter().copied()) {
        anchors.insert(name.to_string(), vec![name.to_string()]);
    }
    let direct = anchored(tokens, module, &anchors);
    // A `use` leaf naming a module makes its last segment an anchor for the rest of the file.
    for path in &direct {
        if let Some(last) = path.last().filter(|_| is_module(path)) {
            let mut absolute = vec!["crate".to_string()];
            absolute.extend(path.iter().cloned());
            anchors.entry(last.clone()).or_insert(absolute);
        }
    }
    anchored(tokens, module, &anchors)
}

/// The paths that start at one of `anchors` (a first segment and what it stands for), resolved.
fn anchored(tokens: &[String], module: &[String], anchors: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = i == 0 || tokens[i - 1] != "::";
        let anchor = anchors.get(tokens[i].as_str()).filter(|_| starts_path);
        if let Some(anchor) = anchor.filter(|_| tokens.get(i + 1).is_some_and(|t| t == "::")) {
            let mut leaves = Vec::new();
            i = tree(tokens, i + 2, anchor.clone(), &mut leaves);
            found.extend(leaves.into_iter().filter_map(|leaf| resolve(module, &leaf)));
        } else {
            i += 1;
        }
    }
    found
}

/// Reads the path (or `use` tree) at `i` into `leaves`, each prefixed by `prefix`; returns the
/// index after it.
fn tree(tokens: &[String], mut i: usize, mut prefix: Vec<String>, leaves: &mut Vec<Vec<String>>) -> usize {
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while tokens.get(i).is_some_and(|t| t != "}") {
                    i = tree(tokens, i, prefix.clone(), leaves);
                    if tokens.get(i).is_some_and(|t| t == ",") {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some(segment) if segment.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                prefix.push(segment.to_string());
                i += 1;
                if tokens.get(i).is_some_and(|t| t == "::") {
                    i += 1;
                    continue;
                }
                leaves.push(prefix);
                return i;
            }
            Some("*") => {
                leaves.push(prefix);
                return i + 1;
            }
            _ => {
                leaves.push(prefix);
                return i;
            }
        }
    }
}

/// `path` as written in `module` (`crate::`, `super::`, `self::` or a child's name first), from
/// the crate root; `None` when `super` climbs above the root.
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut resolved: Vec<String> = module.to_vec();
    for (n, segment) in path.iter().enumerate() {
        match segment.as_str() {
            "crate" if n == 0 => resolved.clear(),
            "super" => {
                resolved.pop()?;
            }
            "self" => {}
            other => resolved.push(other.to_string()),
        }
    }
    Some(resolved)
}
