//! Cache documents as MSAL Python writes them, through the public API: what Python's `json`
//! reads and writes beyond RFC 8259 (`NaN`, `Infinity`, `-Infinity`, lone surrogate escapes,
//! deep nesting) is accepted where the library does not interpret it and written back byte for
//! byte, tokens next to it stay usable, a shared file holding it can still be written, too deep
//! a document is a typed error, and loading stays linear in the number of unknown sections.

mod support;

use std::time::{Duration, Instant};

use msal_cache_file::FileCache;
use msal_core::cache::CacheOptions;
use msal_core::{Authority, ClientCredential, ErrorKind, TokenCache, TokenSource};
use msal_tests::emulator::seeds;
use support::{Env, GRAPH_DEFAULT};

/// `depth` levels of nested arrays around `1`, as `json.dumps(indent=4)` writes them as the
/// value of a member at indentation `at` (checked against CPython 3.11).
fn python_nested(depth: usize, at: usize) -> String {
    let mut s = String::new();
    for level in 0..depth {
        s.push_str("[\n");
        s.push_str(&"    ".repeat(at + level + 1));
    }
    s.push('1');
    for level in (0..depth).rev() {
        s.push('\n');
        s.push_str(&"    ".repeat(at + level));
        s.push(']');
    }
    s
}

/// One member at indentation 3 (an entry's field) per construct Python accepts and RFC 8259
/// does not, in Python's layout.
fn python_fields() -> Vec<String> {
    vec![
        "\"x_nan\": NaN".to_owned(),
        "\"x_inf\": Infinity".to_owned(),
        "\"x_ninf\": -Infinity".to_owned(),
        "\"x_lone\": \"a\\ud800b\\udfff\"".to_owned(),
        "\"x_float\": 8.390570512703765e+211".to_owned(),
        format!("\"x_deep\": {}", python_nested(200, 3)),
        "\"x_\\udc00\": [\n                NaN,\n                -Infinity\n            ]"
            .to_owned(),
    ]
}

/// An unknown top-level section holding every construct, in Python's layout.
fn python_section() -> String {
    format!(
        "    \"PythonOnly\": {{\n        \"nan\": NaN,\n        \"inf\": Infinity,\n        \"ninf\": -Infinity,\n        \"lone\": \"\\ud800\",\n        \"deep\": {}\n    }}",
        python_nested(200, 2)
    )
}

/// `text` (a document msal-rs wrote) with `fields` appended to its first access token entry
/// and `section` appended at the end: what MSAL Python writes after adding them.
fn with_python_content(text: &str, fields: &[String], section: &str) -> String {
    let at = text
        .find("\"AccessToken\": {")
        .expect("an AccessToken section");
    let end = at + text[at..].find("\n        }").expect("an entry");
    let mut out = String::new();
    out.push_str(&text[..end]);
    for f in fields {
        out.push_str(",\n            ");
        out.push_str(f);
    }
    let close = text.rfind("\n}").expect("the top-level object");
    out.push_str(&text[end..close]);
    out.push_str(",\n");
    out.push_str(section);
    out.push_str(&text[close..]);
    out
}

fn file_cache(path: &std::path::Path) -> TokenCache {
    TokenCache::with_store_options(
        FileCache::new(path),
        CacheOptions::default().max_staleness(Duration::ZERO),
    )
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "msal-rs-cache-documents-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).expect("dir");
    d
}

