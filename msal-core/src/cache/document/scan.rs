//! The fastest reading of a cache document: a strict scanner for the shape MSAL writes —
//! strings without escape sequences, timestamps as strings — that copies each string once
//! into its entity and gives up (`None`) on anything else: an escape sequence, a number
//! where a string is expected, an entry that does not fit, a duplicate name, invalid JSON.
//! The serde readings then take over, so what this reading returns is always exactly what
//! they would (the tests compare both). Unknown sections and unknown fields are kept as text,
//! validated by the same lexer as the complete reading.

use std::sync::Arc;

use serde_json::Map;

use super::raw::{self, Lex, RawJson, RawMembers};
use super::{AbsentIds, Document, Entries, Entry, Kind, Section, Unknown};
use crate::cache::index::{Hints, Index};
use crate::cache::schema::{
    AccessTokenEntity, AccountEntity, AppMetadataEntity, IdTokenEntity, RefreshTokenEntity,
    parse_timestamp_str,
};

/// Where the index hints of the entities read go (see [`Hints`]).
pub(super) struct HintSink<'h> {
    pub(super) index: &'h Index,
    pub(super) hints: Hints,
}

/// The entity types whose index hints are computed while reading.
trait Hinted: Sized {
    fn hint(_sink: &mut HintSink<'_>, _t: &Arc<Self>) {}
    fn forget(_sink: &mut HintSink<'_>) {}
}

impl Hinted for AccessTokenEntity {
    fn hint(sink: &mut HintSink<'_>, t: &Arc<Self>) {
        sink.hints.access_token(sink.index, t);
    }
    fn forget(sink: &mut HintSink<'_>) {
        sink.hints.forget_access_tokens();
    }
}

impl Hinted for AccountEntity {
    fn hint(sink: &mut HintSink<'_>, t: &Arc<Self>) {
        sink.hints.account(sink.index, t);
    }
    fn forget(sink: &mut HintSink<'_>) {
        sink.hints.forget_accounts();
    }
}

impl Hinted for RefreshTokenEntity {
    fn hint(sink: &mut HintSink<'_>, t: &Arc<Self>) {
        sink.hints.refresh_token(sink.index, t);
    }
    fn forget(sink: &mut HintSink<'_>) {
        sink.hints.forget_refresh_tokens();
    }
}

impl Hinted for IdTokenEntity {}

impl Hinted for AppMetadataEntity {}

/// Reads `json`, or `None` when a serde reading must; with a sink, also computes the index
/// hints of what it reads.
pub(super) fn read(json: &str, mut sink: Option<&mut HintSink<'_>>) -> Option<Document> {
    let mut sc = Scan { s: json, i: 0 };
    let mut doc = Document::default();
    sc.eat(b'{')?;
    if !sc.eat_if(b'}') {
        loop {
            let name = raw::canonical_name_of_text(sc.string()?);
            sc.eat(b':')?;
            // A repeated name is left to the complete reading.
            if doc.has_name(&name) {
                return None;
            }
            match Kind::from_name(&name) {
                Some(kind) => {
                    doc.mark(kind);
                    let absent = match kind {
                        Kind::AccessToken => {
                            section(&mut sc, &mut doc.access_tokens, access_token, &mut sink)?
                        }
                        Kind::RefreshToken => {
                            section(&mut sc, &mut doc.refresh_tokens, refresh_token, &mut sink)?
                        }
                        Kind::IdToken => section(&mut sc, &mut doc.id_tokens, id_token, &mut sink)?,
                        Kind::Account => section(&mut sc, &mut doc.accounts, account, &mut sink)?,
                        Kind::AppMetadata => {
                            section(&mut sc, &mut doc.app_metadata, app_metadata, &mut sink)?
                        }
                    };
                    doc.absent_ids[kind.index()] = absent;
                }
                None => {
                    let value = sc.value(2)?;
                    doc.layout
                        .insert(name, Section::Unknown(Unknown::new(value)));
                }
            }
            if !sc.more(b'}')? {
                break;
            }
        }
    }
    sc.ws();
    (sc.i == json.len()).then_some(doc)
}

/// A position in the text.
struct Scan<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Scan<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// Skips JSON whitespace (runs of indentation eight spaces at a time).
    fn ws(&mut self) {
        let b = self.bytes();
        while let Some(c) = b.get(self.i) {
            match c {
                b' ' => {
                    self.i += 1;
                    while b.get(self.i..self.i + 8).is_some_and(|w| w == b"        ") {
                        self.i += 8;
                    }
                }
                b'\n' | b'\r' | b'\t' => self.i += 1,
                _ => break,
            }
        }
    }

    /// Skips whitespace and `c`, which must come next.
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.bytes().get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// Skips whitespace, then `c` if it comes next.
    fn eat_if(&mut self, c: u8) -> bool {
        self.eat(c).is_some()
    }

    /// After a member: true for `,` (another member follows), false for `close`.
    fn more(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let c = *self.bytes().get(self.i)?;
        self.i += 1;
        match c {
            b',' => Some(true),
            c if c == close => Some(false),
            _ => None,
        }
    }

    /// A string without escape sequences or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.ws();
        let b = self.bytes();
        if b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        let end = start + memchr::memchr2(b'"', b'\\', b.get(start..)?)?;
        if b.get(end) != Some(&b'"') {
            return None;
        }
        let body = b.get(start..end)?;
        // No early exit, so that it runs many bytes at a time.
        if body.iter().fold(false, |control, c| control | (*c < 0x20)) {
            return None;
        }
        self.i = end + 1;
        self.s.get(start..end)
    }

