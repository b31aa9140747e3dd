//! One cache document: the parsed form of MSAL's JSON (five known sections of entries keyed
//! by cache key, unknown sections, entries and fields kept as their original text, their order
//! preserved), and its serialisation as MSAL Python's `json.dumps(cache, indent=4)` writes it.
//!
//! Reading accepts what Python's `json.loads` accepts (see [`raw`]): `NaN`, `Infinity`,
//! escaped lone surrogates and numbers of any size are kept as text wherever this library does
//! not interpret them, and an entry where it does (say `"expires_on": NaN`) is kept as it is
//! and never used, as an entry of another shape. Nesting deeper than [`raw::MAX_DEPTH`] levels
//! is refused (Python cannot read it either).
//!
//! Documents in the shape MSAL writes are read by a strict scanner ([`scan`]) straight into
//! typed entities; anything else — escape sequences, numbers where strings are expected, an
//! entry that does not fit, a repeated name, invalid JSON — is read again by the complete
//! reading here, which gives the same document whenever the scanner succeeds. Writing goes
//! straight from the entities to the text; unknown content is laid out as Python lays it out,
//! its numbers and constants copied as they were read.

use std::io;
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::ser::Formatter;
use serde_json::{Map, Value};

use super::index::{Hints, Index};
use super::schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
use crate::error::{Error, ErrorKind, Result};

pub(crate) mod raw;
mod scan;

pub(crate) use raw::RawMembers;
use raw::{Bad, Lex, RawJson};

/// The five sections of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    AccessToken,
    RefreshToken,
    IdToken,
    Account,
    AppMetadata,
}

impl Kind {
    /// Its place in per-section arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Kind::AccessToken => 0,
            Kind::RefreshToken => 1,
            Kind::IdToken => 2,
            Kind::Account => 3,
            Kind::AppMetadata => 4,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::AccessToken => "AccessToken",
            Kind::RefreshToken => "RefreshToken",
            Kind::IdToken => "IdToken",
            Kind::Account => "Account",
            Kind::AppMetadata => "AppMetadata",
        }
    }

    /// The section of a name (in its canonical, escaped form: the known names have no
    /// characters to escape).
    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "AccessToken" => Kind::AccessToken,
            "RefreshToken" => Kind::RefreshToken,
            "IdToken" => Kind::IdToken,
            "Account" => Kind::Account,
            "AppMetadata" => Kind::AppMetadata,
            _ => return None,
        })
    }
}

/// One entry of a section: an entity, or a value that does not fit the schema, kept as text.
///
/// An entity read from a document that the writer would not write back exactly as it was
/// read — fields in another order, `""` for an absent id, `null` for an absent optional field,
/// a missing field, a timestamp written as a number — also keeps the text it was read from,
/// and is written back as that text for as long as it is not replaced: saving never changes
/// an entry this library did not mean to change (MSAL Python writes back the dictionary it
/// read, msal/token_cache.py). Entries in the shape the writer produces keep no text.
#[derive(Debug, Clone)]
pub(crate) enum Entry<T> {
    Known(Arc<T>, Option<RawJson>),
    Opaque(RawJson),
}

impl<T> Entry<T> {
    pub(crate) fn known(&self) -> Option<&Arc<T>> {
        match self {
            Entry::Known(t, _) => Some(t),
            Entry::Opaque(_) => None,
        }
    }

    /// The entity, when the entry holds one.
    pub(crate) fn into_known(self) -> Option<Arc<T>> {
        match self {
            Entry::Known(t, _) => Some(t),
            Entry::Opaque(_) => None,
        }
    }
}

/// How a document writes an absent `home_account_id`, per section: MSAL Python writes `null`
/// (and does not find app tokens written with `""`), MSAL Node writes `""` (and does not find
/// app tokens written with `null`). Counted while reading, so that new entries follow the
/// dialect the document already uses for their section (MSAL Python's where it uses none).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AbsentIds {
    /// Entries read with `"home_account_id": ""`.
    pub(crate) empty: u32,
    /// Entries read with `"home_account_id": null`.
    pub(crate) null: u32,
}

impl AbsentIds {
    /// Counts one entry's absent id: `Some(true)` for `""`, `Some(false)` for `null`.
    pub(crate) fn count(&mut self, empty: Option<bool>) {
        match empty {
            Some(true) => self.empty = self.empty.saturating_add(1),
            Some(false) => self.null = self.null.saturating_add(1),
            None => {}
        }
    }

    /// True when new entries write an absent id as `""`.
    fn writes_empty(self) -> bool {
        self.empty > self.null
    }

    fn add(&mut self, other: AbsentIds) {
        self.empty = self.empty.saturating_add(other.empty);
        self.null = self.null.saturating_add(other.null);
    }
}

pub(crate) type Entries<T> = IndexMap<String, Entry<T>, foldhash::fast::RandomState>;

/// An unknown top-level section: its text, and its JSON tree once asked for (only the
/// library's own bookkeeping section is ever read).
#[derive(Debug, Clone)]
pub(crate) struct Unknown {
    raw: RawJson,
    tree: OnceLock<Option<Value>>,
}