#[tokio::test]
async fn python_only_json_is_kept_byte_for_byte_and_the_shared_file_stays_writable() {
    let env = Env::start().await;
    let dir = temp_dir();
    let path = dir.join("msal_token_cache.json");
    let app = |cache: TokenCache| {
        env.app(
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            Some(cache),
            None,
        )
    };
    let first = app(file_cache(&path));
    let r = first
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let written = std::fs::read_to_string(&path).expect("the file exists");

    // Each construct alone, then all together: MSAL Python edits the shared file.
    let fields = python_fields();
    let mut documents: Vec<String> = fields
        .iter()
        .map(|f| with_python_content(&written, std::slice::from_ref(f), &python_section()))
        .collect();
    documents.push(with_python_content(&written, &fields, &python_section()));
    for doc in &documents {
        // In memory: loads, and comes out byte for byte.
        let cache = TokenCache::new();
        cache
            .deserialize(doc)
            .expect("Python's json reads it, so do we");
        assert_eq!(&cache.serialize().expect("writes"), doc);

        // In the shared file: the token next to it is served from the cache...
        std::fs::write(&path, doc).expect("Python writes the file");
        let other = app(file_cache(&path));
        let hit = other
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("token");
        assert_eq!(hit.source(), TokenSource::Cache);
        assert_eq!(hit.access_token().secret(), r.access_token().secret());
        assert_eq!(std::fs::read_to_string(&path).expect("file"), *doc);
    }

    // ...and the file can still be written: a token for another tenant joins it, and every
    // byte of what Python wrote is still there.
    let doc = documents.last().expect("all constructs");
    let other = app(file_cache(&path));
    let before = env.token_requests().await.len();
    other
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("token");
    assert_eq!(env.token_requests().await.len(), before + 1);
    let after = std::fs::read_to_string(&path).expect("file");
    assert_ne!(&after, doc, "the new token was written");
    for f in &fields {
        assert!(
            after.contains(f.as_str()),
            "kept: {}",
            &f[..f.len().min(40)]
        );
    }
    assert!(after.contains(&python_section()));
    assert_eq!(
        after
            .matches("\"credential_type\": \"AccessToken\"")
            .count(),
        2
    );
    // The file written reads back to itself.
    let again = TokenCache::new();
    again.deserialize(&after).expect("reads");
    assert_eq!(again.serialize().expect("writes"), after);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_document_nested_deeper_than_python_reads_is_a_typed_error() {
    let cache = TokenCache::new();
    cache.deserialize(r#"{"X": 1}"#).expect("loads");
    let before = cache.serialize().expect("writes");
    // 8000 levels (16 KB) inside an unknown field of an entry, and inside a section.
    let deep = format!("{}{}", "[".repeat(8000), "]".repeat(8000));
    for doc in [
        format!(
            r#"{{"AppMetadata": {{"k": {{"client_id": "c", "environment": "e", "x": {deep}}}}}}}"#
        ),
        format!(r#"{{"X": {deep}}}"#),
        // Just past the limit: the top-level object is level 1.
        format!(r#"{{"X": {}{}}}"#, "[".repeat(1000), "]".repeat(1000)),
    ] {
        let err = cache.deserialize(&doc).expect_err("too deep");
        assert_eq!(err.kind(), ErrorKind::Cache);
        assert!(err.to_string().contains("1000 levels"), "{err}");
        assert_eq!(cache.serialize().expect("writes"), before, "nothing lost");
    }
    // At the limit, it loads.
    let at_limit = format!(r#"{{"X": {}{}}}"#, "[".repeat(999), "]".repeat(999));
    cache
        .deserialize(&at_limit)
        .expect("999 arrays in a section: 1000 levels");
}

#[test]
fn load_time_is_linear_in_the_number_of_unknown_sections() {
    fn document(n: usize) -> String {
        let mut s = String::from("{");
        for i in 0..n {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("\"unknown-section-{i}\": {i}"));
        }
        s.push('}');
        s
    }
    // The fastest of a few runs, against noise from other work on the machine.
    fn load_time(doc: &str) -> Duration {
        (0..5)
            .map(|_| {
                let cache = TokenCache::new();
                let start = Instant::now();
                cache.deserialize(doc).expect("loads");
                start.elapsed()
            })
            .min()
            .expect("runs")
    }
    let (small, large) = (document(5_000), document(40_000));
    let (t_small, t_large) = (load_time(&small), load_time(&large));
    let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
    eprintln!("5k sections: {t_small:?}, 40k: {t_large:?}, ratio {ratio:.1}");
    // Eight times the input: ~8 when linear, ~64 when quadratic (the bug took 2.6 s for 40k).
    assert!(
        ratio < 30.0,
        "8x the sections took {ratio:.1}x the time ({t_small:?} -> {t_large:?})"
    );
    // And the same for a section name repeated (the complete reading).
    let repeated = format!("{}, \"unknown-section-0\": 1}}", &large[..large.len() - 1]);
    let repeated_small = format!("{}, \"unknown-section-0\": 1}}", &small[..small.len() - 1]);
    let ratio =
        load_time(&repeated).as_secs_f64() / load_time(&repeated_small).as_secs_f64().max(1e-6);
    assert!(ratio < 30.0, "complete reading: {ratio:.1}x");
}
