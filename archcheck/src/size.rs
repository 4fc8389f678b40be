//! How big a file's code and its functions are, test code left out: the limits
//! `tests/workspace.rs` holds the crates to.

use crate::lex::without_literals;

/// The longest a function may be, in lines from `fn` to its closing brace.
pub const MAX_FN_LINES: usize = 80;
/// The most lines of code (not blank, not comments) a file may hold outside its tests.
pub const MAX_FILE_LINES: usize = 500;

/// The size of one file's code.
#[derive(Debug, PartialEq)]
pub struct Size {
    /// Lines that hold code, outside `#[cfg(test)]` items.
    pub code_lines: usize,
    /// Each function with a body (name, lines from `fn` to its closing brace), in order.
    pub functions: Vec<(String, usize)>,
}

/// Measures `text`, a Rust source file.
pub fn measure(text: &str) -> Size {
    let code = without_test_items(&without_literals(text));
    let code_lines = code.lines().filter(|l| !l.trim().is_empty()).count();
    Size { code_lines, functions: functions(&code) }
}

/// `code` without the items that follow `#[cfg(test)]`.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        rest = &rest[at + MARK.len()..];
        rest = &rest[item_end(rest)..];
    }
    out.push_str(rest);
    out
}

/// The byte index just after the item at the start of `code`: its `;` or its closing brace,
/// whichever ends it at depth zero.
fn item_end(code: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in code.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            ';' if depth == 0 => return i + 1,
            _ => {}
        }
    }
    code.len()
}

/// Every `fn NAME … { … }` in `code` with its length in lines (declarations ending in `;`, as
/// in traits, have no body and are left out).
fn functions(code: &str) -> Vec<(String, usize)> {
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = code[i..].find("fn ").map(|p| p + i) {
        i = at + 3;
        if at > 0 && word(bytes[at - 1]) {
            continue;
        }
        let name: String = code[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        // The body opens at the first `{` outside parentheses and brackets, unless a `;` comes first.
        let mut depth = 0usize;
        let mut open = None;
        for (k, c) in code[i..].char_indices() {
            match c {
                '(' | '[' | '<' => depth += 1,
                ')' | ']' | '>' => depth = depth.saturating_sub(1),
                ';' if depth == 0 => break,
                '{' if depth == 0 => {
                    open = Some(i + k);
                    break;
                }
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let close = open + item_end(&code[open..]);
        found.push((name, code[at..close].lines().count()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_code_lines_and_functions_without_tests_and_comments() {
        let text = "//! Doc.\n\nuse x;\n\n/// A function.\nfn short() -> Vec<u8> {\n    vec![]\n}\n\ntrait T {\n    fn declared(&self);\n    fn defaulted(&self) -> u8 {\n        1\n    }\n}\n\nfn arrow(f: impl Fn() -> u8) -> u8 {\n    f()\n}\n\n#[cfg(test)]\nmod tests {\n    fn hidden() {\n    }\n}\n";
        let size = measure(text);
        assert_eq!(size.code_lines, 13);
        assert_eq!(size.functions, [("short".to_string(), 3), ("defaulted".to_string(), 3), ("arrow".to_string(), 3)]);
    }

    #[test]
    fn strings_holding_braces_do_not_end_a_function() {
        let size = measure("fn f() {\n    let s = \"}\";\n    let c = '}';\n}\n");
        assert_eq!(size.functions, [("f".to_string(), 4)]);
    }
}
