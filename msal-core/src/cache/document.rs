//! One cache document: the parsed form of MSAL's JSON (five known sections of entries keyed
//! by cache key, unknown sections and entries kept verbatim, their order preserved), and its
//! serialisation exactly as MSAL Python's `json.dumps(cache, indent=4)` writes it.
//!
//! Reading goes straight from the text to typed entities. When anything does not fit — an
//! entry of another shape, a duplicate section, invalid JSON — the document is read again
//! through a generic JSON tree, entry by entry, which keeps what does not fit verbatim and
//! reports errors precisely; both readings give the same document whenever the first succeeds.
//! Writing goes straight from the entities to the text; only unknown fields, sections and
//! entries go through serde_json, with a formatter that lays them out as Python does.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::ser::Formatter;
use serde_json::{Map, Value};

use super::index::{Hints, Index};
use super::schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
use crate::error::{Error, ErrorKind, Result};

mod scan;

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
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::AccessToken => "AccessToken",
            Kind::RefreshToken => "RefreshToken",
            Kind::IdToken => "IdToken",
            Kind::Account => "Account",
            Kind::AppMetadata => "AppMetadata",
        }
    }

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

/// One entry of a section: an entity, or a value that does not fit the schema, kept verbatim.
#[derive(Debug, Clone)]
pub(crate) enum Entry<T> {
    Known(Arc<T>),
    Opaque(Value),
}

impl<T> Entry<T> {
    pub(crate) fn known(&self) -> Option<&Arc<T>> {
        match self {
            Entry::Known(t) => Some(t),
            Entry::Opaque(_) => None,
        }
    }
}

impl<T: Serialize> Serialize for Entry<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Entry::Known(t) => t.as_ref().serialize(s),
            Entry::Opaque(v) => v.serialize(s),
        }
    }
}

pub(crate) type Entries<T> = IndexMap<String, Entry<T>, foldhash::fast::RandomState>;

/// A top-level item of the file, in file order.
#[derive(Debug, Clone)]
enum Section {
    Known(Kind),
    Unknown(String, Value),
}

/// The contents of one cache document.
#[derive(Debug, Default, Clone)]
pub(crate) struct Document {
    pub(crate) access_tokens: Entries<AccessTokenEntity>,
    pub(crate) refresh_tokens: Entries<RefreshTokenEntity>,
    pub(crate) id_tokens: Entries<IdTokenEntity>,
    pub(crate) accounts: Entries<AccountEntity>,
    pub(crate) app_metadata: Entries<AppMetadataEntity>,
    /// The top-level order: known sections (once present) and unknown ones.
    layout: Vec<Section>,
}

/// An entity type and the section that holds it.
pub(crate) trait Entity: Sized {
    const KIND: Kind;
    fn section(doc: &mut Document) -> &mut Entries<Self>;
}

macro_rules! impl_entity {
    ($t:ty, $kind:ident, $field:ident) => {
        impl Entity for $t {
            const KIND: Kind = Kind::$kind;
            fn section(doc: &mut Document) -> &mut Entries<Self> {
                &mut doc.$field
            }
        }
    };
}

impl_entity!(AccessTokenEntity, AccessToken, access_tokens);
impl_entity!(RefreshTokenEntity, RefreshToken, refresh_tokens);
impl_entity!(IdTokenEntity, IdToken, id_tokens);
impl_entity!(AccountEntity, Account, accounts);
impl_entity!(AppMetadataEntity, AppMetadata, app_metadata);

impl Document {
    /// Documents `entity` under `key`; an existing key keeps its position, as in a Python dict.
    pub(crate) fn put<T: Entity>(&mut self, key: String, entity: Arc<T>) {
        self.mark(T::KIND);
        T::section(self).insert(key, Entry::Known(entity));
    }

    /// Makes sure the section of `kind` is part of the layout.
    fn mark(&mut self, kind: Kind) {
        if !self
            .layout
            .iter()
            .any(|s| matches!(s, Section::Known(k) if *k == kind))
        {
            self.layout.push(Section::Known(kind));
        }
    }