impl Unknown {
    fn new(raw: RawJson) -> Unknown {
        Unknown {
            raw,
            tree: OnceLock::new(),
        }
    }
}

/// A top-level member of the file.
#[derive(Debug, Clone)]
enum Section {
    Known(Kind),
    Unknown(Unknown),
}

/// The top-level members in file order, by name (canonical, as written): a repeated name keeps
/// its first place, as in a Python dict, and every lookup is constant time.
type Layout = IndexMap<String, Section, foldhash::fast::RandomState>;

/// The contents of one cache document.
#[derive(Debug, Default, Clone)]
pub(crate) struct Document {
    pub(crate) access_tokens: Entries<AccessTokenEntity>,
    pub(crate) refresh_tokens: Entries<RefreshTokenEntity>,
    pub(crate) id_tokens: Entries<IdTokenEntity>,
    pub(crate) accounts: Entries<AccountEntity>,
    pub(crate) app_metadata: Entries<AppMetadataEntity>,
    /// The top-level order: known sections (once present) and unknown ones.
    layout: Layout,
    /// How the document writes absent home account ids, by section (indexed by [`Kind`]).
    pub(crate) absent_ids: [AbsentIds; 5],
}

/// An entity type and the section that holds it.
pub(crate) trait Entity: Sized {
    const KIND: Kind;
    /// The members its serde derive reads (every other one is unknown).
    const FIELDS: &'static [&'static str];
    fn section(doc: &mut Document) -> &mut Entries<Self>;
    /// Where its unknown members are kept.
    fn unknown_fields(&mut self) -> &mut RawMembers;
}

macro_rules! impl_entity {
    ($t:ty, $kind:ident, $field:ident, [$($name:literal),* $(,)?]) => {
        impl Entity for $t {
            const KIND: Kind = Kind::$kind;
            const FIELDS: &'static [&'static str] = &[$($name),*];
            fn section(doc: &mut Document) -> &mut Entries<Self> {
                &mut doc.$field
            }
            fn unknown_fields(&mut self) -> &mut RawMembers {
                &mut self.raw_extra
            }
        }
    };
}

impl_entity!(
    AccessTokenEntity,
    AccessToken,
    access_tokens,
    [
        "credential_type",
        "secret",
        "home_account_id",
        "environment",
        "client_id",
        "target",
        "realm",
        "token_type",
        "cached_at",
        "expires_on",
        "extended_expires_on",
        "key_id",
        "ext_cache_key",
        "refresh_on",
        "user_assertion_hash",
    ]
);
impl_entity!(
    RefreshTokenEntity,
    RefreshToken,
    refresh_tokens,
    [
        "credential_type",
        "secret",
        "home_account_id",
        "environment",
        "client_id",
        "target",
        "last_modification_time",
        "family_id",
        "user_assertion_hash",
    ]
);
impl_entity!(
    IdTokenEntity,
    IdToken,
    id_tokens,
    [
        "credential_type",
        "secret",
        "home_account_id",
        "environment",
        "realm",
        "client_id",
    ]
);
impl_entity!(
    AccountEntity,
    Account,
    accounts,
    [
        "home_account_id",
        "environment",
        "realm",
        "local_account_id",
        "username",
        "authority_type",
        "account_source",
    ]
);
impl_entity!(
    AppMetadataEntity,
    AppMetadata,
    app_metadata,
    ["client_id", "environment", "family_id"]
);

/// A cache error about the text at byte `at`, with its line and column (never the text
/// itself, which may hold tokens).
fn syntax_error(json: &str, bad: Bad) -> Error {
    match bad {
        Bad::TooDeep(_) => Error::new(
            ErrorKind::Cache,
            format!(
                "the token cache nests arrays and objects deeper than {} levels",
                raw::MAX_DEPTH
            ),
        ),
        Bad::Syntax(at) => {
            let before = json.as_bytes().get(..at).unwrap_or(json.as_bytes());
            let line = 1 + memchr::memchr_iter(b'\n', before).count();
            let column = 1 + before
                .iter()
                .rev()
                .take_while(|c| **c != b'\n')
                .filter(|c| (**c & 0xc0) != 0x80)
                .count();
            Error::new(
                ErrorKind::Cache,
                format!("the token cache is not valid JSON (line {line}, column {column})"),
            )
        }
    }
}

impl Document {
    /// Documents `entity` under `key`; an existing key keeps its position, as in a Python dict.
    pub(crate) fn put<T: Entity>(&mut self, key: String, entity: Arc<T>) {
        self.mark(T::KIND);
        T::section(self).insert(key, Entry::Known(entity, None));
    }

    /// Makes sure the section of `kind` is part of the layout.
    fn mark(&mut self, kind: Kind) {
        if !self.layout.contains_key(kind.name()) {
            self.layout
                .insert(kind.name().to_owned(), Section::Known(kind));
        }
    }

    /// True when the top-level name (canonical) was read already.
    fn has_name(&self, name: &str) -> bool {
        self.layout.contains_key(name)
    }

