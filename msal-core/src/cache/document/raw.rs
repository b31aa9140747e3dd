//! JSON as Python's `json` module reads it, kept as text.
//!
//! MSAL Python writes its cache with `json.dumps(cache, indent=4)` and reads it with
//! `json.loads`, which accept more than RFC 8259: the constants `NaN`, `Infinity` and
//! `-Infinity`, `\uXXXX` escapes of lone surrogates, numbers of any size, and nesting as deep as
//! the interpreter's recursion limit (see the `json` module documentation, "Standard
//! Compliance and Interoperability"). Content this library does not interpret is therefore kept
//! as its original text ([`RawJson`]), validated by the grammar below but never converted to
//! numbers or strings: nothing drifts when it is written back.
//!
//! Nesting is limited to [`MAX_DEPTH`] levels counted from the document's top-level object
//! (Python 3.11 with its default recursion limit of 1000 reads about 994), so that reading and
//! writing stay linear in the size of the input.

use std::fmt;

use indexmap::IndexMap;

/// How deeply arrays and objects may nest in a cache document, the top-level object being
/// level 1. Python's `json` cannot read much deeper either.
pub(crate) const MAX_DEPTH: usize = 1000;

/// Values nested deeper than this (below the member that holds them) are written with the
/// whitespace they were read with, instead of being laid out as `json.dumps(indent=4)` would:
/// that layout grows with the square of the depth. Python writes such values in its own layout,
/// which is then kept as it is.
const RELAYOUT_DEPTH: usize = 16;

/// What is wrong with a text, at a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Not JSON as Python reads it.
    Syntax(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep(usize),
}

/// The text of one JSON value, exactly as it was read (Python's grammar, at most
/// [`MAX_DEPTH`] deep).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RawJson(Box<str>);

impl RawJson {
    /// The text of a value known to be valid (a slice the lexer accepted, or serde_json's
    /// output).
    pub(crate) fn new(text: &str) -> RawJson {
        RawJson(text.into())
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Unknown content may be anything; only its size is shown.
        write!(f, "RawJson({} bytes)", self.0.len())
    }
}

/// Unknown members of an object, keyed by their names as Python's `json.dumps` writes them
/// (the contents of the quotes, escaped with `ensure_ascii`), in the order they were read. A
/// repeated name keeps its first place and takes the last value, as in a Python dict.
pub(crate) type RawMembers = IndexMap<String, RawJson, foldhash::fast::RandomState>;

/// A position in a text being read.
pub(crate) struct Lex<'a> {
    pub(crate) s: &'a str,
    pub(crate) i: usize,
}

impl<'a> Lex<'a> {
    pub(crate) fn new(s: &'a str) -> Lex<'a> {
        Lex { s, i: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// The next byte, not consumed.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// Skips whitespace (the four characters JSON and Python allow).
    pub(crate) fn ws(&mut self) {
        let b = self.bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(self.i) {
            self.i += 1;
        }
    }

    /// Skips whitespace and `c`, which must come next.
    pub(crate) fn expect(&mut self, c: u8) -> Result<(), Bad> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bad::Syntax(self.i))
        }
    }