    /// `null`, or not (nothing consumed).
    fn null(&mut self) -> bool {
        self.ws();
        let null = self
            .bytes()
            .get(self.i..)
            .is_some_and(|rest| rest.starts_with(b"null"));
        if null {
            self.i += 4;
        }
        null
    }

    /// Any value Python's `json` reads, as text; its arrays and objects start at nesting
    /// `level`.
    fn value(&mut self, level: usize) -> Option<RawJson> {
        let mut lex = Lex {
            s: self.s,
            i: self.i,
        };
        let text = lex.value(level).ok()?;
        self.i = lex.i;
        Some(RawJson::new(text))
    }

    fn owned(&mut self) -> Option<String> {
        self.string().map(str::to_owned)
    }

    /// `null` or a string (as `Option<String>`).
    fn optional(&mut self) -> Option<Option<String>> {
        if self.null() {
            Some(None)
        } else {
            self.owned().map(Some)
        }
    }

    /// Reads an object's members: `known` reads the value of a member it knows (returning
    /// `Some(true)`), or declines (`Some(false)`), and the value goes to `extra`.
    fn object(
        &mut self,
        extra: &mut RawMembers,
        repeated: &mut bool,
        mut known: impl FnMut(&mut Scan<'a>, &'a str) -> Option<bool>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat_if(b'}') {
            return Some(());
        }
        loop {
            let name = self.string()?;
            self.eat(b':')?;
            if !known(self, name)? {
                // Members of entries are at level 4.
                let value = self.value(4)?;
                // A repeated unknown name keeps its first place and takes the last value.
                *repeated |= extra
                    .insert(raw::canonical_name_of_text(name), value)
                    .is_some();
            }
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }
}

/// Sets a member read once; a second occurrence gives up.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<bool> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(true)
}

/// Whether an entry is in the shape the writer gives it — its known members in the writer's
/// order and form, then its unknown ones — so that writing the entity gives back its text;
/// and how it wrote an absent home account id.
#[derive(Default)]
struct Shape {
    /// Something the writer would write otherwise was seen.
    differs: bool,
    /// The place (in the writer's order) after the last known member seen.
    next: u8,
    /// An unknown member was seen (known members must all come before).
    unknown_seen: bool,
    /// An unknown member name was repeated.
    repeated: bool,
    /// `Some(true)` for `"home_account_id": ""`, `Some(false)` for `null`.
    absent_id: Option<bool>,
}

impl Shape {
    /// A known member at `place` of the writer's order.
    fn at(&mut self, place: u8) {
        self.differs |= self.unknown_seen || place < self.next;
        self.next = place + 1;
    }

    /// An unknown member (never a known one after it); declines to read its value.
    fn decline(&mut self) -> bool {
        self.unknown_seen = true;
        false
    }