    pub(crate) fn parse(json: &str) -> Result<Document> {
        if json.trim().is_empty() {
            return Ok(Document::default());
        }
        if let Some(doc) = scan::read(json, None) {
            return Ok(doc);
        }
        match Document::parse_typed(json) {
            Ok(doc) => Ok(doc),
            Err(_) => Document::parse_generic(json),
        }
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
        let doc = match Document::parse_typed(json) {
            Ok(doc) => doc,
            Err(_) => Document::parse_generic(json)?,
        };
        Ok((doc, None))
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

    /// The fast reading: straight into typed entities. Fails on anything the generic reading
    /// would treat specially (an entry that does not fit, a duplicate top-level name) and on
    /// any error; the caller then reads generically.
    fn parse_typed(json: &str) -> serde_json::Result<Document> {
        let mut doc = Document::default();
        let mut de = serde_json::Deserializer::from_str(json);
        DocumentSeed(&mut doc).deserialize(&mut de)?;
        de.end()?;
        Ok(doc)
    }

    /// The generic reading: a JSON tree, then each entry typed if it fits and kept verbatim
    /// otherwise.
    fn parse_generic(json: &str) -> Result<Document> {
        let mut doc = Document::default();
        // serde_json's syntax errors never quote the input, but only the position is reported
        // so that no token can reach an error message.
        let root: Value = serde_json::from_str(json).map_err(|e| {
            Error::new(
                ErrorKind::Cache,
                format!(
                    "the token cache is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(root) = root else {
            return Err(Error::new(
                ErrorKind::Cache,
                "the token cache is not a JSON object",
            ));
        };
        for (name, value) in root {
            let Some(kind) = Kind::from_name(&name) else {
                doc.layout.push(Section::Unknown(name, value));
                continue;
            };
            let Value::Object(entries) = value else {
                return Err(Error::new(
                    ErrorKind::Cache,
                    format!("the token cache section {name} is not a JSON object"),
                ));
            };
            match kind {
                Kind::AccessToken => doc.load::<AccessTokenEntity>(entries),
                Kind::RefreshToken => doc.load::<RefreshTokenEntity>(entries),
                Kind::IdToken => doc.load::<IdTokenEntity>(entries),
                Kind::Account => doc.load::<AccountEntity>(entries),
                Kind::AppMetadata => doc.load::<AppMetadataEntity>(entries),
            }
        }
        Ok(doc)
    }

    /// Reads the entries of one section; an entry that does not fit is kept opaque.
    fn load<T: Entity + for<'de> Deserialize<'de>>(&mut self, entries: Map<String, Value>) {
        self.mark(T::KIND);
        let section = T::section(self);
        section.reserve(entries.len());
        for (key, value) in entries {
            let entry = match T::deserialize(&value) {
                Ok(t) => Entry::Known(Arc::new(t)),
                Err(_) => Entry::Opaque(value),
            };
            section.insert(key, entry);
        }
    }
}

/// A name read from the input, borrowed when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(
                self,
                v: String,
            ) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads a whole document into typed sections (the fast reading).
struct DocumentSeed<'a>(&'a mut Document);

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token cache object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let doc = self.0;
        while let Some(Name(name)) = map.next_key()? {
            let duplicate = match Kind::from_name(&name) {
                Some(kind) => doc
                    .layout
                    .iter()
                    .any(|s| matches!(s, Section::Known(k) if *k == kind)),
                None => doc.unknown_section(&name).is_some(),
            };
            if duplicate {
                // The generic reading keeps the last value in the first place, as Python.
                return Err(A::Error::custom("a top-level name occurs twice"));
            }
            match Kind::from_name(&name) {
                Some(kind) => {
                    doc.layout.push(Section::Known(kind));
                    match kind {
                        Kind::AccessToken => {
                            map.next_value_seed(SectionSeed(&mut doc.access_tokens))?
                        }
                        Kind::RefreshToken => {
                            map.next_value_seed(SectionSeed(&mut doc.refresh_tokens))?
                        }
                        Kind::IdToken => map.next_value_seed(SectionSeed(&mut doc.id_tokens))?,
                        Kind::Account => map.next_value_seed(SectionSeed(&mut doc.accounts))?,
                        Kind::AppMetadata => {
                            map.next_value_seed(SectionSeed(&mut doc.app_metadata))?
                        }
                    }
                }
                None => {
                    let value: Value = map.next_value()?;
                    doc.layout.push(Section::Unknown(name.into_owned(), value));
                }
            }
        }
        Ok(())
    }
}