    /// The text from `start` to the current position.
    pub(crate) fn since(&self, start: usize) -> &'a str {
        self.s.get(start..self.i).unwrap_or("")
    }

    /// A string (after whitespace): returns its body, between the quotes, still escaped.
    /// Control characters are refused, as Python's `json` does by default (`strict`).
    pub(crate) fn string(&mut self) -> Result<&'a str, Bad> {
        self.ws();
        let b = self.bytes();
        if b.get(self.i) != Some(&b'"') {
            return Err(Bad::Syntax(self.i));
        }
        let start = self.i + 1;
        let mut at = start;
        loop {
            let rest = b.get(at..).ok_or(Bad::Syntax(at))?;
            let Some(n) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(Bad::Syntax(b.len()));
            };
            let run = rest.get(..n).unwrap_or_default();
            if run.iter().fold(false, |control, c| control | (*c < 0x20)) {
                return Err(Bad::Syntax(at));
            }
            at += n;
            if b.get(at) == Some(&b'"') {
                self.i = at + 1;
                return Ok(self.s.get(start..at).unwrap_or(""));
            }
            // An escape sequence.
            match b.get(at + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
                Some(b'u') => {
                    let hex = b.get(at + 2..at + 6).ok_or(Bad::Syntax(at))?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Bad::Syntax(at));
                    }
                    at += 6;
                }
                _ => return Err(Bad::Syntax(at)),
            }
        }
    }

    /// A literal word, which must come next.
    fn word(&mut self, w: &str) -> Result<(), Bad> {
        if self
            .bytes()
            .get(self.i..)
            .is_some_and(|r| r.starts_with(w.as_bytes()))
        {
            self.i += w.len();
            Ok(())
        } else {
            Err(Bad::Syntax(self.i))
        }
    }

    fn digits(&mut self) -> usize {
        let b = self.bytes();
        let start = self.i;
        while b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, of any size.
    fn number(&mut self) -> Result<(), Bad> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Bad::Syntax(self.i)),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Bad::Syntax(self.i));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Bad::Syntax(self.i));
            }
        }
        Ok(())
    }

    /// A scalar (after whitespace): a string, a number, `true`, `false`, `null`, `NaN`,
    /// `Infinity` or `-Infinity`. Returns false, consuming nothing, at `{` or `[`.
    fn scalar(&mut self) -> Result<bool, Bad> {
        self.ws();
        match self.peek() {
            Some(b'{' | b'[') => Ok(false),
            Some(b'"') => self.string().map(|_| true),
            Some(b't') => self.word("true").map(|()| true),
            Some(b'f') => self.word("false").map(|()| true),
            Some(b'n') => self.word("null").map(|()| true),
            Some(b'N') => self.word("NaN").map(|()| true),
            Some(b'I') => self.word("Infinity").map(|()| true),
            Some(b'-') if self.s.get(self.i..).is_some_and(|r| r.starts_with("-I")) => {
                self.word("-Infinity").map(|()| true)
            }
            _ => self.number().map(|()| true),
        }
    }

    /// Skips one value (after whitespace) whose outermost array or object, if any, is at
    /// nesting `level`; returns its text. Iterative: the depth of the input never reaches the
    /// stack.
    pub(crate) fn value(&mut self, level: usize) -> Result<&'a str, Bad> {
        self.ws();
        let start = self.i;
        // The closing brackets of the open arrays and objects.
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value is expected here.
            if !self.scalar()? {
                let (c, close) = match self.peek() {
                    Some(b'{') => (b'{', b'}'),
                    _ => (b'[', b']'),
                };
                if level.saturating_add(open.len()) > MAX_DEPTH {
                    return Err(Bad::TooDeep(self.i));
                }
                self.i += 1;
                self.ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                } else {
                    open.push(close);
                    if c == b'{' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    continue;
                }
            }
            // After a value: close what ends here, then a comma or the end.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(self.since(start));
                };
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if close == b'}' {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        break;
                    }
                    Some(c) if c == close => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return Err(Bad::Syntax(self.i)),
                }
            }
        }
    }
}