    /// An id (`null`, `""` or a value): the writer writes `""` as `null`.
    fn id(&mut self, v: Option<String>) -> Option<String> {
        self.differs |= v.as_deref() == Some("");
        v.filter(|s| !s.is_empty())
    }

    /// The home account id, whose absent form is also counted.
    fn home_id(&mut self, v: Option<String>) -> Option<String> {
        self.absent_id = match v.as_deref() {
            None => Some(false),
            Some("") => Some(true),
            Some(_) => None,
        };
        self.id(v)
    }

    /// An optional member the writer leaves out when absent: `null` differs.
    fn skipped<T>(&mut self, v: Option<T>) -> Option<T> {
        self.differs |= v.is_none();
        v
    }

    /// A timestamp's text: the writer writes plain decimal digits.
    fn timestamp(&mut self, s: &str) -> Option<u64> {
        let b = s.as_bytes();
        self.differs |= b.is_empty()
            || !b.iter().all(u8::is_ascii_digit)
            || (b.len() > 1 && b.first() == Some(&b'0'));
        parse_timestamp_str(s)
    }

    /// A member the writer always writes was missing.
    fn require(&mut self, present: bool) {
        self.differs |= !present;
    }

    /// The text to keep for the entry read from `text`: none when the writer gives it back.
    fn keep(&self, text: &str) -> Option<RawJson> {
        (self.differs && !self.repeated).then(|| RawJson::new(text))
    }
}

fn section<'a, T: Hinted>(
    sc: &mut Scan<'a>,
    entries: &mut Entries<T>,
    entity: fn(&mut Scan<'a>, &mut Shape) -> Option<T>,
    sink: &mut Option<&mut HintSink<'_>>,
) -> Option<AbsentIds> {
    let mut absent = AbsentIds::default();
    sc.eat(b'{')?;
    if sc.eat_if(b'}') {
        return Some(absent);
    }
    let mut repeated = false;
    loop {
        let key = sc.string()?;
        sc.eat(b':')?;
        sc.ws();
        let start = sc.i;
        let mut shape = Shape::default();
        let t = Arc::new(entity(sc, &mut shape)?);
        let text = shape.keep(sc.s.get(start..sc.i)?);
        absent.count(shape.absent_id);
        if let Some(sink) = sink.as_deref_mut() {
            T::hint(sink, &t);
        }
        // A repeated key keeps its first place and takes the last value, as in Python.
        repeated |= entries
            .insert(key.to_owned(), Entry::Known(t, text))
            .is_some();
        if !sc.more(b'}')? {
            break;
        }
    }
    if repeated && let Some(sink) = sink.as_deref_mut() {
        // The hints no longer follow the section's order.
        T::forget(sink);
    }
    Some(absent)
}

/// `null` or a timestamp's text.
fn optional_timestamp(sc: &mut Scan<'_>, sh: &mut Shape) -> Option<Option<u64>> {
    if sc.null() {
        Some(None)
    } else {
        sc.string().and_then(|s| sh.timestamp(s)).map(Some)
    }
}