/// Reads one section's entries, every one of which must fit the entity type.
struct SectionSeed<'a, T>(&'a mut Entries<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for SectionSeed<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SectionSeed<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a section of cache entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let entity: T = map.next_value()?;
            // A repeated key keeps its first place and takes the last value, as in Python.
            self.0.insert(key, Entry::Known(Arc::new(entity)));
        }
        Ok(())
    }
}

/// Serializes one section's entries in order (the reference serialisation, through serde).
#[cfg(test)]
struct SectionRef<'a, T>(&'a Entries<T>);

#[cfg(test)]
impl<T: Serialize> Serialize for SectionRef<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

#[cfg(test)]
impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.layout.len()))?;
        for section in &self.layout {
            match section {
                Section::Known(kind) => {
                    let name = kind.name();
                    match kind {
                        Kind::AccessToken => {
                            map.serialize_entry(name, &SectionRef(&self.access_tokens))?
                        }
                        Kind::RefreshToken => {
                            map.serialize_entry(name, &SectionRef(&self.refresh_tokens))?
                        }
                        Kind::IdToken => map.serialize_entry(name, &SectionRef(&self.id_tokens))?,
                        Kind::Account => map.serialize_entry(name, &SectionRef(&self.accounts))?,
                        Kind::AppMetadata => {
                            map.serialize_entry(name, &SectionRef(&self.app_metadata))?
                        }
                    }
                }
                Section::Unknown(name, value) => map.serialize_entry(name, value)?,
            }
        }
        map.end()
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
}