    pub(crate) fn parse(json: &str) -> Result<Document> {
        if json.trim().is_empty() {
            return Ok(Document::default());
        }
        if let Some(doc) = scan::read(json, None) {
            return Ok(doc);
        }
        Document::parse_complete(json)
    }

    /// [`parse`](Self::parse) for indexing in `index`: also returns the index hints computed
    /// while reading, when the fastest reading took it.
    pub(crate) fn parse_for_index(json: &str, index: &Index) -> Result<(Document, Option<Hints>)> {
        if json.trim().is_empty() {
            return Ok((Document::default(), None));
        }
        let mut sink = scan::HintSink {
            index,
            hints: Hints::default(),
        };
        if let Some(doc) = scan::read(json, Some(&mut sink)) {
            return Ok((doc, Some(sink.hints)));
        }
        Ok((Document::parse_complete(json)?, None))
    }

    /// [`parse_for_index`](Self::parse_for_index) of MSAL-format bytes (UTF-8 JSON).
    pub(crate) fn parse_bytes_for_index(
        bytes: &[u8],
        index: &Index,
    ) -> Result<(Document, Option<Hints>)> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::new(ErrorKind::Cache, "the token cache is not UTF-8"))?;
        Document::parse_for_index(text, index)
    }

    /// The complete reading: Python's grammar, every entry typed if it fits and kept as text
    /// otherwise, every unknown member kept as text. One pass, linear in the input.
    fn parse_complete(json: &str) -> Result<Document> {
        let mut lex = Lex::new(json);
        lex.ws();
        if lex.peek() != Some(b'{') {
            // Valid JSON of another type, or not JSON.
            lex.value(1).map_err(|bad| syntax_error(json, bad))?;
            lex.ws();
            if lex.i != json.len() {
                return Err(syntax_error(json, Bad::Syntax(lex.i)));
            }
            return Err(Error::new(
                ErrorKind::Cache,
                "the token cache is not a JSON object",
            ));
        }
        let mut doc = Document::default();
        doc.read_members(&mut lex).map_err(|e| e.into_error(json))?;
        lex.ws();
        if lex.i != json.len() {
            return Err(syntax_error(json, Bad::Syntax(lex.i)));
        }
        Ok(doc)
    }

    /// Reads the top-level object, the lexer at its `{`.
    fn read_members(&mut self, lex: &mut Lex<'_>) -> std::result::Result<(), ReadError> {
        lex.expect(b'{')?;
        lex.ws();
        if lex.peek() == Some(b'}') {
            lex.i += 1;
            return Ok(());
        }
        loop {
            let name = raw::canonical_name(lex.string()?);
            lex.expect(b':')?;
            match Kind::from_name(&name) {
                Some(kind) => {
                    lex.ws();
                    if lex.peek() != Some(b'{') {
                        // Python reads it, but MSAL Python could not use it either.
                        lex.value(2)?;
                        return Err(ReadError::NotObject(kind));
                    }
                    match kind {
                        Kind::AccessToken => self.read_section::<AccessTokenEntity>(lex)?,
                        Kind::RefreshToken => self.read_section::<RefreshTokenEntity>(lex)?,
                        Kind::IdToken => self.read_section::<IdTokenEntity>(lex)?,
                        Kind::Account => self.read_section::<AccountEntity>(lex)?,
                        Kind::AppMetadata => self.read_section::<AppMetadataEntity>(lex)?,
                    }
                }
                None => {
                    let value = RawJson::new(lex.value(2)?);
                    // A repeated name keeps its first place and takes the last value.
                    self.layout
                        .insert(name, Section::Unknown(Unknown::new(value)));
                }
            }
            lex.ws();
            match lex.peek() {
                Some(b',') => lex.i += 1,
                Some(b'}') => {
                    lex.i += 1;
                    return Ok(());
                }
                _ => return Err(Bad::Syntax(lex.i).into()),
            }
        }
    }

    /// Reads one known section, the lexer at its `{`. A section named again replaces the
    /// entries read before, as in Python.
    fn read_section<T>(&mut self, lex: &mut Lex<'_>) -> std::result::Result<(), ReadError>
    where
        T: Entity + WriteJson + for<'de> Deserialize<'de>,
    {
        self.mark(T::KIND);
        let mut absent = AbsentIds::default();
        let section = T::section(self);
        section.clear();
        lex.expect(b'{')?;
        lex.ws();
        if lex.peek() == Some(b'}') {
            lex.i += 1;
            return Ok(());
        }
        loop {
            let key = raw::decode(lex.string()?).ok_or(ReadError::Key(T::KIND))?;
            lex.expect(b':')?;
            lex.ws();
            let start = lex.i;
            let entity = read_entity::<T>(lex)?;
            let entry = match entity {
                Some(Read {
                    entity,
                    repeated,
                    absent_id,
                }) => {
                    absent.count(absent_id);
                    // Written back as read, unless a repeated member makes the text say
                    // more than Python's dictionary would (the writer then writes the
                    // dictionary), or the writer gives back the same text anyway.
                    let text = lex.since(start);
                    let keep = !repeated && Writer::differs(&entity, text);
                    Entry::Known(Arc::new(entity), keep.then(|| RawJson::new(text)))
                }
                None => Entry::Opaque(RawJson::new(lex.since(start))),
            };
            // A repeated key keeps its first place and takes the last value, as in Python.
            section.insert(key, entry);
            lex.ws();
            match lex.peek() {
                Some(b',') => lex.i += 1,
                Some(b'}') => {
                    lex.i += 1;
                    self.absent_ids[T::KIND.index()].add(absent);
                    return Ok(());
                }
                _ => return Err(Bad::Syntax(lex.i).into()),
            }
        }
    }
}