/// The characters of a string body (as [`Lex::string`] accepted it), `None` when it holds an
/// escaped lone surrogate, which a Rust string cannot.
pub(crate) fn decode(body: &str) -> Option<String> {
    if !body.contains('\\') {
        return Some(body.to_owned());
    }
    let mut out = String::with_capacity(body.len());
    let mut units = Vec::new();
    let mut rest = body;
    while let Some(n) = rest.find('\\') {
        out.push_str(rest.get(..n)?);
        rest = rest.get(n..)?;
        // A run of escapes, decoded as UTF-16 so that pairs of surrogates combine.
        units.clear();
        while let Some(tail) = rest.strip_prefix('\\') {
            let (unit, len) = unit(tail)?;
            units.push(unit);
            rest = tail.get(len..)?;
        }
        for c in char::decode_utf16(units.iter().copied()) {
            out.push(c.ok()?);
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The UTF-16 unit of an escape sequence (`tail` follows the backslash) and its length.
fn unit(tail: &str) -> Option<(u16, usize)> {
    let c = *tail.as_bytes().first()?;
    Some(match c {
        b'"' => (0x22, 1),
        b'\\' => (0x5c, 1),
        b'/' => (0x2f, 1),
        b'b' => (0x08, 1),
        b'f' => (0x0c, 1),
        b'n' => (0x0a, 1),
        b'r' => (0x0d, 1),
        b't' => (0x09, 1),
        b'u' => (u16::from_str_radix(tail.get(1..5)?, 16).ok()?, 5),
        _ => return None,
    })
}

/// Appends a string body (as [`Lex::string`] accepted it) as Python's `json.dumps` writes the
/// string it decodes to (`ensure_ascii`): the same text for the same characters, lone
/// surrogates included.
pub(crate) fn canonical(body: &str, out: &mut String) {
    let mut rest = body;
    while let Some(n) = rest.find('\\') {
        super::escape_into(rest.get(..n).unwrap_or(""), out);
        let tail = rest.get(n + 1..).unwrap_or("");
        let Some((u, len)) = unit(tail) else {
            // Not reached for a body the lexer accepted.
            return;
        };
        push_unit(u, out);
        rest = tail.get(len..).unwrap_or("");
    }
    super::escape_into(rest, out);
}

/// One UTF-16 unit as `json.dumps` writes it.
fn push_unit(u: u16, out: &mut String) {
    match u {
        0x22 => out.push_str("\\\""),
        0x5c => out.push_str("\\\\"),
        0x0a => out.push_str("\\n"),
        0x0d => out.push_str("\\r"),
        0x09 => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        0x20..=0x7e => out.push(char::from(u as u8)),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(char::from(HEX[usize::from((u >> shift) & 0xf)]));
            }
        }
    }
}

/// The canonical form of a name: how `json.dumps` writes it, without the quotes.
pub(crate) fn canonical_name(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    canonical(body, &mut out);
    out
}

/// The canonical form of a name given as text.
pub(crate) fn canonical_name_of_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    super::escape_into(text, &mut out);
    out
}

/// Appends `raw` (a value [`Lex::value`] accepted, or serde_json's output) as the value of a
/// member at `depth`: laid out as `json.dumps(indent=4)` lays it out, strings written as it
/// writes them, numbers and constants exactly as they were read. A value nested deeper than
/// [`RELAYOUT_DEPTH`] keeps its own whitespace instead (Python's output is then unchanged).
/// Either way the output is linear in the size of `raw`, and writing what was written gives
/// the same text again.
pub(crate) fn write(raw: &str, depth: usize, out: &mut String) {
    let start = out.len();
    if !relayout(raw, depth, out) {
        out.truncate(start);
        verbatim(raw, out);
    }
}

fn newline(depth: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("    ");
    }
}

/// The end of the string whose body starts at `from` in `b` (the index of the closing quote).
fn string_end(b: &[u8], mut from: usize) -> usize {
    loop {
        match b.get(from..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
            Some(n) if b.get(from + n) == Some(&b'"') => return from + n,
            Some(n) => from += n + 2,
            None => return b.len(),
        }
    }
}

/// One string of `raw` starting at the quote at `i`, written canonically; returns the index
/// after its closing quote.
fn copy_string(raw: &str, i: usize, out: &mut String) -> usize {
    let end = string_end(raw.as_bytes(), i + 1);
    out.push('"');
    canonical(raw.get(i + 1..end).unwrap_or(""), out);
    out.push('"');
    end + 1
}

