//! Cache writes as operations. Every change to a cache document — in memory, or inside a
//! store's lock or compare-and-set — is one of these, applied to the freshest data; a writer's
//! possibly stale view is never written back (see the module documentation of `cache::store`).
//!
//! A document where an account was removed also carries msal-rs's bookkeeping in a top-level
//! `MsalRs` section (other MSALs keep unknown sections): a removal sequence number and the
//! sequence at which each account was removed, so that a write based on what was read before a
//! removal (a refresh token used by a stale writer) cannot bring the account back. Documents
//! without removals stay exactly as MSAL Python writes them.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::document::{Document, Entry, Kind};
use super::entries::NewEntries;
use super::schema::{AccessTokenEntity, AccountEntity, RefreshTokenEntity};
use crate::authority::known_aliases;

/// The top-level section holding msal-rs's bookkeeping.
pub(crate) const BOOKKEEPING: &str = "MsalRs";

/// A change to apply to a document.
#[derive(Debug, Clone)]
pub(crate) enum Operation {
    /// Record a token response.
    Add {
        entries: NewEntries,
        /// The document sequence the request was based on (the sequence at which its refresh
        /// token was read); an account removed after it is not brought back.
        based_on: Option<u64>,
    },
    /// Remove the app tokens (no home account) of a client in some environments.
    RemoveAppTokens {
        client_id: String,
        environments: Vec<String>,
    },
    /// Remove an account in one environment (any realm): its access tokens, ID tokens and
    /// account entries for every client, and its refresh tokens — of every client, or only
    /// those of one client and its family (an app signing its user out, msal/application.py `remove_account`).
    RemoveAccount {
        home_account_id: String,
        environment: String,
        refresh_tokens_of: Option<(String, Option<String>)>,
    },
}

/// One entry changed: its key, what it was, what it is now.
pub(crate) type Change<T> = (String, Option<Arc<T>>, Option<Arc<T>>);

/// What an operation changed, for the index.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) access_tokens: Vec<Change<AccessTokenEntity>>,
    pub(crate) accounts: Vec<Change<AccountEntity>>,
    pub(crate) refresh_tokens: Vec<Change<RefreshTokenEntity>>,
}