impl Writer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("    ");
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        let out = &mut self.out;
        let _ = escape(s, |piece| {
            out.push_str(piece);
            Ok::<(), ()>(())
        });
        self.out.push('"');
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
                ("home_account_id", nullable(&self.home_account_id)),
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
                ("home_account_id", nullable(&self.home_account_id)),
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
                ("home_account_id", nullable(&self.home_account_id)),
                ("environment", Field::Str(&self.environment)),
                ("realm", Field::Str(&self.realm)),
                ("client_id", nullable(&self.client_id)),
            ],
            &self.extra,
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
                ("home_account_id", nullable(&self.home_account_id)),
                ("environment", Field::Str(&self.environment)),
                ("realm", Field::Str(&self.realm)),
                ("local_account_id", nullable(&self.local_account_id)),
                ("username", Field::Str(&self.username)),
                ("authority_type", Field::Str(&self.authority_type)),
                ("account_source", optional(&self.account_source)),
            ],
            &self.extra,
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
                            Entry::Known(t) => t.size_hint(),
                            Entry::Opaque(_) => 256,
                        }
                })
                .sum()
        }
        256 + section(&self.access_tokens)
            + section(&self.refresh_tokens)
            + section(&self.id_tokens)
            + section(&self.accounts)
            + section(&self.app_metadata)
    }

    /// Serialises the document as MSAL Python writes it.
    pub(crate) fn to_json(&self) -> Result<String> {
        fn section<T: WriteJson>(w: &mut Writer, entries: &Entries<T>) -> Result<()> {
            w.out.push('{');
            let mut first = true;
            for (key, entry) in entries {
                w.key(&mut first, 2, key);
                match entry {
                    Entry::Known(t) => t.write_json(w, 3)?,
                    Entry::Opaque(v) => w.value(v, 2)?,
                }
            }
            w.close(first, 1);
            Ok(())
        }
        let mut w = Writer {
            out: String::with_capacity(self.size_hint()),
        };
        w.out.push('{');
        let mut first = true;
        for s in &self.layout {
            match s {
                Section::Known(kind) => {
                    w.key(&mut first, 1, kind.name());
                    match kind {
                        Kind::AccessToken => section(&mut w, &self.access_tokens)?,
                        Kind::RefreshToken => section(&mut w, &self.refresh_tokens)?,
                        Kind::IdToken => section(&mut w, &self.id_tokens)?,
                        Kind::Account => section(&mut w, &self.accounts)?,
                        Kind::AppMetadata => section(&mut w, &self.app_metadata)?,
                    }
                }
                Section::Unknown(name, value) => {
                    w.key(&mut first, 1, name);
                    w.value(value, 1)?;
                }
            }
        }
        w.close(first, 0);
        Ok(w.out)
    }

    /// [`to_json`](Self::to_json) as bytes (what a store writes).
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_json().map(String::into_bytes)
    }

    /// The reference serialisation, through serde's derives: what [`to_json`](Self::to_json)
    /// must equal byte for byte.
    #[cfg(test)]
    pub(crate) fn to_json_via_serde(&self) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter::new());
        self.serialize(&mut ser).expect("serializes");
        String::from_utf8(out).expect("ASCII")
    }

    /// The generic reading alone, for tests comparing the two readings.
    #[cfg(test)]
    pub(crate) fn parse_generic_only(json: &str) -> Result<Document> {
        if json.trim().is_empty() {
            return Ok(Document::default());
        }
        Document::parse_generic(json)
    }

    /// True when the typed serde reading accepts `json`.
    #[cfg(test)]
    pub(crate) fn reads_typed(json: &str) -> bool {
        Document::parse_typed(json).is_ok()
    }

    /// The typed serde reading alone.
    #[cfg(test)]
    pub(crate) fn parse_typed_only(json: &str) -> Option<Document> {
        Document::parse_typed(json).ok()
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

    /// The value of an unknown top-level section.
    pub(crate) fn unknown_section(&self, name: &str) -> Option<&Value> {
        self.layout.iter().find_map(|s| match s {
            Section::Unknown(n, v) if n == name => Some(v),
            _ => None,
        })
    }

    /// Sets (or adds, at the end) an unknown top-level section.
    pub(crate) fn set_unknown_section(&mut self, name: &str, value: Value) {
        for s in &mut self.layout {
            if let Section::Unknown(n, v) = s
                && n == name
            {
                *v = value;
                return;
            }
        }
        self.layout.push(Section::Unknown(name.to_owned(), value));
    }
}

impl Document {
    /// Adds `other`'s entries (and its unknown sections not present here) to this document.
    pub(crate) fn merge(&mut self, other: &Document) {
        fn copy<T>(to: &mut Entries<T>, from: &Entries<T>) {
            for (k, e) in from {
                let e = match e {
                    Entry::Known(t) => Entry::Known(Arc::clone(t)),
                    Entry::Opaque(v) => Entry::Opaque(v.clone()),
                };
                to.insert(k.clone(), e);
            }
        }
        for s in &other.layout {
            match s {
                Section::Known(kind) => self.mark(*kind),
                Section::Unknown(name, value) => {
                    if self.unknown_section(name).is_none() {
                        self.layout
                            .push(Section::Unknown(name.clone(), value.clone()));
                    }
                }
            }
        }
        copy(&mut self.access_tokens, &other.access_tokens);
        copy(&mut self.refresh_tokens, &other.refresh_tokens);
        copy(&mut self.id_tokens, &other.id_tokens);
        copy(&mut self.accounts, &other.accounts);
        copy(&mut self.app_metadata, &other.app_metadata);
    }
}