/// Why the complete reading failed.
enum ReadError {
    Bad(Bad),
    NotObject(Kind),
    /// A key of a known section that a Rust string cannot hold (an escaped lone surrogate).
    Key(Kind),
}

impl From<Bad> for ReadError {
    fn from(b: Bad) -> ReadError {
        ReadError::Bad(b)
    }
}

impl ReadError {
    fn into_error(self, json: &str) -> Error {
        match self {
            ReadError::Bad(bad) => syntax_error(json, bad),
            ReadError::NotObject(kind) => Error::new(
                ErrorKind::Cache,
                format!(
                    "the token cache section {} is not a JSON object",
                    kind.name()
                ),
            ),
            ReadError::Key(kind) => Error::new(
                ErrorKind::Cache,
                format!(
                    "a key of the token cache section {} holds a lone surrogate",
                    kind.name()
                ),
            ),
        }
    }
}

/// An entity the complete reading read.
struct Read<T> {
    entity: T,
    /// A member name occurs more than once.
    repeated: bool,
    /// `Some(true)` for `"home_account_id": ""`, `Some(false)` for `null`.
    absent_id: Option<bool>,
}

/// Reads one entry (the lexer at its first character, after whitespace) and returns its
/// entity, or `None` (the entry read all the same) when it does not fit: not an object, a
/// member the entity reads holding what it cannot (an array or object, `NaN`, a number out of
/// range, a lone surrogate, the wrong type). The members it reads go through its serde
/// derive, so that what fits is exactly what the derive accepts; the others are kept as text.
fn read_entity<T>(lex: &mut Lex<'_>) -> std::result::Result<Option<Read<T>>, Bad>
where
    T: Entity + for<'de> Deserialize<'de>,
{
    // Entries are at level 3 (the top-level object is 1, the section 2).
    if lex.peek() != Some(b'{') {
        lex.value(3)?;
        return Ok(None);
    }
    lex.i += 1;
    // The members the entity reads; `None` for a value it cannot hold.
    let mut known: IndexMap<String, Option<Value>, foldhash::fast::RandomState> =
        IndexMap::default();
    let mut unknown = RawMembers::default();
    let mut repeated = false;
    lex.ws();
    if lex.peek() == Some(b'}') {
        lex.i += 1;
    } else {
        loop {
            let name = raw::canonical_name(lex.string()?);
            lex.expect(b':')?;
            let value = lex.value(4)?;
            if T::FIELDS.contains(&name.as_str()) {
                // A repeated member: the last value, as in Python.
                repeated |= known.insert(name, scalar(value)).is_some();
            } else {
                repeated |= unknown.insert(name, RawJson::new(value)).is_some();
            }
            lex.ws();
            match lex.peek() {
                Some(b',') => lex.i += 1,
                Some(b'}') => {
                    lex.i += 1;
                    break;
                }
                _ => return Err(Bad::Syntax(lex.i)),
            }
        }
    }
    let Some(known) = known
        .into_iter()
        .map(|(k, v)| v.map(|v| (k, v)))
        .collect::<Option<Map<String, Value>>>()
    else {
        return Ok(None);
    };
    let absent_id = match known.get("home_account_id") {
        Some(Value::Null) => Some(false),
        Some(Value::String(s)) if s.is_empty() => Some(true),
        _ => None,
    };
    Ok(T::deserialize(Value::Object(known)).ok().map(|mut t| {
        *t.unknown_fields() = unknown;
        Read {
            entity: t,
            repeated,
            absent_id,
        }
    }))
}

/// A scalar's JSON value, when serde_json can hold it: not `NaN`, `Infinity`, a number out of
/// range, a string with a lone surrogate, or an array or object (no member the library reads
/// holds one).
fn scalar(text: &str) -> Option<Value> {
    match text.as_bytes().first()? {
        b'"' => raw::decode(text.get(1..text.len() - 1)?).map(Value::String),
        b'{' | b'[' | b'N' | b'I' => None,
        b'-' if text.starts_with("-I") => None,
        _ => serde_json::from_str(text).ok(),
    }
}

/// The index of the first byte of `bytes` that Python's `json.dumps` (with `ensure_ascii`)
/// would not copy as it is — a control character, `"`, `\`, DEL or any non-ASCII byte — or
/// the length when there is none. Eight bytes at a time (the scan may stop early on a clean
/// byte; the exact search then finishes byte by byte).
fn clean_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut i = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let control = x.wrapping_sub(ONES * 0x20) & !x;
        let q = x ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let b = x ^ (ONES * u64::from(b'\\'));
        let backslash = b.wrapping_sub(ONES) & !b;
        // A set high bit after adding one: 0x7f (DEL) or anything from 0x80 on.
        let high = x.wrapping_add(ONES) | x;
        if (control | quote | backslash | high) & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&c) = bytes.get(i) {
        if !(b' '..=b'~').contains(&c) || c == b'"' || c == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Passes `s` to `put` escaped as Python's `json.dumps` (with `ensure_ascii`) writes a string's
/// contents: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, and `\uxxxx` (lower-case, UTF-16
/// units) for every other character outside printable ASCII.
fn escape<E>(
    s: &str,
    mut put: impl FnMut(&str) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut rest = s;
    loop {
        let clean = clean_prefix(rest.as_bytes());
        // `clean` is the length of `rest` or the index of an ASCII byte or of the first byte
        // of a multi-byte character: a character boundary.
        let (head, tail) = match (rest.get(..clean), rest.get(clean..)) {
            (Some(h), Some(t)) => (h, t),
            _ => ("", rest),
        };
        if !head.is_empty() {
            put(head)?;
        }
        let mut chars = tail.chars();
        let Some(c) = chars.next() else {
            return Ok(());
        };
        match c {
            '"' => put("\\\"")?,
            '\\' => put("\\\\")?,
            '\n' => put("\\n")?,
            '\r' => put("\\r")?,
            '\t' => put("\\t")?,
            '\u{8}' => put("\\b")?,
            '\u{c}' => put("\\f")?,
            ' '..='~' => {
                let mut b = [0u8; 4];
                put(c.encode_utf8(&mut b))?;
            }
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let u = *unit;
                    let esc = [
                        b'\\',
                        b'u',
                        HEX[usize::from(u >> 12)],
                        HEX[usize::from((u >> 8) & 0xf)],
                        HEX[usize::from((u >> 4) & 0xf)],
                        HEX[usize::from(u & 0xf)],
                    ];
                    if let Ok(e) = std::str::from_utf8(&esc) {
                        put(e)?;
                    }
                }
            }
        }
        rest = chars.as_str();
    }
}

