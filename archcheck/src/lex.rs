//! Source text to tokens: comments, string and character literals dropped, test code cut out.

/// The code of one file as far as references go.
#[derive(Debug, Default, PartialEq)]
pub struct Code {
    /// Identifiers, `::` and single punctuation characters, in order.
    pub tokens: Vec<String>,
    /// Modules the file declares as test code (`#[cfg(test)] mod tests;`).
    pub test_children: Vec<String>,
}

/// Lexes `text` and removes its `#[cfg(test)]` items.
pub fn strip(text: &str) -> Code {
    let tokens = tokens(&without_literals(text));
    let mut code = Code::default();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i += CFG_TEST.len();
            i = skip_test_item(&tokens, i, &mut code.test_children);
        } else {
            code.tokens.push(tokens[i].clone());
            i += 1;
        }
    }
    code
}

const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];

fn is_cfg_test(tokens: &[String]) -> bool {
    tokens.len() >= CFG_TEST.len() && tokens.iter().zip(CFG_TEST).all(|(t, want)| t == want)
}

/// Skips the item after a `#[cfg(test)]` (its other attributes too) and returns the index
/// after it; a `mod NAME;` is recorded as a test module.
fn skip_test_item(tokens: &[String], mut i: usize, test_children: &mut Vec<String>) -> usize {
    while tokens.get(i).is_some_and(|t| t == "#") {
        i = after_group(tokens, i + 1);
    }
    let mut j = i;
    if tokens.get(j).is_some_and(|t| t == "pub") {
        j += 1;
        if tokens.get(j).is_some_and(|t| t == "(") {
            j = after_group(tokens, j);
        }
    }
    if tokens.get(j).is_some_and(|t| t == "mod") && tokens.get(j + 2).is_some_and(|t| t == ";") {
        test_children.push(tokens[j + 1].clone());
        return j + 3;
    }
    let mut depth = 0usize;
    while let Some(t) = tokens.get(i) {
        i += 1;
        match t.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" => depth = depth.saturating_sub(1),
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            ";" if depth == 0 => return i,
            _ => {}
        }
    }
    i
}

/// The index after the bracketed group that opens at `i` (`(`, `[` or `{`).
fn after_group(tokens: &[String], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(t) = tokens.get(i) {
        i += 1;
        match t.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    i
}

/// Identifiers (and numbers), `::`, and every other non-space character on its own.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_string());
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// `text` with comments removed and string and character literals emptied.
pub fn without_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_ident = i > 0 && ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = after_block_comment(&chars, i);
            out.push(' ');
        } else if c == '"' {
            i = after_string(&chars, i + 1);
            out.push_str("\"\"");
        } else if c == 'r' && !after_ident && matches!(next, Some('"' | '#')) && raw_string_at(&chars, i + 1) {
            i = after_raw_string(&chars, i + 1);
            out.push_str("\"\"");
        } else if c == '\'' && char_literal_len(&chars, i) > 0 {
            i += char_literal_len(&chars, i);
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn after_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// The index after the closing quote of a string whose contents start at `i`.
fn after_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// True when `#`s and then a quote start at `i` (the part of a raw string after `r`).
fn raw_string_at(chars: &[char], mut i: usize) -> bool {
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    chars.get(i) == Some(&'"')
}

/// The index after a raw string whose `#`s start at `i`.
fn after_raw_string(chars: &[char], mut i: usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// The length of the character literal at `i` (`'x'`, `'\n'`, `'\u{1F600}'`), or 0 for a
/// lifetime.
fn char_literal_len(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => {
            chars.get(i + 3..).and_then(|rest| rest.iter().position(|&c| c == '\'')).map_or(0, |p| p + 4)
        }
        (Some(_), Some('\'')) => 3,
        _ => 0,
    }
}
