//! One cache document: the parsed form of MSAL's JSON (five known sections of entries keyed
//! by cache key, unknown sections and entries kept verbatim, their order preserved), and its
//! serialisation exactly as MSAL Python's `json.dumps(cache, indent=4)` writes it.

use std::io;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Map, Value};

use super::schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
};
use crate::error::{Error, ErrorKind, Result};

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

pub(crate) type Entries<T> = IndexMap<String, Entry<T>>;

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
        let mut doc = Document::default();
        if json.trim().is_empty() {
            return Ok(doc);
        }
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

/// Serializes one section's entries in order.
struct SectionRef<'a, T>(&'a Entries<T>);

impl<T: Serialize> Serialize for SectionRef<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
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

/// The output of Python's `json.dumps(obj, indent=4)`: serde_json's pretty printer with four
/// spaces, and every character outside printable ASCII escaped as `\uXXXX` (`ensure_ascii`).
pub(crate) struct PythonFormatter(PrettyFormatter<'static>);

impl PythonFormatter {
    pub(crate) fn new() -> PythonFormatter {
        PythonFormatter(PrettyFormatter::with_indent(b"    "))
    }
}

impl Formatter for PythonFormatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if (' '..='~').contains(&ch) {
                continue;
            }
            // `i` and `start` are char boundaries of `fragment`.
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

impl Document {
    /// Serialises the document as MSAL Python writes it.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(4096);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter::new());
        self.serialize(&mut ser)
            .map_err(|_| Error::new(ErrorKind::Cache, "the token cache could not be serialized"))?;
        Ok(out)
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