/// Appends `s` escaped as [`escape`] does.
fn escape_into(s: &str, out: &mut String) {
    let _ = escape(s, |piece| {
        out.push_str(piece);
        Ok::<(), ()>(())
    });
}

/// The output of Python's `json.dumps(obj, indent=4)` for serde_json: four spaces of
/// indentation, `": "` after keys, and every character outside printable ASCII escaped as
/// `\uxxxx` (`ensure_ascii`). Starts at a given depth, for values nested in a document.
pub(crate) struct PythonFormatter {
    depth: usize,
    has_value: bool,
}

impl PythonFormatter {
    #[cfg(test)]
    pub(crate) fn new() -> PythonFormatter {
        PythonFormatter::at_depth(0)
    }

    fn at_depth(depth: usize) -> PythonFormatter {
        PythonFormatter {
            depth,
            has_value: false,
        }
    }
}

fn indent<W: ?Sized + io::Write>(w: &mut W, depth: usize) -> io::Result<()> {
    for _ in 0..depth {
        w.write_all(b"    ")?;
    }
    Ok(())
}

impl Formatter for PythonFormatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.depth)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        indent(w, self.depth)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            w.write_all(b"\n")?;
            indent(w, self.depth)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        indent(w, self.depth)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        escape(fragment, |piece| w.write_all(piece.as_bytes()))
    }
}

/// Appends to a `String` what serde_json writes (always ASCII with [`PythonFormatter`]).
struct StringWriter<'a>(&'a mut String);

impl io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let s =
            std::str::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.0.push_str(s);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes MSAL Python's layout into a `String`, field by field.
struct Writer {
    out: String,
    /// Whether the section being written writes an absent home account id as `""`.
    empty_id: bool,
}