fn access_token(sc: &mut Scan<'_>, sh: &mut Shape) -> Option<AccessTokenEntity> {
    let (mut credential_type, mut secret, mut home_account_id, mut environment) =
        (None, None, None, None);
    let (mut client_id, mut target, mut realm, mut token_type) = (None, None, None, None);
    let (mut cached_at, mut expires_on, mut extended_expires_on) = (None, None, None);
    let (mut key_id, mut ext_cache_key, mut refresh_on, mut user_assertion_hash) =
        (None, None, None, None);
    let mut extra = RawMembers::default();
    let mut repeated = false;
    sc.object(&mut extra, &mut repeated, |sc, name| match name {
        "credential_type" => {
            sh.at(0);
            once(&mut credential_type, sc.owned()?)
        }
        "secret" => {
            sh.at(1);
            once(&mut secret, sc.owned()?)
        }
        "home_account_id" => {
            sh.at(2);
            once(&mut home_account_id, sh.home_id(sc.optional()?))
        }
        "environment" => {
            sh.at(3);
            once(&mut environment, sc.owned()?)
        }
        "client_id" => {
            sh.at(4);
            once(&mut client_id, sh.id(sc.optional()?))
        }
        "target" => {
            sh.at(5);
            once(&mut target, sc.owned()?)
        }
        "realm" => {
            sh.at(6);
            once(&mut realm, sc.owned()?)
        }
        "token_type" => {
            sh.at(7);
            once(&mut token_type, sc.owned()?)
        }
        "cached_at" => {
            sh.at(8);
            once(&mut cached_at, sh.timestamp(sc.string()?)?)
        }
        "expires_on" => {
            sh.at(9);
            once(&mut expires_on, sh.timestamp(sc.string()?)?)
        }
        "extended_expires_on" => {
            sh.at(10);
            once(&mut extended_expires_on, sh.timestamp(sc.string()?)?)
        }
        "key_id" => {
            sh.at(11);
            once(&mut key_id, sh.skipped(sc.optional()?))
        }
        "ext_cache_key" => {
            sh.at(12);
            once(&mut ext_cache_key, sh.skipped(sc.optional()?))
        }
        "refresh_on" => {
            sh.at(13);
            let v = optional_timestamp(sc, sh)?;
            once(&mut refresh_on, sh.skipped(v))
        }
        "user_assertion_hash" => {
            sh.at(14);
            once(&mut user_assertion_hash, sh.skipped(sc.optional()?))
        }
        _ => Some(sh.decline()),
    })?;
    sh.repeated = repeated;
    sh.require(home_account_id.is_some() && client_id.is_some() && token_type.is_some());
    Some(AccessTokenEntity {
        credential_type: credential_type?,
        secret: secret?,
        home_account_id: home_account_id.flatten(),
        environment: environment?,
        client_id: client_id.flatten(),
        target: target?,
        realm: realm?,
        token_type: token_type.unwrap_or_else(|| "Bearer".to_owned()),
        cached_at: cached_at?,
        expires_on: expires_on?,
        extended_expires_on: extended_expires_on?,
        key_id: key_id.flatten(),
        ext_cache_key: ext_cache_key.flatten(),
        refresh_on: refresh_on.flatten(),
        user_assertion_hash: user_assertion_hash.flatten(),
        extra: Map::new(),
        raw_extra: extra,
    })
}

fn refresh_token(sc: &mut Scan<'_>, sh: &mut Shape) -> Option<RefreshTokenEntity> {
    let (mut credential_type, mut secret, mut home_account_id, mut environment) =
        (None, None, None, None);
    let (mut client_id, mut target, mut last_modification_time) = (None, None, None);
    let (mut family_id, mut user_assertion_hash) = (None, None);
    let mut extra = RawMembers::default();
    let mut repeated = false;
    sc.object(&mut extra, &mut repeated, |sc, name| match name {
        "credential_type" => {
            sh.at(0);
            once(&mut credential_type, sc.owned()?)
        }
        "secret" => {
            sh.at(1);
            once(&mut secret, sc.owned()?)
        }
        "home_account_id" => {
            sh.at(2);
            once(&mut home_account_id, sh.home_id(sc.optional()?))
        }
        "environment" => {
            sh.at(3);
            once(&mut environment, sc.owned()?)
        }
        "client_id" => {
            sh.at(4);
            once(&mut client_id, sh.id(sc.optional()?))
        }
        "target" => {
            sh.at(5);
            once(&mut target, sc.owned()?)
        }
        "last_modification_time" => {
            sh.at(6);
            let v = optional_timestamp(sc, sh)?;
            once(&mut last_modification_time, sh.skipped(v))
        }
        "family_id" => {
            sh.at(7);
            once(&mut family_id, sh.skipped(sc.optional()?))
        }
        "user_assertion_hash" => {
            sh.at(8);
            once(&mut user_assertion_hash, sh.skipped(sc.optional()?))
        }
        _ => Some(sh.decline()),
    })?;
    sh.repeated = repeated;
    sh.require(home_account_id.is_some() && client_id.is_some() && target.is_some());
    Some(RefreshTokenEntity {
        credential_type: credential_type?,
        secret: secret?,
        home_account_id: home_account_id.flatten(),
        environment: environment?,
        client_id: client_id.flatten(),
        target: target.unwrap_or_default(),
        last_modification_time: last_modification_time.flatten(),
        family_id: family_id.flatten(),
        user_assertion_hash: user_assertion_hash.flatten(),
        extra: Map::new(),
        raw_extra: extra,
    })
}