/// The document's removal sequence (0 when no account was ever removed from it): what a
/// refresh based on this document's contents is `based_on`.
pub(crate) fn sequence(doc: &Document) -> u64 {
    doc.unknown_section(BOOKKEEPING)
        .and_then(|v| v.get("sequence"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn removed_at(doc: &Document, account: &str) -> Option<u64> {
    doc.unknown_section(BOOKKEEPING)
        .and_then(|v| v.get("removed_accounts"))
        .and_then(|v| v.get(account))
        .and_then(Value::as_u64)
}

fn account_marker(home_account_id: &str, environment: &str) -> String {
    format!(
        "{}-{}",
        home_account_id.to_ascii_lowercase(),
        environment.to_ascii_lowercase()
    )
}

/// Records that `account` is removed, at a new sequence number.
fn record_removal(doc: &mut Document, account: &str) {
    let mut section = match doc.unknown_section(BOOKKEEPING) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let seq = section
        .get("sequence")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .saturating_add(1);
    section.insert("sequence".to_owned(), json!(seq));
    let mut accounts = match section.get("removed_accounts") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    accounts.insert(account.to_owned(), json!(seq));
    section.insert("removed_accounts".to_owned(), Value::Object(accounts));
    doc.set_unknown_section(BOOKKEEPING, Value::Object(section));
}

/// Forgets the removal of `account` (it signed in again); the sequence stays.
fn lift_removal(doc: &mut Document, account: &str) {
    let Some(Value::Object(mut section)) = doc.unknown_section(BOOKKEEPING).cloned() else {
        return;
    };
    if let Some(Value::Object(accounts)) = section.get_mut("removed_accounts") {
        accounts.remove(account);
    }
    doc.set_unknown_section(BOOKKEEPING, Value::Object(section));
}

fn put_at(doc: &mut Document, ch: &mut Changes, at: Arc<AccessTokenEntity>) {
    let key = at.key();
    let old = doc.access_tokens.get(&key).and_then(Entry::known).cloned();
    doc.put(key.clone(), Arc::clone(&at));
    ch.access_tokens.push((key, old, Some(at)));
}

fn put_account(doc: &mut Document, ch: &mut Changes, a: Arc<AccountEntity>) {
    let key = a.key();
    let old = doc.accounts.get(&key).and_then(Entry::known).cloned();
    doc.put(key.clone(), Arc::clone(&a));
    ch.accounts.push((key, old, Some(a)));
}

fn put_rt(doc: &mut Document, ch: &mut Changes, rt: Arc<RefreshTokenEntity>) {
    let key = rt.key();
    let old = doc.refresh_tokens.get(&key).and_then(Entry::known).cloned();
    doc.put(key.clone(), Arc::clone(&rt));
    ch.refresh_tokens.push((key, old, Some(rt)));
}

/// Removes the access tokens `doomed` selects (by the key they are stored under, and value).
fn remove_ats(
    doc: &mut Document,
    ch: &mut Changes,
    doomed: impl Fn(&str, &AccessTokenEntity) -> bool,
) {
    let keys: Vec<String> = doc
        .access_tokens
        .iter()
        .filter_map(|(k, e)| e.known().filter(|at| doomed(k, at)).map(|_| k.clone()))
        .collect();
    for key in keys {
        if let Some(at) = doc
            .access_tokens
            .shift_remove(&key)
            .and_then(Entry::into_known)
        {
            ch.access_tokens.push((key, Some(at), None));
        }
    }
}

/// Whether `old` holds the same token as `new` under another key: same account (or both app
/// tokens), client, realm, token type, extended cache key, key id and scopes (compared as
/// sets, case-insensitively), in the same environment or another alias of its cloud (the
/// caller keeps the entry stored under the key `new` is written to). MSAL Node writes the public cloud's
/// tokens as `login.windows.net`, and a target in the response's scope order (`User.Read
/// profile openid`) where msal-rs, like MSAL Python's `TokenCache.add`, sorts it; left next to
/// a newer one of the same slot, MSAL Node finds two matches and drops both (msal-common's
/// `CacheManager.getAccessToken` removes every match when there are several; its
/// `saveAccessToken` likewise removes the tokens the new one replaces). The new token answers
/// every lookup the old one did (lookups match every alias of the cloud and compare scopes as
/// sets).
fn superseded(old: &AccessTokenEntity, new: &AccessTokenEntity) -> bool {
    fn scopes(target: &str) -> std::collections::BTreeSet<String> {
        target
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect()
    }
    let same_cloud = old.environment.eq_ignore_ascii_case(&new.environment)
        || known_aliases(&new.environment)
            .is_some_and(|g| g.iter().any(|h| h.eq_ignore_ascii_case(&old.environment)));
    same_cloud
        && old.home_account_id == new.home_account_id
        && old.client_id == new.client_id
        && old.realm.eq_ignore_ascii_case(&new.realm)
        && old.token_type.eq_ignore_ascii_case(&new.token_type)
        && old.ext_cache_key.as_deref().unwrap_or("") == new.ext_cache_key.as_deref().unwrap_or("")
        && old.key_id == new.key_id
        && old.user_assertion_hash == new.user_assertion_hash
        && old.extra.get("requested_claims_hash") == new.extra.get("requested_claims_hash")
        && scopes(&old.target) == scopes(&new.target)
}

impl Operation {
    /// Applies the operation to `doc` at time `now` (Unix seconds); expired access tokens are
    /// swept on the way. Returns what changed.
    pub(crate) fn apply(&self, doc: &mut Document, now: u64) -> Changes {
        let mut ch = Changes::default();
        remove_ats(doc, &mut ch, |_, at| at.expires_on < now);
        match self {
            Operation::Add { entries, based_on } => {
                let account = entries
                    .home_account_id
                    .as_deref()
                    .map(|hid| account_marker(hid, &entries.app_metadata.environment));
                let removed_after_read = match (&account, based_on) {
                    (Some(a), Some(read)) => removed_at(doc, a).is_some_and(|r| r > *read),
                    _ => false,
                };
                if removed_after_read {
                    // The account was signed out after this request read its refresh token:
                    // keep it signed out. App metadata is not per account and is kept.
                    doc.put(
                        entries.app_metadata.key(),
                        Arc::clone(&entries.app_metadata),
                    );
                    return ch;
                }
                if let Some(at) = &entries.access_token {
                    let key = at.key();
                    remove_ats(doc, &mut ch, |old_key, old| {
                        old_key != key && superseded(old, at)
                    });
                    put_at(doc, &mut ch, Arc::clone(at));
                }
                if let Some(a) = &entries.account {
                    put_account(doc, &mut ch, Arc::clone(a));
                }
                if let Some(idt) = &entries.id_token {
                    doc.put(idt.key(), Arc::clone(idt));
                }
                if let Some(rt) = &entries.refresh_token {
                    put_rt(doc, &mut ch, Arc::clone(rt));
                }
                doc.put(
                    entries.app_metadata.key(),
                    Arc::clone(&entries.app_metadata),
                );
                // A new sign-in (not based on an earlier read) lifts a removal.
                if let (Some(a), None) = (&account, based_on)
                    && removed_at(doc, a).is_some()
                {
                    lift_removal(doc, a);
                }
            }
            Operation::RemoveAppTokens {
                client_id,
                environments,
            } => {
                remove_ats(doc, &mut ch, |_, at| {
                    at.home_account_id.is_none()
                        && at.client_id.as_deref() == Some(client_id.as_str())
                        && environments
                            .iter()
                            .any(|e| e.eq_ignore_ascii_case(&at.environment))
                });
            }
            Operation::RemoveAccount {
                home_account_id,
                environment,
                refresh_tokens_of,
            } => {
                let mine = |hid: Option<&str>, env: &str| {
                    hid == Some(home_account_id.as_str()) && env.eq_ignore_ascii_case(environment)
                };
                remove_ats(doc, &mut ch, |_, at| {
                    mine(at.home_account_id.as_deref(), &at.environment)
                });
                let rts: Vec<String> = doc
                    .refresh_tokens
                    .iter()
                    .filter_map(|(k, e)| {
                        e.known()
                            .filter(|rt| mine(rt.home_account_id.as_deref(), &rt.environment))
                            .filter(|rt| match refresh_tokens_of {
                                None => true,
                                Some((client, family)) => {
                                    rt.client_id.as_deref() == Some(client.as_str())
                                        || family
                                            .as_deref()
                                            .is_some_and(|f| rt.family_id.as_deref() == Some(f))
                                }
                            })
                            .map(|_| k.clone())
                    })
                    .collect();
                for key in rts {
                    if let Some(rt) = doc
                        .refresh_tokens
                        .shift_remove(&key)
                        .and_then(Entry::into_known)
                    {
                        ch.refresh_tokens.push((key, Some(rt), None));
                    }
                }
                let idts: Vec<String> = doc
                    .id_tokens
                    .iter()
                    .filter_map(|(k, e)| {
                        e.known()
                            .filter(|t| mine(t.home_account_id.as_deref(), &t.environment))
                            .map(|_| k.clone())
                    })
                    .collect();
                for key in idts {
                    doc.remove(Kind::IdToken, &key);
                }
                let accounts: Vec<String> = doc
                    .accounts
                    .iter()
                    .filter_map(|(k, e)| {
                        e.known()
                            .filter(|a| mine(a.home_account_id.as_deref(), &a.environment))
                            .map(|_| k.clone())
                    })
                    .collect();
                for key in accounts {
                    if let Some(a) = doc.accounts.shift_remove(&key).and_then(Entry::into_known) {
                        ch.accounts.push((key, Some(a), None));
                    }
                }
                record_removal(doc, &account_marker(home_account_id, environment));
            }
        }
        ch
    }
}