impl Writer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("    ");
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        escape_into(s, &mut self.out);
        self.out.push('"');
    }

    /// The text an entry was read from (an object), laid out member by member as the
    /// writer lays out an entity's members (so that it comes out as the entity would where
    /// they agree).
    fn entry_text(&mut self, raw: &str) {
        let start = self.out.len();
        if self.members_of(raw).is_none() {
            // Not an object after all: written as any other text.
            self.out.truncate(start);
            raw::write(raw, 2, &mut self.out);
        }
    }

    /// True when writing `entity` does not give back the `text` it was read from.
    fn differs<T: WriteJson>(entity: &T, text: &str) -> bool {
        let mut written = Writer {
            out: String::with_capacity(text.len() + 256),
            empty_id: false,
        };
        let mut read = Writer {
            out: String::with_capacity(text.len() + 256),
            empty_id: false,
        };
        read.entry_text(text);
        entity.write_json(&mut written, 3).is_err() || written.out != read.out
    }

    fn members_of(&mut self, text: &str) -> Option<()> {
        let mut lex = Lex::new(text);
        lex.ws();
        if lex.peek() != Some(b'{') {
            return None;
        }
        lex.i += 1;
        self.out.push('{');
        let mut first = true;
        lex.ws();
        if lex.peek() != Some(b'}') {
            loop {
                let name = raw::canonical_name(lex.string().ok()?);
                lex.expect(b':').ok()?;
                let value = lex.value(4).ok()?;
                self.canonical_key(&mut first, 3, &name);
                raw::write(value, 3, &mut self.out);
                lex.ws();
                match lex.peek() {
                    Some(b',') => lex.i += 1,
                    Some(b'}') => break,
                    _ => return None,
                }
            }
        }
        self.close(first, 2);
        Some(())
    }

    /// Text read from a document, as the value of a member at `depth`.
    fn raw(&mut self, raw: &RawJson, depth: usize) {
        raw::write(raw.as_str(), depth, &mut self.out);
    }

    /// A JSON value nested at `depth` (the depth of the key it is the value of).
    fn value(&mut self, v: &Value, depth: usize) -> Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(
            StringWriter(&mut self.out),
            PythonFormatter::at_depth(depth),
        );
        v.serialize(&mut ser)
            .map_err(|_| Error::new(ErrorKind::Cache, "the token cache could not be serialized"))
    }

    /// Starts the next member of an object at `depth`: the separator, the indentation, the
    /// key and `": "`.
    fn key(&mut self, first: &mut bool, depth: usize, key: &str) {
        self.out.push_str(if *first { "\n" } else { ",\n" });
        *first = false;
        self.indent(depth);
        self.string(key);
        self.out.push_str(": ");
    }

    /// [`key`](Self::key) for a name already in its written form.
    fn canonical_key(&mut self, first: &mut bool, depth: usize, key: &str) {
        self.out.push_str(if *first { "\n" } else { ",\n" });
        *first = false;
        self.indent(depth);
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\": ");
    }

    /// Closes an object whose members were at `depth + 1`.
    fn close(&mut self, empty: bool, depth: usize) {
        if !empty {
            self.out.push('\n');
            self.indent(depth);
        }
        self.out.push('}');
    }

    fn timestamp(&mut self, t: u64) {
        self.out.push('"');
        let mut digits = [0u8; 20];
        let mut n = t;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if let Ok(s) = std::str::from_utf8(&digits[i..]) {
            self.out.push_str(s);
        }
        self.out.push('"');
    }

    /// Writes an entity's members at `depth`, then its unknown fields.
    fn fields(
        &mut self,
        depth: usize,
        fields: &[(&str, Field<'_>)],
        extra: &Map<String, Value>,
        raw_extra: &RawMembers,
    ) -> Result<()> {
        self.out.push('{');
        let mut first = true;
        for (name, value) in fields {
            match value {
                Field::Skip => continue,
                Field::Str(s) => {
                    self.key(&mut first, depth, name);
                    self.string(s);
                }
                Field::Null => {
                    self.key(&mut first, depth, name);
                    self.out.push_str("null");
                }
                Field::Time(t) => {
                    self.key(&mut first, depth, name);
                    self.timestamp(*t);
                }
            }
        }
        for (name, value) in extra {
            self.key(&mut first, depth, name);
            self.value(value, depth)?;
        }
        for (name, value) in raw_extra {
            self.canonical_key(&mut first, depth, name);
            self.raw(value, depth);
        }
        self.close(first, depth - 1);
        Ok(())
    }
}

/// One member of an entity, as the serde derive writes it.
enum Field<'a> {
    Str(&'a str),
    Null,
    Time(u64),
    /// An absent optional member that is left out.
    Skip,
}

fn nullable(v: &Option<String>) -> Field<'_> {
    v.as_deref().map_or(Field::Null, Field::Str)
}

impl Writer {
    /// A home account id, absent written in the section's dialect.
    fn home_id<'a>(&self, v: &'a Option<String>) -> Field<'a> {
        match v.as_deref() {
            Some(id) => Field::Str(id),
            None if self.empty_id => Field::Str(""),
            None => Field::Null,
        }
    }
}

fn optional(v: &Option<String>) -> Field<'_> {
    v.as_deref().map_or(Field::Skip, Field::Str)
}

fn optional_time(v: Option<u64>) -> Field<'static> {
    v.map_or(Field::Skip, Field::Time)
}

/// An entity written directly, with the members, order and omissions of its serde derive.
trait WriteJson {
    fn write_json(&self, w: &mut Writer, depth: usize) -> Result<()>;
    /// About how many bytes it takes.
    fn size_hint(&self) -> usize;
}