fn id_token(sc: &mut Scan<'_>, sh: &mut Shape) -> Option<IdTokenEntity> {
    let (mut credential_type, mut secret, mut home_account_id) = (None, None, None);
    let (mut environment, mut realm, mut client_id) = (None, None, None);
    let mut extra = RawMembers::default();
    let mut repeated = false;
    sc.object(&mut extra, &mut repeated, |sc, name| match name {
        "credential_type" => {
            sh.at(0);
            once(&mut credential_type, sc.owned()?)
        }
        "secret" => {
            sh.at(1);
            once(&mut secret, sc.owned()?)
        }
        "home_account_id" => {
            sh.at(2);
            once(&mut home_account_id, sh.home_id(sc.optional()?))
        }
        "environment" => {
            sh.at(3);
            once(&mut environment, sc.owned()?)
        }
        "realm" => {
            sh.at(4);
            once(&mut realm, sc.owned()?)
        }
        "client_id" => {
            sh.at(5);
            once(&mut client_id, sh.id(sc.optional()?))
        }
        _ => Some(sh.decline()),
    })?;
    sh.repeated = repeated;
    sh.require(home_account_id.is_some() && client_id.is_some() && realm.is_some());
    Some(IdTokenEntity {
        credential_type: credential_type?,
        secret: secret?,
        home_account_id: home_account_id.flatten(),
        environment: environment?,
        realm: realm.unwrap_or_default(),
        client_id: client_id.flatten(),
        extra: Map::new(),
        raw_extra: extra,
    })
}

fn account(sc: &mut Scan<'_>, sh: &mut Shape) -> Option<AccountEntity> {
    let (mut home_account_id, mut environment, mut realm) = (None, None, None);
    let (mut local_account_id, mut username, mut authority_type, mut account_source) =
        (None, None, None, None);
    let mut extra = RawMembers::default();
    let mut repeated = false;
    sc.object(&mut extra, &mut repeated, |sc, name| match name {
        "home_account_id" => {
            sh.at(0);
            once(&mut home_account_id, sh.home_id(sc.optional()?))
        }
        "environment" => {
            sh.at(1);
            once(&mut environment, sc.owned()?)
        }
        "realm" => {
            sh.at(2);
            once(&mut realm, sc.owned()?)
        }
        "local_account_id" => {
            sh.at(3);
            once(&mut local_account_id, sc.optional()?)
        }
        "username" => {
            sh.at(4);
            once(&mut username, sc.owned()?)
        }
        "authority_type" => {
            sh.at(5);
            once(&mut authority_type, sc.owned()?)
        }
        "account_source" => {
            sh.at(6);
            once(&mut account_source, sh.skipped(sc.optional()?))
        }
        _ => Some(sh.decline()),
    })?;
    sh.repeated = repeated;
    sh.require(
        home_account_id.is_some()
            && realm.is_some()
            && local_account_id.is_some()
            && username.is_some(),
    );
    Some(AccountEntity {
        home_account_id: home_account_id.flatten(),
        environment: environment?,
        realm: realm.unwrap_or_default(),
        local_account_id: local_account_id.flatten(),
        username: username.unwrap_or_default(),
        authority_type: authority_type?,
        account_source: account_source.flatten(),
        extra: Map::new(),
        raw_extra: extra,
    })
}

fn app_metadata(sc: &mut Scan<'_>, sh: &mut Shape) -> Option<AppMetadataEntity> {
    let (mut client_id, mut environment, mut family_id) = (None, None, None);
    let mut extra = RawMembers::default();
    let mut repeated = false;
    sc.object(&mut extra, &mut repeated, |sc, name| match name {
        "client_id" => {
            sh.at(0);
            once(&mut client_id, sh.id(sc.optional()?))
        }
        "environment" => {
            sh.at(1);
            once(&mut environment, sc.owned()?)
        }
        "family_id" => {
            sh.at(2);
            once(&mut family_id, sh.skipped(sc.optional()?))
        }
        _ => Some(sh.decline()),
    })?;
    sh.repeated = repeated;
    sh.require(client_id.is_some());
    Some(AppMetadataEntity {
        client_id: client_id.flatten(),
        environment: environment?,
        family_id: family_id.flatten(),
        extra: Map::new(),
        raw_extra: extra,
    })
}
