//! The fuzz entries as properties: for every target, arbitrary bytes, arbitrary JSON and
//! mutations of the seed corpus (`fuzz/corpus/<target>/`) never panic and are each handled
//! within a generous bound; every input in `fuzz/regressions/<target>/` is replayed; and the
//! cache loader's time grows linearly with the document.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};

use super::{TARGETS, run};

/// "Never hangs": each input, at most a few KiB, is handled well within this even in debug on a
/// loaded machine (they take microseconds to milliseconds).
const BOUND: Duration = Duration::from_secs(10);

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir`, sorted by name (none when it does not exist).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (!name.starts_with('.') && name != "README.md")
                .then(|| std::fs::read(e.path()).ok().map(|b| (name, b)))
                .flatten()
        })
        .collect();
    out.sort();
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let seeds: Vec<Vec<u8>> = files(&fuzz_dir().join("corpus").join(target))
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert!(!seeds.is_empty(), "no seed corpus for {target}");
    seeds
}

/// Runs `target` on `data`, checking the time bound.
fn timed(target: &str, data: &[u8]) {
    let started = Instant::now();
    assert!(run(target, data), "no fuzz target {target}");
    let took = started.elapsed();
    assert!(
        took < BOUND,
        "{target}: an input of {} bytes took {took:?}",
        data.len()
    );
}

/// Values that have broken parsers: numbers past every integer type, negative and fractional
/// lifetimes, numbers as strings, empty and odd strings, deep nesting.
fn hostile_values() -> Vec<Value> {
    let mut deep = json!("x");
    for _ in 0..100 {
        deep = json!([deep]);
    }
    vec![
        json!(1e300),
        json!(-1e300),
        json!(-1),
        json!(0),
        json!(0.5),
        json!(u64::MAX),
        json!(i64::MIN),
        json!("18446744073709551615"),
        json!("18446744073709551616"),
        json!("-1"),
        json!("1e300"),
        json!("soon"),
        json!(""),
        json!(" "),
        json!("\u{0}"),
        json!("\u{10FFFF}é\u{202E}"),
        json!("a".repeat(300)),
        json!("https://evil.example/adfs"),
        json!("http://login.microsoftonline.com/x"),
        json!(null),
        json!(true),
        json!({}),
        json!([]),
        json!({"nested": {"a": [1, "b", null]}}),
        deep,
    ]
}

/// Byte strings that have broken parsers: Python's json extensions, lone surrogates, structure
/// characters, percent escapes, invalid UTF-8.
const HOSTILE_BYTES: [&[u8]; 26] = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"1e999",
    b"-0",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[[[[[[[[[[[[[[[[",
    b"]",
    b",",
    b":",
    b"null",
    b"%",
    b"%ZZ",
    b"&",
    b"=",
    b"+",
    b"\xff",
    b"\xc3",
    b"\r\n",
    b".",
    b"==",
];

/// One byte-level mutation: `(kind, position, length, which)`.
type ByteOp = (u8, usize, usize, usize);

fn mutate_bytes(seed: &[u8], ops: &[ByteOp]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for &(kind, pos, len, which) in ops {
        let at = if v.is_empty() { 0 } else { pos % (v.len() + 1) };
        let end = at.saturating_add(len % 32).min(v.len());
        match kind % 6 {
            0 if at < v.len() => v[at] ^= 1 << (which % 8),
            1 => {
                let tok = HOSTILE_BYTES[which % HOSTILE_BYTES.len()];
                v.splice(at..at, tok.iter().copied());
            }
            2 => {
                v.drain(at..end);
            }
            3 => {
                let copy = v[at..end].to_vec();
                v.splice(at..at, copy);
            }
            4 => v.truncate(at),
            _ if at < v.len() => v[at] = HOSTILE_BYTES[which % HOSTILE_BYTES.len()][0],
            _ => {}
        }
        if v.len() > 16 * 1024 {
            v.truncate(16 * 1024);
        }
    }
    v
}

/// Every value in `v` (itself included), by JSON pointer.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One structural mutation of a JSON seed: `(which value, what to do, with which value)`.
type JsonOp = (usize, u8, usize);

fn mutate_json(seed: &Value, ops: &[JsonOp]) -> Value {
    let hostile = hostile_values();
    let mut v = seed.clone();
    for &(which, kind, with) in ops {
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let target = &all[which % all.len()];
        if target.is_empty() {
            continue; // the root stays an object or array: mutate inside it
        }
        let (parent, last) = target.rsplit_once('/').unwrap_or(("", target));
        let replacement = hostile[with % hostile.len()].clone();
        match kind % 4 {
            // Replace the value.
            0 | 1 => {
                if let Some(slot) = v.pointer_mut(target) {
                    *slot = replacement;
                }
            }
            // Remove it.
            2 => match v.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.shift_remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            },
            // Wrap it in an object with an unknown member next to it.
            _ => {
                if let Some(slot) = v.pointer_mut(target) {
                    let inner = slot.take();
                    let mut m = Map::new();
                    m.insert("value".to_owned(), inner);
                    m.insert("x-unknown".to_owned(), replacement);
                    *slot = Value::Object(m);
                }
            }
        }
    }
    v
}

/// Arbitrary JSON, a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[ -~é\u{0}]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "access_token",
            "expires_in",
            "https://login.microsoftonline.com/common/v2.0",
            "18446744073709551615",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(
                (
                    prop::sample::select(vec![
                        "access_token",
                        "expires_in",
                        "refresh_in",
                        "id_token",
                        "client_info",
                        "device_code",
                        "user_code",
                        "interval",
                        "token_endpoint",
                        "issuer",
                        "metadata",
                        "aliases",
                        "AccessToken",
                        "Account",
                        "x",
                    ]),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn byte_ops() -> impl Strategy<Value = Vec<ByteOp>> {
    vec(
        (any::<u8>(), any::<usize>(), any::<usize>(), any::<usize>()),
        1..8,
    )
}

fn json_ops() -> impl Strategy<Value = Vec<JsonOp>> {
    vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6)
}

macro_rules! fuzz_properties {
    ($($target:ident),* $(,)?) => {$(
        mod $target {
            use super::*;

            const TARGET: &str = stringify!($target);

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn arbitrary_bytes(data in vec(any::<u8>(), 0..512)) {
                    timed(TARGET, &data);
                }

                #[test]
                fn arbitrary_json(v in arb_json()) {
                    timed(TARGET, &serde_json::to_vec(&v).expect("serializes"));
                }

                #[test]
                fn seed_byte_mutations(which in any::<usize>(), ops in byte_ops()) {
                    let seeds = seeds(TARGET);
                    timed(TARGET, &mutate_bytes(&seeds[which % seeds.len()], &ops));
                }

                #[test]
                fn seed_json_mutations(which in any::<usize>(), ops in json_ops(), pretty in any::<bool>()) {
                    let seeds = seeds(TARGET);
                    let seed = &seeds[which % seeds.len()];
                    // Seeds that are not JSON (query strings, compact JWTs) get byte mutations only.
                    if let Ok(v) = serde_json::from_slice::<Value>(seed) {
                        let m = mutate_json(&v, &ops);
                        let bytes = if pretty {
                            serde_json::to_vec_pretty(&m)
                        } else {
                            serde_json::to_vec(&m)
                        };
                        timed(TARGET, &bytes.expect("serializes"));
                    }
                }
            }
        }
    )*};
}

fuzz_properties!(
    cache_document,
    token_response,
    device_code,
    id_token,
    auth_response,
    oidc_discovery,
    instance_discovery,
);

/// The targets here, the libFuzzer binaries and the corpora agree, and every seed passes.
#[test]
fn every_target_has_a_binary_and_seeds_that_pass() {
    let dir = fuzz_dir();
    for target in TARGETS {
        assert!(
            dir.join("fuzz_targets")
                .join(format!("{target}.rs"))
                .is_file(),
            "fuzz/fuzz_targets/{target}.rs is missing"
        );
        for seed in seeds(target) {
            timed(target, &seed);
        }
    }
    let binaries = files(&dir.join("fuzz_targets"));
    assert_eq!(
        binaries.len(),
        TARGETS.len(),
        "a fuzz target not in TARGETS"
    );
    assert!(!run("no_such_target", b""));
}

/// The inputs in `fuzz/regressions/<target>/` once broke an invariant; they must all pass now.
/// Those named `open-*` are defects still open: [`open_regressions`] replays them.
#[test]
fn regressions_replay() {
    for target in TARGETS {
        for (name, data) in files(&fuzz_dir().join("regressions").join(target)) {
            if !name.starts_with("open-") {
                timed(target, &data);
            }
        }
    }
}

/// The `open-*` regressions: fails while a defect they show is open
/// (`cargo test -p msal-core --lib fuzzing -- --ignored`).
#[test]
#[ignore = "replays defects still open (fuzz/regressions/*/open-*)"]
fn open_regressions() {
    let mut failed = Vec::new();
    for target in TARGETS {
        for (name, data) in files(&fuzz_dir().join("regressions").join(target)) {
            if name.starts_with("open-")
                && catch_unwind(AssertUnwindSafe(|| run(target, &data))).is_err()
            {
                failed.push(format!("{target}/{name}"));
            }
        }
    }
    assert!(failed.is_empty(), "still failing: {failed:?}");
}

/// A cache document with `entries` access tokens and accounts (each account with an unknown
/// field) and `sections` unknown top-level sections, as another MSAL (or a newer one) might
/// write it.
fn document(entries: usize, sections: usize) -> String {
    let mut at = Map::new();
    let mut accounts = Map::new();
    let mut doc = Map::new();
    for i in 0..entries {
        let home =
            format!("{i:08x}-0000-0000-66f3-3332eca7ea81.72f988bf-86f1-41af-91ab-2d7cd011db47");
        at.insert(
            format!("{home}-login.microsoftonline.com-accesstoken-5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60-72f988bf-86f1-41af-91ab-2d7cd011db47-user.read"),
            json!({
                "credential_type": "AccessToken",
                "secret": format!("eyJ0eXAiOiJKV1QifQ.{i}.c2ln"),
                "home_account_id": home,
                "environment": "login.microsoftonline.com",
                "client_id": "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60",
                "target": "User.Read",
                "realm": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "token_type": "Bearer",
                "cached_at": "1767225600",
                "expires_on": "1767229199",
                "extended_expires_on": "1767229199",
            }),
        );
        accounts.insert(
            format!("{home}-login.microsoftonline.com-72f988bf-86f1-41af-91ab-2d7cd011db47"),
            json!({
                "home_account_id": home,
                "environment": "login.microsoftonline.com",
                "realm": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "local_account_id": format!("{i:08x}-0000-0000-66f3-3332eca7ea81"),
                "username": format!("user{i}@contoso.com"),
                "authority_type": "MSSTS",
                "x_unknown_field": {"kept": [i]},
            }),
        );
    }
    doc.insert("AccessToken".to_owned(), Value::Object(at));
    doc.insert("Account".to_owned(), Value::Object(accounts));
    for i in 0..sections {
        doc.insert(format!("UnknownSection{i}"), json!({"kept": i}));
    }
    serde_json::to_string_pretty(&Value::Object(doc)).expect("serializes")
}

/// The least time of a few loads of `doc` (the least is the one least disturbed by the other
/// work on the machine).
fn load_time(doc: &str) -> Duration {
    (0..5)
        .map(|_| {
            let cache = crate::TokenCache::new();
            let t = Instant::now();
            cache.deserialize(doc).expect("a valid document");
            let took = t.elapsed();
            drop(cache);
            took
        })
        .min()
        .unwrap_or_default()
}

/// Loads `small` and `large` (8x its size) and checks that the time grows well under
/// quadratically: a linear loader takes ~8x as long, a quadratic one ~64x (a ratio, so the
/// machine's speed does not matter).
fn assert_linear(what: &str, small: &str, large: &str) {
    let _ = load_time(small); // warm up the allocator and caches
    let (ts, tl) = (load_time(small), load_time(large));
    let ratio = tl.as_secs_f64() / ts.as_secs_f64().max(1e-6);
    eprintln!(
        "load ({what}): {} bytes in {ts:?}, {} bytes in {tl:?}: ratio {ratio:.1} for 8x",
        small.len(),
        large.len()
    );
    assert!(
        // Well below quadratic (~64), with room for timing noise on a loaded machine.
        ratio < 40.0,
        "loading 8x the {what} took {ratio:.1}x as long (linear: ~8, quadratic: ~64)"
    );
}

/// Load time is linear in the number of entries.
#[test]
fn load_time_is_linear_in_entries() {
    assert_linear("entries", &document(1_000, 0), &document(8_000, 0));
}

/// Load time is linear in the number of unknown top-level sections.
#[test]
fn load_time_is_linear_in_unknown_sections() {
    assert_linear(
        "unknown sections",
        &document(10, 8_000),
        &document(10, 64_000),
    );
}
