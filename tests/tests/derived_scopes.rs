//! Derived resources end to end: a client-credentials call with `Graph::default_scope()` and a
//! user sign-in with `[Graph::UserRead, Graph::MailSend]` against the emulator over HTTPS, the
//! scopes they put on the wire, the cache hits they then get, and — with a counting allocator —
//! that a cache hit allocates nothing, with derived scopes or with the scope written as a `&str`,
//! `[&str]` or `&[String]`.

mod support;

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use msal_core::{Authority, Resource, TokenSource};
use msal_tests::emulator::seeds;
use support::Env;

// Linking `allocation_counter` makes it this test binary's global allocator; it counts the
// allocations of the measuring thread only, so other tests running meanwhile do not disturb it.

/// Microsoft Graph, as users declare it.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
#[resource("https://graph.microsoft.com")]
enum Graph {
    /// Read the signed-in user's profile.
    #[scope("User.Read")]
    UserRead,
    /// Send mail as the user.
    #[scope("Mail.Send")]
    MailSend,
}

/// Polls `f` once, on this thread, with a waker that does nothing: a cache hit must be ready.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    pin!(f).poll(&mut cx)
}

fn scope_sent(form: &[(String, String)]) -> &str {
    form.iter()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .expect("a scope field")
}

#[tokio::test]
async fn client_credentials_with_graph_default_scope_and_an_allocation_free_hit() {
    let env = Env::start().await;
    let app = env.secret_app();

    let first = app
        .acquire_token_for_client(Graph::default_scope())
        .await
        .expect("a token from the emulator");
    assert_eq!(first.source(), TokenSource::IdentityProvider);
    assert_eq!(first.scopes(), "https://graph.microsoft.com/.default");
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(
        scope_sent(&posts[0].form),
        "https://graph.microsoft.com/.default"
    );

    let second = app
        .acquire_token_for_client(Graph::default_scope())
        .await
        .expect("a hit");
    assert_eq!(second.source(), TokenSource::Cache);
    assert_eq!(
        second.access_token().secret(),
        first.access_token().secret()
    );

    // Warm once more (lazy statics, thread-locals), then count one whole call: building the
    // request, the lookup, the ready future and its result.
    drop(poll_once(
        app.acquire_token_for_client(Graph::default_scope())
            .into_future(),
    ));
    let mut hit = None;
    let during = allocation_counter::measure(|| {
        hit = Some(poll_once(
            app.acquire_token_for_client(Graph::default_scope())
                .into_future(),
        ));
    })
    .count_total;
    let hit = hit.expect("measured");
    let Poll::Ready(Ok(hit)) = hit else {
        panic!("a cache hit is ready at the first poll: {hit:?}");
    };
    assert_eq!(hit.source(), TokenSource::Cache);
    assert_eq!(hit.access_token().secret(), first.access_token().secret());
    drop(hit);
    assert_eq!(
        during, 0,
        "a cache hit with Graph::default_scope() allocated {during} time(s)"
    );

    // What users write allocates nothing either: the scope as a `&str` (here not `'static`),
    // as `[&str]`, as a slice of `String`s, and as a `&str` holding two scopes (the second one
    // not granted: a miss would be pending, not ready, so only the first is hit-tested).
    let owned = String::from("https://graph.microsoft.com/.default");
    let scope = owned.as_str();
    let strings = [owned.clone()];
    let cases: [(&str, &dyn Fn() -> Poll<_>); 3] = [
        ("&str", &|| {
            poll_once(app.acquire_token_for_client(scope).into_future())
        }),
        ("[&str; 1]", &|| {
            poll_once(app.acquire_token_for_client([scope]).into_future())
        }),
        ("&[String]", &|| {
            poll_once(app.acquire_token_for_client(&strings[..]).into_future())
        }),
    ];
    for (what, call) in cases {
        drop(call());
        let mut hit = None;
        let during = allocation_counter::measure(|| hit = Some(call())).count_total;
        let Some(Poll::Ready(Ok(hit))) = hit else {
            panic!("a cache hit with the scope as {what} is ready at the first poll: {hit:?}");
        };
        assert_eq!(hit.source(), TokenSource::Cache);
        assert_eq!(hit.access_token().secret(), first.access_token().secret());
        drop(hit);
        assert_eq!(
            during, 0,
            "a cache hit with the scope as {what} allocated {during} time(s)"
        );
    }

    // The counter does count: the result of a hit, cloned, allocates.
    let counted = allocation_counter::measure(|| {
        let Poll::Ready(Ok(hit)) = poll_once(app.acquire_token_for_client(scope).into_future())
        else {
            panic!("a hit");
        };
        drop(std::hint::black_box(hit.access_token().secret().to_owned()));
    });
    assert!(counted.count_total > 0, "the counting allocator counts");
    assert_eq!(env.token_requests().await.len(), 1, "hits send nothing");
}

#[tokio::test]
async fn a_user_signs_in_with_graph_user_read_and_mail_send() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let flow = app
        .auth_code_flow([Graph::UserRead, Graph::MailSend])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate");
    let q: std::collections::HashMap<String, String> = url::Url::parse(flow.auth_uri())
        .expect("a URL")
        .query_pairs()
        .into_owned()
        .collect();
    let expected = "https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/User.Read \
                    offline_access openid profile";
    assert_eq!(q["scope"], expected);

    let response = env.browse(flow.auth_uri()).await;
    let done = flow
        .complete(&app, response.as_str())
        .await
        .expect("complete");
    let signed_in = done.result().clone();
    let account = done.account().expect("an account").clone();
    assert_eq!(signed_in.source(), TokenSource::IdentityProvider);
    let granted: Vec<&str> = signed_in.scopes().split(' ').collect();
    assert!(granted.contains(&"https://graph.microsoft.com/User.Read"));
    assert!(granted.contains(&"https://graph.microsoft.com/Mail.Send"));
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(scope_sent(&posts[0].form), expected);

    // Silent hits with the derived scopes: both, one, and the other, in any order.
    for silent in [
        app.acquire_token_silent([Graph::MailSend, Graph::UserRead], &account)
            .await,
        app.acquire_token_silent(Graph::UserRead, &account).await,
        app.acquire_token_silent(&[Graph::MailSend][..], &account)
            .await,
    ] {
        let silent = silent.expect("a silent hit");
        assert_eq!(silent.source(), TokenSource::Cache);
        assert_eq!(
            silent.access_token().secret(),
            signed_in.access_token().secret()
        );
    }
    assert_eq!(
        env.token_requests().await.len(),
        1,
        "silent hits send nothing"
    );
}