fn relayout(raw: &str, base: usize, out: &mut String) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    let mut nest = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let mut j = i + 1;
                while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(j) {
                    j += 1;
                }
                if b.get(j) == Some(&close) {
                    out.push(char::from(c));
                    out.push(char::from(close));
                    i = j + 1;
                } else {
                    nest += 1;
                    if nest > RELAYOUT_DEPTH {
                        return false;
                    }
                    out.push(char::from(c));
                    newline(base + nest, out);
                    i += 1;
                }
            }
            b'}' | b']' => {
                nest = nest.saturating_sub(1);
                newline(base + nest, out);
                out.push(char::from(c));
                i += 1;
            }
            b',' => {
                out.push(',');
                newline(base + nest, out);
                i += 1;
            }
            b':' => {
                out.push_str(": ");
                i += 1;
            }
            b'"' => i = copy_string(raw, i, out),
            _ => {
                // A number or a constant: ASCII up to the next delimiter, copied as it is.
                let start = i;
                while b.get(i).is_some_and(|c| !b" \t\n\r,:]}[{\"".contains(c)) {
                    i += 1;
                }
                out.push_str(raw.get(start..i).unwrap_or(""));
            }
        }
    }
    true
}

/// `raw` with its own whitespace, strings written canonically.
fn verbatim(raw: &str, out: &mut String) {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let n = memchr::memchr(b'"', b.get(i..).unwrap_or_default()).unwrap_or(b.len() - i);
        out.push_str(raw.get(i..i + n).unwrap_or(""));
        i += n;
        if i < b.len() {
            i = copy_string(raw, i, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(s: &str) -> Result<&str, Bad> {
        let mut l = Lex::new(s);
        let v = l.value(1)?;
        l.ws();
        if l.i == s.len() {
            Ok(v)
        } else {
            Err(Bad::Syntax(l.i))
        }
    }

    #[test]
    fn python_grammar() {
        for ok in [
            "NaN",
            "-Infinity",
            " Infinity ",
            "[NaN, 1E400, -0, 0.5e-3, 123456789012345678901234567890]",
            r#""\ud800\uDC00\ud800x\/""#,
            r#"{"a": {"b": [], "c": {}}, "a": 1}"#,
        ] {
            assert!(skip(ok).is_ok(), "{ok}");
        }
        for bad in [
            "nan",
            "-NaN",
            "+1",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "[1,]",
            "{,}",
            r#"{"a" 1}"#,
            r#""\x""#,
            r#""\u12""#,
            "\"a\u{1}\"",
            "[1 2]",
            "{1: 2}",
            "'a'",
            "[",
            "]",
            "",
        ] {
            assert!(skip(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(skip(&deep(MAX_DEPTH)).is_ok());
        assert!(matches!(skip(&deep(MAX_DEPTH + 1)), Err(Bad::TooDeep(_))));
        assert!(matches!(skip(&deep(100_000)), Err(Bad::TooDeep(_))));
    }

    #[test]
    fn strings_decode_and_canonicalise_like_python() {
        assert_eq!(decode(r"a\u00e9\ud83d\ude00\/").as_deref(), Some("aé😀/"));
        assert_eq!(decode(r"\ud800"), None);
        assert_eq!(decode(r"\udc00\ud800"), None);
        // What `json.dumps(json.loads(s))` writes (checked against CPython 3.11).
        assert_eq!(
            canonical_name(r"\ud800\uDC00é\/\u0041"),
            r"\ud800\udc00\u00e9/A"
        );
        assert_eq!(canonical_name("😀\u{7f}\t"), r"\ud83d\ude00\u007f\t");
    }

    #[test]
    fn layout_is_pythons_and_stable() {
        let mut out = String::new();
        write(r#"{"a":[1.50e3,NaN,{}],"b":"\u00E9"}"#, 1, &mut out);
        assert_eq!(
            out,
            "{\n        \"a\": [\n            1.50e3,\n            NaN,\n            {}\n        ],\n        \"b\": \"\\u00e9\"\n    }"
        );
        let mut again = String::new();
        write(&out, 1, &mut again);
        assert_eq!(again, out);
        // Deeper than the re-layout depth: the value's own whitespace.
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let mut out = String::new();
        write(&deep, 3, &mut out);
        assert_eq!(out, deep);
    }
}