impl WriteJson for AccessTokenEntity {
    fn write_json(&self, w: &mut Writer, depth: usize) -> Result<()> {
        w.fields(
            depth,
            &[
                ("credential_type", Field::Str(&self.credential_type)),
                ("secret", Field::Str(&self.secret)),
                ("home_account_id", w.home_id(&self.home_account_id)),
                ("environment", Field::Str(&self.environment)),
                ("client_id", nullable(&self.client_id)),
                ("target", Field::Str(&self.target)),
                ("realm", Field::Str(&self.realm)),
                ("token_type", Field::Str(&self.token_type)),
                ("cached_at", Field::Time(self.cached_at)),
                ("expires_on", Field::Time(self.expires_on)),
                ("extended_expires_on", Field::Time(self.extended_expires_on)),
                ("key_id", optional(&self.key_id)),
                ("ext_cache_key", optional(&self.ext_cache_key)),
                ("refresh_on", optional_time(self.refresh_on)),
                ("user_assertion_hash", optional(&self.user_assertion_hash)),
            ],
            &self.extra,
            &self.raw_extra,
        )
    }

    fn size_hint(&self) -> usize {
        self.secret.len() + 2 * self.target.len() + 512
    }
}

impl WriteJson for RefreshTokenEntity {
    fn write_json(&self, w: &mut Writer, depth: usize) -> Result<()> {
        w.fields(
            depth,
            &[
                ("credential_type", Field::Str(&self.credential_type)),
                ("secret", Field::Str(&self.secret)),
                ("home_account_id", w.home_id(&self.home_account_id)),
                ("environment", Field::Str(&self.environment)),
                ("client_id", nullable(&self.client_id)),
                ("target", Field::Str(&self.target)),
                (
                    "last_modification_time",
                    optional_time(self.last_modification_time),
                ),
                ("family_id", optional(&self.family_id)),
                ("user_assertion_hash", optional(&self.user_assertion_hash)),
            ],
            &self.extra,
            &self.raw_extra,
        )
    }

    fn size_hint(&self) -> usize {
        self.secret.len() + 2 * self.target.len() + 400
    }
}

impl WriteJson for IdTokenEntity {
    fn write_json(&self, w: &mut Writer, depth: usize) -> Result<()> {
        w.fields(
            depth,
            &[
                ("credential_type", Field::Str(&self.credential_type)),
                ("secret", Field::Str(&self.secret)),
                ("home_account_id", w.home_id(&self.home_account_id)),
                ("environment", Field::Str(&self.environment)),
                ("realm", Field::Str(&self.realm)),
                ("client_id", nullable(&self.client_id)),
            ],
            &self.extra,
            &self.raw_extra,
        )
    }

    fn size_hint(&self) -> usize {
        self.secret.len() + 400
    }
}

impl WriteJson for AccountEntity {
    fn write_json(&self, w: &mut Writer, depth: usize) -> Result<()> {
        w.fields(
            depth,
            &[
                ("home_account_id", w.home_id(&self.home_account_id)),
                ("environment", Field::Str(&self.environment)),
                ("realm", Field::Str(&self.realm)),
                ("local_account_id", nullable(&self.local_account_id)),
                ("username", Field::Str(&self.username)),
                ("authority_type", Field::Str(&self.authority_type)),
                ("account_source", optional(&self.account_source)),
            ],
            &self.extra,
            &self.raw_extra,
        )
    }

    fn size_hint(&self) -> usize {
        512
    }
}

impl WriteJson for AppMetadataEntity {
    fn write_json(&self, w: &mut Writer, depth: usize) -> Result<()> {
        w.fields(
            depth,
            &[
                ("client_id", nullable(&self.client_id)),
                ("environment", Field::Str(&self.environment)),
                ("family_id", optional(&self.family_id)),
            ],
            &self.extra,
            &self.raw_extra,
        )
    }

    fn size_hint(&self) -> usize {
        256
    }
}

impl Document {
    /// About how many bytes the document takes when written.
    fn size_hint(&self) -> usize {
        fn section<T: WriteJson>(entries: &Entries<T>) -> usize {
            entries
                .iter()
                .map(|(k, e)| {
                    k.len()
                        + 16
                        + match e {
                            Entry::Known(_, Some(raw)) | Entry::Opaque(raw) => raw.as_str().len(),
                            Entry::Known(t, None) => t.size_hint(),
                        }
                })
                .sum()
        }
        let unknown: usize = self
            .layout
            .iter()
            .map(|(name, s)| match s {
                Section::Unknown(u) => name.len() + u.raw.as_str().len() + 16,
                Section::Known(_) => 0,
            })
            .sum();
        256 + unknown
            + section(&self.access_tokens)
            + section(&self.refresh_tokens)
            + section(&self.id_tokens)
            + section(&self.accounts)
            + section(&self.app_metadata)
    }

    /// Serialises the document as MSAL Python writes it.
    pub(crate) fn to_json(&self) -> Result<String> {
        fn section<T: WriteJson>(
            w: &mut Writer,
            entries: &Entries<T>,
            absent: AbsentIds,
        ) -> Result<()> {
            w.empty_id = absent.writes_empty();
            w.out.push('{');
            let mut first = true;
            for (key, entry) in entries {
                w.key(&mut first, 2, key);
                match entry {
                    Entry::Known(t, None) => t.write_json(w, 3)?,
                    Entry::Known(_, Some(raw)) => w.entry_text(raw.as_str()),
                    Entry::Opaque(raw) => w.raw(raw, 2),
                }
            }
            w.close(first, 1);
            Ok(())
        }
        let mut w = Writer {
            out: String::with_capacity(self.size_hint()),
            empty_id: false,
        };
        w.out.push('{');
        let mut first = true;
        for (name, s) in &self.layout {
            w.canonical_key(&mut first, 1, name);
            match s {
                Section::Known(kind) => {
                    let absent = self.absent_ids[kind.index()];
                    match kind {
                        Kind::AccessToken => section(&mut w, &self.access_tokens, absent)?,
                        Kind::RefreshToken => section(&mut w, &self.refresh_tokens, absent)?,
                        Kind::IdToken => section(&mut w, &self.id_tokens, absent)?,
                        Kind::Account => section(&mut w, &self.accounts, absent)?,
                        Kind::AppMetadata => section(&mut w, &self.app_metadata, absent)?,
                    }
                }
                Section::Unknown(u) => w.raw(&u.raw, 1),
            }
        }
        w.close(first, 0);
        Ok(w.out)
    }

    /// [`to_json`](Self::to_json) as bytes (what a store writes).
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_json().map(String::into_bytes)
    }

    /// The complete reading alone, for tests comparing the readings.
    #[cfg(test)]
    pub(crate) fn parse_complete_only(json: &str) -> Result<Document> {
        if json.trim().is_empty() {
            return Ok(Document::default());
        }
        Document::parse_complete(json)
    }

    /// The scanner alone (`None` when it gives up).
    #[cfg(test)]
    pub(crate) fn scan_only(json: &str) -> Option<Document> {
        scan::read(json, None)
    }

    /// Parses MSAL-format bytes (which must be UTF-8 JSON).
    pub(crate) fn parse_bytes(bytes: &[u8]) -> Result<Document> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::new(ErrorKind::Cache, "the token cache is not UTF-8"))?;
        Document::parse(text)
    }

    /// Removes the entry of `kind` stored under `key`; true when there was one.
    pub(crate) fn remove(&mut self, kind: Kind, key: &str) -> bool {
        match kind {
            Kind::AccessToken => self.access_tokens.shift_remove(key).is_some(),
            Kind::RefreshToken => self.refresh_tokens.shift_remove(key).is_some(),
            Kind::IdToken => self.id_tokens.shift_remove(key).is_some(),
            Kind::Account => self.accounts.shift_remove(key).is_some(),
            Kind::AppMetadata => self.app_metadata.shift_remove(key).is_some(),
        }
    }

    /// The JSON tree of an unknown top-level section (constant time); `None` also when the
    /// section holds what serde_json cannot (`NaN`, a lone surrogate, deep nesting).
    pub(crate) fn unknown_section(&self, name: &str) -> Option<&Value> {
        let name = raw::canonical_name_of_text(name);
        match self.layout.get(name.as_str())? {
            Section::Unknown(u) => u
                .tree
                .get_or_init(|| serde_json::from_str(u.raw.as_str()).ok())
                .as_ref(),
            Section::Known(_) => None,
        }
    }

    /// Sets (or adds, at the end) an unknown top-level section.
    pub(crate) fn set_unknown_section(&mut self, name: &str, value: Value) {
        let name = raw::canonical_name_of_text(name);
        if Kind::from_name(&name).is_some() {
            return;
        }
        // serde_json writes valid JSON, which the raw writer lays out as Python does.
        let text = serde_json::to_string(&value).unwrap_or_else(|_| "null".to_owned());
        let u = Unknown {
            raw: RawJson::new(&text),
            tree: OnceLock::from(Some(value)),
        };
        // An existing name keeps its place.
        self.layout.insert(name, Section::Unknown(u));
    }
}

impl Document {
    /// Adds `other`'s entries (and its unknown sections not present here) to this document.
    pub(crate) fn merge(&mut self, other: &Document) {
        fn copy<T>(to: &mut Entries<T>, from: &Entries<T>) {
            for (k, e) in from {
                let e = match e {
                    Entry::Known(t, raw) => Entry::Known(Arc::clone(t), raw.clone()),
                    Entry::Opaque(v) => Entry::Opaque(v.clone()),
                };
                to.insert(k.clone(), e);
            }
        }
        for (name, s) in &other.layout {
            match s {
                Section::Known(kind) => self.mark(*kind),
                Section::Unknown(u) => {
                    if !self.has_name(name) {
                        self.layout
                            .insert(name.clone(), Section::Unknown(u.clone()));
                    }
                }
            }
        }
        for (mine, theirs) in self.absent_ids.iter_mut().zip(other.absent_ids) {
            mine.add(theirs);
        }
        copy(&mut self.access_tokens, &other.access_tokens);
        copy(&mut self.refresh_tokens, &other.refresh_tokens);
        copy(&mut self.id_tokens, &other.id_tokens);
        copy(&mut self.accounts, &other.accounts);
        copy(&mut self.app_metadata, &other.app_metadata);
    }
}
