//! The provider's rules: authorization requests checked without I/O (one table, a case per
//! rule), PKCE, and the code's life through the service on a fixed clock, on SQLite and
//! PostgreSQL: single use, five minutes, bound to client, callback and verifier, and a
//! replayed code revoking what the first redemption got.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use gatehouse_storage::testkit::each_backend;

use super::request::{check_scopes, pkce_matches};
use super::*;
use crate::user_pools::config::{ClientConfig, OAuthFlow};
use crate::user_pools::tests::fixture;
use crate::user_pools::{
    AdminCreateUser, Client, MessageAction, NewClient, PoolConfig, ResourceServerScope, UserPool,
};

/// A verifier and its S256 challenge (computed with Python's hashlib).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kqyFIJS3JDs0kYEUb8GfXnP8aTnz";
const CHALLENGE: &str = "SBL_b-ulrD5vUDZOzwASQMH9DG32oBlGwewReWPReBU";
const CALLBACK: &str = "https://app.example.com/callback";

fn oauth_config() -> ClientConfig {
    ClientConfig {
        callback_urls: vec![CALLBACK.into(), "myapp://signed-in".into()],
        logout_urls: vec!["https://app.example.com/bye".into()],
        allowed_oauth_flows: vec![OAuthFlow::Code],
        allowed_oauth_scopes: vec![
            "openid".into(),
            "email".into(),
            "profile".into(),
            "https://api.example.com/read".into(),
        ],
        allowed_oauth_flows_user_pool_client: true,
        supported_identity_providers: vec![COGNITO_PROVIDER.into()],
        ..ClientConfig::default()
    }
}

fn client(secret: bool, config: ClientConfig) -> Client {
    Client {
        id: "client1".into(),
        pool_id: "us-east-1_pool".into(),
        name: "app".into(),
        secret: secret.then(|| "s3cret".to_owned()),
        config,
        created_at: SystemTime::UNIX_EPOCH,
        updated_at: SystemTime::UNIX_EPOCH,
    }
}

fn request(extra: &[(&str, &str)]) -> AuthorizeRequest {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", "client1"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    AuthorizeRequest::from_pairs(pairs)
}

/// What a case expects: a valid request, a page, or an error at the callback.
#[derive(Debug, PartialEq)]
enum Expect {
    Valid,
    Page(PageError),
    Redirect(&'static str),
}

fn check(name: &str, request: AuthorizeRequest, client: Option<&Client>, expected: Expect) {
    let resource = vec!["https://api.example.com/read".to_owned()];
    let got = match request.validate(client, &resource) {
        Ok(_) => Expect::Valid,
        Err(Refusal::Page(p)) => Expect::Page(p),
        Err(Refusal::Redirect(r)) => {
            assert_eq!(
                r.redirect_uri,
                request.redirect_uri.clone().unwrap_or_default(),
                "{name}"
            );
            assert!(r.location().starts_with(CALLBACK), "{name}");
            Expect::Redirect(r.error.code())
        }
    };
    assert_eq!(got, expected, "{name}");
}

#[test]
fn authorization_request_rules() {
    let public = client(false, oauth_config());
    let confidential = client(true, oauth_config());
    let no_code_flow = client(
        false,
        ClientConfig {
            allowed_oauth_flows: vec![OAuthFlow::ClientCredentials],
            ..oauth_config()
        },
    );
    let oauth_off = client(
        false,
        ClientConfig {
            allowed_oauth_flows_user_pool_client: false,
            ..oauth_config()
        },
    );
    let no_cognito = client(
        false,
        ClientConfig {
            supported_identity_providers: vec![],
            ..oauth_config()
        },
    );
    let with_default = client(
        false,
        ClientConfig {
            default_redirect_uri: Some(CALLBACK.into()),
            ..oauth_config()
        },
    );
    use Expect::*;
    let cases: Vec<(&str, AuthorizeRequest, Option<&Client>, Expect)> = vec![
        (
            "a public client with S256 PKCE",
            request(&[]),
            Some(&public),
            Valid,
        ),
        (
            "a confidential client may leave PKCE out",
            request(&[("code_challenge", ""), ("code_challenge_method", "")]),
            Some(&confidential),
            Valid,
        ),
        (
            "unknown client: page",
            request(&[]),
            None,
            Page(PageError::UnknownClient),
        ),
        (
            "no client_id: page",
            request(&[("client_id", "")]),
            None,
            Page(PageError::MissingClientId),
        ),
        (
            "redirect_uri mismatch: page",
            request(&[("redirect_uri", "https://evil.example/callback")]),
            Some(&public),
            Page(PageError::RedirectMismatch),
        ),
        (
            "no prefix matching: page",
            request(&[("redirect_uri", "https://app.example.com/callback/x")]),
            Some(&public),
            Page(PageError::RedirectMismatch),
        ),
        (
            "no query added to a callback: page",
            request(&[("redirect_uri", "https://app.example.com/callback?x=1")]),
            Some(&public),
            Page(PageError::RedirectMismatch),
        ),
        (
            "no case folding: page",
            request(&[("redirect_uri", "https://APP.example.com/callback")]),
            Some(&public),
            Page(PageError::RedirectMismatch),
        ),
        (
            "no redirect_uri and no default: page",
            request(&[("redirect_uri", "")]),
            Some(&public),
            Page(PageError::MissingRedirectUri),
        ),
        (
            "no redirect_uri with a DefaultRedirectURI",
            request(&[("redirect_uri", "")]),
            Some(&with_default),
            Valid,
        ),
        (
            "a repeated parameter: page",
            AuthorizeRequest::from_pairs([
                ("client_id", "client1"),
                ("redirect_uri", CALLBACK),
                ("redirect_uri", "https://evil.example"),
            ]),
            Some(&public),
            Page(PageError::RepeatedParameter),
        ),
        (
            "PKCE required for a client without a secret",
            request(&[("code_challenge", ""), ("code_challenge_method", "")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "plain PKCE refused",
            request(&[("code_challenge_method", "plain")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "a challenge without a method (plain by default) refused",
            request(&[("code_challenge_method", "")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "a malformed challenge refused",
            request(&[("code_challenge", "short")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "response_type token refused",
            request(&[("response_type", "token")]),
            Some(&public),
            Redirect("unsupported_response_type"),
        ),
        (
            "response_type missing",
            request(&[("response_type", "")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "a scope the client may not have",
            request(&[("scope", "openid phone")]),
            Some(&public),
            Redirect("invalid_scope"),
        ),
        (
            "a scope nobody defined",
            request(&[("scope", "openid https://api.example.com/write")]),
            Some(&public),
            Redirect("invalid_scope"),
        ),
        (
            "a resource-server scope",
            request(&[("scope", "openid https://api.example.com/read")]),
            Some(&public),
            Valid,
        ),
        (
            "email needs openid",
            request(&[("scope", "email")]),
            Some(&public),
            Redirect("invalid_scope"),
        ),
        (
            "no scope: the client's",
            request(&[("scope", "")]),
            Some(&public),
            Valid,
        ),
        (
            "code flow not allowed",
            request(&[]),
            Some(&no_code_flow),
            Redirect("unauthorized_client"),
        ),
        (
            "OAuth off for the client",
            request(&[]),
            Some(&oauth_off),
            Redirect("unauthorized_client"),
        ),
        (
            "COGNITO not a provider of the client",
            request(&[]),
            Some(&no_cognito),
            Redirect("unauthorized_client"),
        ),
        (
            "prompt none",
            request(&[("prompt", "none")]),
            Some(&public),
            Valid,
        ),
        (
            "prompt login",
            request(&[("prompt", "login")]),
            Some(&public),
            Valid,
        ),
        (
            "prompt none with another value",
            request(&[("prompt", "none login")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "prompt consent unsupported",
            request(&[("prompt", "consent")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "max_age a number",
            request(&[("max_age", "300")]),
            Some(&public),
            Valid,
        ),
        (
            "max_age not a number",
            request(&[("max_age", "-1")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "state too long",
            request(&[("state", &"s".repeat(MAX_PARAM_LEN + 1))]),
            Some(&public),
            Redirect("invalid_request"),
        ),
        (
            "identity_provider COGNITO",
            request(&[("identity_provider", "COGNITO")]),
            Some(&public),
            Valid,
        ),
        (
            "an identity provider the client lacks",
            request(&[("identity_provider", "Google")]),
            Some(&public),
            Redirect("invalid_request"),
        ),
    ];
    for (name, request, client, expected) in cases {
        check(name, request, client, expected);
    }
}

#[test]
fn a_valid_request_keeps_what_the_code_binds() {
    let public = client(false, oauth_config());
    let valid = request(&[("nonce", "n-1"), ("max_age", "60")])
        .validate(Some(&public), &[])
        .unwrap();
    assert_eq!(valid.redirect_uri, CALLBACK);
    assert_eq!(valid.scopes, ["openid", "email"]);
    assert_eq!(valid.nonce.as_deref(), Some("n-1"));
    assert_eq!(valid.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(valid.max_age, Some(60));
    // The page's link carries the request as sent.
    let pairs = valid.to_pairs();
    assert!(pairs.contains(&("redirect_uri", CALLBACK)) && pairs.contains(&("nonce", "n-1")));
    // A state too long to echo is not sent back.
    let refused = request(&[
        ("state", &"s".repeat(MAX_PARAM_LEN + 1)),
        ("response_type", "x"),
    ])
    .validate(Some(&public), &[]);
    let Err(Refusal::Redirect(r)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(r.state, None);
    assert!(!r.location().contains("state="));
}

#[test]
fn scopes_default_to_the_clients_and_deduplicate() {
    let public = client(false, oauth_config());
    let resource = vec!["https://api.example.com/read".to_owned()];
    assert_eq!(
        check_scopes(None, &public, &resource).unwrap(),
        ["openid", "email", "profile", "https://api.example.com/read"]
    );
    assert_eq!(
        check_scopes(Some("openid openid"), &public, &resource).unwrap(),
        ["openid"]
    );
    // An allowed scope whose resource server is gone grants nothing.
    assert!(check_scopes(Some("openid https://api.example.com/read"), &public, &[]).is_err());
}

#[test]
fn pkce_verifiers_match_only_their_challenge() {
    assert!(pkce_matches(VERIFIER, CHALLENGE));
    assert!(!pkce_matches("x".repeat(43).as_str(), CHALLENGE));
    assert!(!pkce_matches(&VERIFIER[..42], CHALLENGE), "too short");
    assert!(
        !pkce_matches(&format!("{VERIFIER} "), CHALLENGE),
        "not unreserved"
    );
}

#[test]
fn error_redirects_keep_the_callbacks_query() {
    let r = ErrorRedirect {
        redirect_uri: "https://app.example.com/cb?tenant=a".into(),
        error: OAuthError::LoginRequired("not signed in".into()),
        state: Some("a b&c".into()),
    };
    assert_eq!(
        r.location(),
        "https://app.example.com/cb?tenant=a&error=login_required&error_description=not+signed+in&state=a+b%26c"
    );
}

#[test]
fn hosts_name_domains_by_prefix_or_whole_name() {
    assert_eq!(
        super::host_name("MyApp.Example.COM:8443"),
        "myapp.example.com"
    );
    assert_eq!(super::host_name("myapp.localhost."), "myapp.localhost");
    assert_eq!(super::host_name("[::1]:8000"), "::1");
}

// === through the service ===

const PASSWORD: &str = "Correct-Horse-9!";

/// A pool made with `config` and the resource server `oauth_config`'s scopes name.
async fn oauth_pool(pools: &UserPools, config: PoolConfig) -> UserPool {
    let pool = pools.create_user_pool("oauth", config).await.unwrap();
    pools
        .create_resource_server(
            &pool.id,
            "https://api.example.com",
            "api",
            vec![ResourceServerScope {
                name: "read".into(),
                description: "read things".into(),
            }],
        )
        .await
        .unwrap();
    pool
}

/// A pool, an OAuth client with a secret or not, and a confirmed user `alice`.
async fn setup(f: &crate::user_pools::tests::Fixture, secret: bool) -> (String, Client) {
    let pools = &f.pools;
    let pool = oauth_pool(pools, PoolConfig::default()).await;
    let client = pools
        .create_user_pool_client(
            &pool.id,
            NewClient {
                name: "web".into(),
                generate_secret: secret,
                config: oauth_config(),
            },
        )
        .await
        .unwrap();
    pools
        .admin_create_user(
            &pool.id,
            AdminCreateUser {
                username: "alice".into(),
                attributes: vec![("email".into(), "alice@example.com".into())],
                temporary_password: None,
                message_action: Some(MessageAction::Suppress),
                delivery_mediums: vec![],
            },
        )
        .await
        .unwrap();
    pools
        .admin_set_user_password(&pool.id, "alice", PASSWORD, true)
        .await
        .unwrap();
    (pool.id, client)
}

fn code_of(location: &str) -> String {
    let query = location.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

fn exchange(code: &str, verifier: Option<&str>) -> TokenGrant {
    TokenGrant::AuthorizationCode {
        code: Some(code.into()),
        redirect_uri: Some(CALLBACK.into()),
        code_verifier: verifier.map(str::to_owned),
    }
}

#[tokio::test]
async fn a_code_is_single_use_bound_and_short_lived() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let (pool_id, client) = setup(&f, false).await;
        let auth = ClientAuth::Post {
            client_id: client.id.clone(),
            client_secret: None,
        };
        let sign_in = async || {
            match oauth
                .password_sign_in(&pool_id, &request(&[("client_id", &client.id)]), "alice", PASSWORD)
                .await
                .unwrap()
            {
                SignInStep::SignedIn(signed_in) => signed_in,
                SignInStep::Challenge(c) => panic!("{c:?}"),
            }
        };

        // Wrong passwords and unknown users get the same answer.
        for (name, password) in [("alice", "Wrong-Horse-9!"), ("nobody", PASSWORD)] {
            let refused = oauth
                .password_sign_in(&pool_id, &request(&[("client_id", &client.id)]), name, password)
                .await;
            assert_eq!(refused, Err(SignInError::IncorrectCredentials), "{name}");
        }

        // Verifier missing, then wrong: refused, and each attempt spends its code.
        let first = sign_in().await;
        assert!(first.location.starts_with(CALLBACK) && first.location.contains("state=st"));
        let refused = oauth.token(&pool_id, &auth, exchange(&code_of(&first.location), None)).await;
        assert_eq!(refused.unwrap_err().code(), "invalid_grant");
        let second = sign_in().await;
        let wrong = oauth
            .token(&pool_id, &auth, exchange(&code_of(&second.location), Some(&"a".repeat(43))))
            .await;
        assert_eq!(wrong.unwrap_err().code(), "invalid_grant");

        // Another callback than the request's.
        let third = sign_in().await;
        let elsewhere = oauth
            .token(
                &pool_id,
                &auth,
                TokenGrant::AuthorizationCode {
                    code: Some(code_of(&third.location)),
                    redirect_uri: Some("myapp://signed-in".into()),
                    code_verifier: Some(VERIFIER.into()),
                },
            )
            .await;
        assert_eq!(elsewhere.unwrap_err().code(), "invalid_grant");

        // Five minutes and a second later, a code is spent.
        let late = sign_in().await;
        f.clock.advance(CODE_LIFETIME + Duration::from_secs(1));
        let expired = oauth
            .token(&pool_id, &auth, exchange(&code_of(&late.location), Some(VERIFIER)))
            .await;
        assert_eq!(expired.unwrap_err().code(), "invalid_grant");

        // A good exchange, then the same code again: refused, and the first tokens revoked.
        let good = sign_in().await;
        let code = code_of(&good.location);
        let tokens = oauth.token(&pool_id, &auth, exchange(&code, Some(VERIFIER))).await.unwrap();
        assert!(tokens.id_token.is_some() && tokens.refresh_token.is_some());
        let info = oauth.user_info(&pool_id, &tokens.access_token).await.unwrap();
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["username"], "alice");
        let again = oauth.token(&pool_id, &auth, exchange(&code, Some(VERIFIER))).await;
        assert_eq!(again.unwrap_err().code(), "invalid_grant");
        let revoked = oauth.user_info(&pool_id, &tokens.access_token).await;
        assert_eq!(revoked.unwrap_err().code(), "invalid_token");
        let refresh = oauth
            .token(
                &pool_id,
                &auth,
                TokenGrant::RefreshToken {
                    refresh_token: tokens.refresh_token.clone(),
                    scope: None,
                },
            )
            .await;
        assert_eq!(refresh.unwrap_err().code(), "invalid_grant");

        // The hosted session gives a code without a password; another pool's endpoint, none.
        let pool = f.pools.user_pool(&pool_id).await.unwrap();
        let live = oauth.hosted_session(&pool, &good.session, f.pools.now()).await.unwrap();
        assert_eq!(live.unwrap().user.username, "alice");
        let outcome = oauth
            .authorize(&pool_id, &request(&[("client_id", &client.id), ("prompt", "none")]), Some(&good.session))
            .await;
        assert!(matches!(outcome, AuthorizeOutcome::Redirect(ref l) if l.contains("code=")), "{outcome:?}");
        // max_age shorter than the session's age asks for the password again.
        f.clock.advance(Duration::from_secs(120));
        let outcome = oauth
            .authorize(
                &pool_id,
                &request(&[("client_id", &client.id), ("prompt", "none"), ("max_age", "60")]),
                Some(&good.session),
            )
            .await;
        assert!(matches!(outcome, AuthorizeOutcome::Redirect(ref l) if l.contains("error=login_required")), "{outcome:?}");
        // A new password ends the session.
        f.pools
            .admin_set_user_password(&pool_id, "alice", "Other-Horse-7?", true)
            .await
            .unwrap();
        assert!(oauth.hosted_session(&pool, &good.session, f.pools.now()).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn clients_with_a_secret_must_prove_it() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let (pool_id, client) = setup(&f, true).await;
        let secret = client.secret.clone().unwrap();
        let cases = [
            (
                "no secret",
                ClientAuth::Post {
                    client_id: client.id.clone(),
                    client_secret: None,
                },
                false,
            ),
            (
                "wrong form secret",
                ClientAuth::Post {
                    client_id: client.id.clone(),
                    client_secret: Some("x".into()),
                },
                false,
            ),
            (
                "wrong Basic secret",
                ClientAuth::Basic {
                    client_id: client.id.clone(),
                    client_secret: format!("{secret}x"),
                },
                false,
            ),
            (
                "unknown client",
                ClientAuth::Basic {
                    client_id: "nobody".into(),
                    client_secret: secret.clone(),
                },
                false,
            ),
            (
                "form secret",
                ClientAuth::Post {
                    client_id: client.id.clone(),
                    client_secret: Some(secret.clone()),
                },
                true,
            ),
            (
                "Basic secret",
                ClientAuth::Basic {
                    client_id: client.id.clone(),
                    client_secret: secret.clone(),
                },
                true,
            ),
        ];
        for (name, auth, ok) in cases {
            let got = oauth.authenticate_client(&pool_id, &auth).await;
            assert_eq!(got.is_ok(), ok, "{name}");
            if !ok {
                assert_eq!(got.unwrap_err().code(), "invalid_client", "{name}");
            }
        }
        // Another pool's endpoint does not know the client.
        let other = f
            .pools
            .create_user_pool("other", PoolConfig::default())
            .await
            .unwrap();
        let auth = ClientAuth::Basic {
            client_id: client.id.clone(),
            client_secret: secret,
        };
        assert!(oauth.authenticate_client(&other.id, &auth).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn client_credentials_get_resource_server_scopes_only() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let (pool_id, _) = setup(&f, false).await;
        let config = ClientConfig {
            allowed_oauth_flows: vec![OAuthFlow::ClientCredentials],
            allowed_oauth_scopes: vec!["https://api.example.com/read".into()],
            allowed_oauth_flows_user_pool_client: true,
            ..ClientConfig::default()
        };
        let new = |secret: bool, config: ClientConfig| NewClient {
            name: "machine".into(),
            generate_secret: secret,
            config,
        };
        // Refused as Cognito refuses them: no secret, user scopes, scopes nobody defined.
        let refusals = [
            (new(false, config.clone()), "InvalidOAuthFlow"),
            (
                new(
                    true,
                    ClientConfig {
                        allowed_oauth_scopes: vec!["openid".into()],
                        ..config.clone()
                    },
                ),
                "InvalidOAuthFlow",
            ),
            (
                new(
                    true,
                    ClientConfig {
                        allowed_oauth_scopes: vec!["https://api.example.com/write".into()],
                        ..config.clone()
                    },
                ),
                "ScopeDoesNotExist",
            ),
        ];
        for (client, expected) in refusals {
            let refused = f
                .pools
                .create_user_pool_client(&pool_id, client)
                .await
                .unwrap_err();
            assert!(format!("{refused:?}").starts_with(expected), "{refused:?}");
        }
        let machine = f
            .pools
            .create_user_pool_client(&pool_id, new(true, config))
            .await
            .unwrap();
        let auth = ClientAuth::Basic {
            client_id: machine.id.clone(),
            client_secret: machine.secret.clone().unwrap(),
        };
        let grant = |scope: Option<&str>| TokenGrant::ClientCredentials {
            scope: scope.map(str::to_owned),
        };
        let tokens = oauth.token(&pool_id, &auth, grant(None)).await.unwrap();
        assert!(tokens.id_token.is_none() && tokens.refresh_token.is_none());
        let ring = f.pools.key_ring(&pool_id).await.unwrap();
        let now = crate::time::unix_seconds(f.pools.now());
        let claims = ring
            .verify_access_token(&tokens.access_token, now, Some(&machine.id))
            .unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.scope.as_str()),
            (machine.id.as_str(), "https://api.example.com/read")
        );
        assert!(claims.username.is_empty() && claims.origin_jti.is_empty());
        for scope in ["openid", "https://api.example.com/write"] {
            let refused = oauth
                .token(&pool_id, &auth, grant(Some(scope)))
                .await
                .unwrap_err();
            assert_eq!(refused.code(), "invalid_scope", "{scope}");
        }
        // The resource server gone, its scope grants nothing.
        f.pools
            .delete_resource_server(&pool_id, "https://api.example.com")
            .await
            .unwrap();
        let refused = oauth.token(&pool_id, &auth, grant(None)).await.unwrap_err();
        assert_eq!(refused.code(), "invalid_scope");
    })
    .await;
}

/// The page's next step, or a panic naming what came instead.
fn page(step: Result<SignInStep, SignInError>) -> PageChallenge {
    match step {
        Ok(SignInStep::Challenge(c)) => *c,
        other => panic!("expected a challenge page, got {other:?}"),
    }
}

fn secret_bytes(base32: &str) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(base32)
        .unwrap()
        .as_bytes()
        .to_vec()
}

#[tokio::test]
async fn a_hosted_sign_in_enrols_a_software_token_then_answers_its_challenge() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let (pool_id, client) = setup(&f, false).await;
        f.pools
            .set_user_pool_mfa_config(
                &pool_id,
                crate::user_pools::PoolMfaUpdate {
                    mode: Some(crate::user_pools::config::MfaConfiguration::On),
                    software_token: Some(true),
                    email: None,
                },
            )
            .await
            .unwrap();
        let req = request(&[("client_id", &client.id)]);
        let answer = |challenge: &str, session: &str, code: &str| ChallengeAnswer {
            challenge: challenge.into(),
            session: session.into(),
            code: code.into(),
            ..ChallengeAnswer::default()
        };

        // The pool requires MFA and alice has none: the enrolment page, secret and URI.
        let setup = page(oauth.password_sign_in(&pool_id, &req, "alice", PASSWORD).await);
        let ChallengeStep::SetUpSoftwareToken { secret, uri } = &setup.step else {
            panic!("{setup:?}");
        };
        assert_eq!(
            uri,
            &format!("otpauth://totp/oauth%3Aalice?secret={secret}&issuer=oauth&algorithm=SHA1&digits=6&period=30")
        );
        let secret = secret_bytes(secret);
        // The API's AssociateSoftwareToken does not take the page's session.
        let api = f.pools.associate_software_token_in_sign_in(&setup.session).await;
        assert!(matches!(api, Err(crate::user_pools::UserPoolError::NotAuthorized(_))), "{api:?}");

        // A wrong code asks again with a new session; the first one is spent.
        let wrong = page(oauth.answer_challenge(&pool_id, &req, &answer("MFA_SETUP", &setup.session, "000000")).await);
        assert_eq!(wrong.error, Some(ChallengeError::WrongCode));
        assert_ne!(wrong.session, setup.session);
        let code = crate::user_pools::totp_code(&secret, f.pools.now()).unwrap();
        let replayed = oauth.answer_challenge(&pool_id, &req, &answer("MFA_SETUP", &setup.session, &code)).await;
        assert_eq!(replayed, Err(SignInError::SessionExpired));
        // Another client of the pool cannot answer it.
        let other = oauth
            .answer_challenge(&pool_id, &request(&[("client_id", "nope")]), &answer("MFA_SETUP", &wrong.session, &code))
            .await;
        assert!(matches!(other, Err(SignInError::Request(_))), "{other:?}");
        let Ok(SignInStep::SignedIn(signed_in)) =
            oauth.answer_challenge(&pool_id, &req, &answer("MFA_SETUP", &wrong.session, &code)).await
        else {
            panic!("not signed in");
        };
        let auth = ClientAuth::Post {
            client_id: client.id.clone(),
            client_secret: None,
        };
        let tokens = oauth
            .token(&pool_id, &auth, exchange(&code_of(&signed_in.location), Some(VERIFIER)))
            .await
            .unwrap();
        let id_token = tokens.id_token.unwrap();
        let payload = id_token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

        // The next sign-in asks for the code; the API refuses the page's session.
        f.clock.advance(Duration::from_secs(30));
        let totp = page(oauth.password_sign_in(&pool_id, &req, "alice", PASSWORD).await);
        assert_eq!(totp.step, ChallengeStep::SoftwareToken);
        let code = crate::user_pools::totp_code(&secret, f.pools.now()).unwrap();
        let responses = BTreeMap::from([
            ("USERNAME".to_owned(), "alice".to_owned()),
            ("SOFTWARE_TOKEN_MFA_CODE".to_owned(), code.clone()),
        ]);
        let api = f
            .pools
            .respond_to_auth_challenge(&client.id, "SOFTWARE_TOKEN_MFA", Some(&totp.session), &responses)
            .await;
        assert!(matches!(api, Err(crate::user_pools::UserPoolError::NotAuthorized(_))), "{api:?}");
        let done = oauth.answer_challenge(&pool_id, &req, &answer("SOFTWARE_TOKEN_MFA", &totp.session, &code)).await;
        assert!(matches!(done, Ok(SignInStep::SignedIn(_))), "{done:?}");
        // Five wrong codes: asked again four times, then back to the password.
        f.clock.advance(Duration::from_secs(30));
        let mut totp = page(oauth.password_sign_in(&pool_id, &req, "alice", PASSWORD).await);
        for _ in 1..crate::user_pools::HOSTED_TRIES {
            totp = page(oauth.answer_challenge(&pool_id, &req, &answer("SOFTWARE_TOKEN_MFA", &totp.session, "000000")).await);
            assert!(totp.error.is_some());
        }
        let out = oauth.answer_challenge(&pool_id, &req, &answer("SOFTWARE_TOKEN_MFA", &totp.session, "000000")).await;
        assert_eq!(out, Err(SignInError::TooManyAttempts));
    })
    .await;
}

// === the account pages ===

/// The code of the latest outbox message with this purpose and destination.
fn last_code(f: &crate::user_pools::tests::Fixture, purpose: &str, destination: &str) -> String {
    f.messages()
        .iter()
        .rev()
        .find(|m| m["purpose"] == purpose && m["destination"] == destination)
        .and_then(|m| m["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no {purpose} code for {destination}"))
}

/// A pool verifying emails, and an OAuth client that prevents user-existence errors or not.
async fn account_setup(f: &crate::user_pools::tests::Fixture, hide: bool) -> (String, Client) {
    let config = PoolConfig {
        auto_verified_attributes: vec![crate::user_pools::config::VerifiedAttribute::Email],
        ..PoolConfig::default()
    };
    let pool = f.pools.create_user_pool("accounts", config).await.unwrap();
    let client = f
        .pools
        .create_user_pool_client(
            &pool.id,
            NewClient {
                name: "web".into(),
                generate_secret: false,
                config: ClientConfig {
                    prevent_user_existence_errors: hide,
                    allowed_oauth_scopes: vec!["openid".into(), "email".into()],
                    ..oauth_config()
                },
            },
        )
        .await
        .unwrap();
    (pool.id, client)
}

#[tokio::test]
async fn a_sign_up_proof_signs_its_confirmed_user_in_once() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let (pool_id, client) = account_setup(&f, false).await;
        let req = request(&[("client_id", &client.id)]);
        let email = "bob@example.com";
        let signed_up = oauth
            .sign_up(
                &pool_id,
                &req,
                "bob",
                PASSWORD,
                vec![("email".into(), email.into())],
            )
            .await
            .unwrap();
        assert!(!signed_up.confirmed);
        assert_eq!(
            signed_up.delivery.as_ref().unwrap().destination,
            "b***@e***"
        );

        // Before the confirmation the proof signs nobody in, and is not spent by trying.
        let early = oauth
            .sign_in_after_sign_up(&pool_id, &req, &signed_up.proof, "bob")
            .await;
        assert_eq!(early, Err(SignInError::NotConfirmed));
        let code = last_code(&f, "SignUp", email);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert_eq!(
            oauth.confirm_sign_up(&pool_id, &req, "bob", wrong).await,
            Err(AccountError::CodeMismatch)
        );
        oauth
            .confirm_sign_up(&pool_id, &req, "bob", &code)
            .await
            .unwrap();

        // For another name, or another client's request: refused.
        let other = oauth
            .sign_in_after_sign_up(&pool_id, &req, &signed_up.proof, "alice")
            .await;
        assert_eq!(other, Err(SignInError::IncorrectCredentials));

        // Then once: a code for the callback; the second time nothing.
        let Ok(SignInStep::SignedIn(signed_in)) = oauth
            .sign_in_after_sign_up(&pool_id, &req, &signed_up.proof, "bob")
            .await
        else {
            panic!("not signed in");
        };
        assert!(signed_in.location.starts_with(CALLBACK) && signed_in.location.contains("code="));
        let again = oauth
            .sign_in_after_sign_up(&pool_id, &req, &signed_up.proof, "bob")
            .await;
        assert_eq!(again, Err(SignInError::IncorrectCredentials));

        // A proof past its lifetime opens nothing.
        let late = oauth
            .sign_up(
                &pool_id,
                &req,
                "carol",
                PASSWORD,
                vec![("email".into(), "carol@example.com".into())],
            )
            .await
            .unwrap();
        let code = last_code(&f, "SignUp", "carol@example.com");
        oauth
            .confirm_sign_up(&pool_id, &req, "carol", &code)
            .await
            .unwrap();
        f.clock
            .advance(crate::user_pools::HOSTED_SIGN_UP_PROOF_LIFETIME + Duration::from_secs(1));
        let expired = oauth
            .sign_in_after_sign_up(&pool_id, &req, &late.proof, "carol")
            .await;
        assert_eq!(expired, Err(SignInError::IncorrectCredentials));
    })
    .await;
}

#[tokio::test]
async fn the_account_pages_hide_which_users_exist() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        // A client that lets the API tell: the pages' recovery still does not.
        let (pool_id, telling) = account_setup(&f, false).await;
        let req = request(&[("client_id", &telling.id)]);
        oauth
            .sign_up(
                &pool_id,
                &req,
                "dave",
                PASSWORD,
                vec![("email".into(), "dave@example.com".into())],
            )
            .await
            .unwrap();
        let taken = oauth
            .sign_up(
                &pool_id,
                &req,
                "dave",
                PASSWORD,
                vec![("email".into(), "d2@example.com".into())],
            )
            .await;
        assert!(matches!(taken, Err(AccountError::Refused(m)) if m == "User already exists"));
        let nobody = oauth
            .forgot_password(&pool_id, &req, "nobody")
            .await
            .unwrap();
        assert_eq!(nobody.attribute_name, "email");
        assert_eq!(
            oauth
                .confirm_sign_up(&pool_id, &req, "nobody", "123456")
                .await,
            Err(AccountError::CodeMismatch)
        );
        assert_eq!(
            oauth
                .reset_password(&pool_id, &req, "nobody", "123456", PASSWORD)
                .await,
            Err(AccountError::CodeMismatch)
        );

        // A client that prevents user-existence errors: a taken name signs up like a new one,
        // and its proof opens nothing.
        let hiding = f
            .pools
            .create_user_pool_client(
                &pool_id,
                NewClient {
                    name: "hiding".into(),
                    generate_secret: false,
                    config: ClientConfig {
                        prevent_user_existence_errors: true,
                        allowed_oauth_scopes: vec!["openid".into(), "email".into()],
                        ..oauth_config()
                    },
                },
            )
            .await
            .unwrap();
        let req = request(&[("client_id", &hiding.id)]);
        let before = f.messages().len();
        let hidden = oauth
            .sign_up(
                &pool_id,
                &req,
                "dave",
                PASSWORD,
                vec![("email".into(), "d3@example.com".into())],
            )
            .await
            .unwrap();
        assert!(!hidden.confirmed);
        assert_eq!(hidden.delivery.unwrap().destination, "d***@e***");
        assert_eq!(
            f.messages().len(),
            before,
            "nothing is sent for a taken name"
        );
        let opened = oauth
            .sign_in_after_sign_up(&pool_id, &req, &hidden.proof, "dave")
            .await;
        assert_eq!(opened, Err(SignInError::IncorrectCredentials));
    })
    .await;
}

/// (rule, the client's `SupportedIdentityProviders`, request parameters, the provider gone to
/// at once or the error at the callback).
type SelectionCase = (
    &'static str,
    Vec<&'static str>,
    Vec<(&'static str, &'static str)>,
    Result<Option<&'static str>, &'static str>,
);

/// How a request picks a federated provider.
#[test]
fn federated_provider_selection_rules() {
    let providers = vec![
        KnownProvider {
            name: "Corp".into(),
            identifiers: vec!["corp.example".into()],
        },
        KnownProvider {
            name: "Other".into(),
            identifiers: vec!["other.example".into()],
        },
    ];
    let cases: Vec<SelectionCase> = vec![
        (
            "no provider named: the page",
            vec!["COGNITO", "Corp"],
            vec![],
            Ok(None),
        ),
        (
            "identity_provider names a supported one",
            vec!["COGNITO", "Corp"],
            vec![("identity_provider", "Corp")],
            Ok(Some("Corp")),
        ),
        (
            "idp_identifier finds it",
            vec!["Corp"],
            vec![("idp_identifier", "corp.example")],
            Ok(Some("Corp")),
        ),
        (
            "a provider of the pool the client does not support",
            vec!["COGNITO", "Corp"],
            vec![("identity_provider", "Other")],
            Err("invalid_request"),
        ),
        (
            "an identifier of a provider the client does not support",
            vec!["COGNITO", "Corp"],
            vec![("idp_identifier", "other.example")],
            Err("invalid_request"),
        ),
        (
            "a provider the pool does not have",
            vec!["COGNITO", "Gone"],
            vec![("identity_provider", "Gone")],
            Err("invalid_request"),
        ),
        (
            "COGNITO named but not supported",
            vec!["Corp"],
            vec![("identity_provider", "COGNITO")],
            Err("invalid_request"),
        ),
        (
            "only deleted providers: nothing to sign in with",
            vec!["Gone"],
            vec![],
            Err("unauthorized_client"),
        ),
    ];
    for (rule, supported, extra, expected) in cases {
        let public = client(
            false,
            ClientConfig {
                supported_identity_providers: supported.iter().map(|s| (*s).to_owned()).collect(),
                ..oauth_config()
            },
        );
        let got = match request(&extra).validate_with(Some(&public), &[], &providers) {
            Ok(valid) => Ok(valid.upstream),
            Err(Refusal::Redirect(r)) => Err(r.error.code()),
            Err(Refusal::Page(p)) => panic!("{rule}: a page {p:?}"),
        };
        assert_eq!(got, expected.map(|o| o.map(str::to_owned)), "{rule}");
    }
    // The page's buttons: the client's providers the pool has, and the password form only
    // with COGNITO.
    let only_corp = client(
        false,
        ClientConfig {
            supported_identity_providers: vec!["Corp".into(), "Gone".into()],
            ..oauth_config()
        },
    );
    let valid = request(&[])
        .validate_with(Some(&only_corp), &[], &providers)
        .unwrap();
    assert_eq!(valid.providers, ["Corp"]);
    assert!(!valid.cognito);
}

/// A provider whose endpoints are all given (no discovery: nothing is fetched until a code
/// is redeemed), a client supporting it; the state of a redirect to it and its cookie.
async fn federation_start(
    f: &crate::user_pools::tests::Fixture,
    oauth: &OAuth2,
) -> (String, String, String) {
    let (pool_id, _) = setup(f, false).await;
    let details: std::collections::BTreeMap<String, String> = [
        ("client_id", "rp"),
        ("authorize_scopes", "openid"),
        ("attributes_request_method", "GET"),
        ("oidc_issuer", "http://127.0.0.1:9"),
        ("authorize_url", "http://127.0.0.1:9/authorize"),
        ("token_url", "http://127.0.0.1:9/token"),
        ("attributes_url", "http://127.0.0.1:9/userinfo"),
        ("jwks_uri", "http://127.0.0.1:9/jwks"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    f.pools
        .create_identity_provider(
            &pool_id,
            "Corp",
            "OIDC",
            crate::user_pools::ProviderInput {
                details: Some(details),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let client = f
        .pools
        .create_user_pool_client(
            &pool_id,
            NewClient {
                name: "fed".into(),
                generate_secret: false,
                config: ClientConfig {
                    supported_identity_providers: vec!["COGNITO".into(), "Corp".into()],
                    ..oauth_config()
                },
            },
        )
        .await
        .unwrap();
    let outcome = oauth
        .authorize(
            &pool_id,
            &request(&[("client_id", &client.id), ("identity_provider", "Corp")]),
            None,
        )
        .await;
    let AuthorizeOutcome::Upstream(upstream) = outcome else {
        panic!("not sent upstream: {outcome:?}");
    };
    assert!(
        upstream
            .location
            .starts_with("http://127.0.0.1:9/authorize?")
    );
    let state = form_urlencoded::parse(upstream.location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    (pool_id, state, upstream.binding)
}

#[tokio::test]
async fn a_federation_state_is_bound_single_use_and_short_lived() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let answer = |state: &str| IdpResponse {
            state: Some(state.to_owned()),
            error: Some("access_denied".into()),
            ..IdpResponse::default()
        };
        let (pool_id, state, binding) = federation_start(&f, &oauth).await;

        // Another browser, another pool: refused, and the state is not spent by them.
        let other = oauth
            .federation_response(&pool_id, &answer(&state), Some("another-cookie"))
            .await;
        assert_eq!(other, FederationOutcome::Page(PageError::InvalidState));
        let no_cookie = oauth
            .federation_response(&pool_id, &answer(&state), None)
            .await;
        assert_eq!(no_cookie, FederationOutcome::Page(PageError::InvalidState));
        let wrong_pool = oauth
            .federation_response("us-east-1_other", &answer(&state), Some(&binding))
            .await;
        assert_eq!(wrong_pool, FederationOutcome::Page(PageError::InvalidState));

        // The right browser: the upstream's refusal goes back to the app, once.
        let first = oauth
            .federation_response(&pool_id, &answer(&state), Some(&binding))
            .await;
        let FederationOutcome::Redirect(location) = first else {
            panic!("{first:?}");
        };
        assert!(location.starts_with(CALLBACK) && location.contains("error=access_denied"));
        assert!(location.contains("state=st"));
        let replay = oauth
            .federation_response(&pool_id, &answer(&state), Some(&binding))
            .await;
        assert_eq!(replay, FederationOutcome::Page(PageError::InvalidState));

        // Expired: ten minutes later it is refused.
        let (pool_id, state, binding) = federation_start(&f, &oauth).await;
        f.clock.advance(FEDERATION_STATE_LIFETIME);
        let late = oauth
            .federation_response(&pool_id, &answer(&state), Some(&binding))
            .await;
        assert_eq!(late, FederationOutcome::Page(PageError::InvalidState));

        // Tampered: one character changed.
        let mut bytes = state.into_bytes();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let forged = oauth
            .federation_response(&pool_id, &answer(&tampered), Some(&binding))
            .await;
        assert_eq!(forged, FederationOutcome::Page(PageError::InvalidState));
    })
    .await;
}

#[tokio::test]
async fn a_federated_subject_never_signs_in_as_another_whose_name_folds_alike() {
    each_backend(async |t| {
        let f = fixture(&t.store);
        let oauth = OAuth2::new(f.pools.clone());
        let case_blind = PoolConfig {
            username_case_sensitive: Some(false),
            ..PoolConfig::default()
        };
        let pool = oauth_pool(&f.pools, case_blind).await;
        let details: BTreeMap<String, String> = [
            ("client_id", "rp"),
            ("authorize_scopes", "openid"),
            ("oidc_issuer", "https://login.example.com"),
            ("attributes_request_method", "GET"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        f.pools
            .create_identity_provider(
                &pool.id,
                "Corp",
                "OIDC",
                crate::user_pools::ProviderInput {
                    details: Some(details),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let provider = f
            .pools
            .identity_provider(&pool.id, "Corp")
            .await
            .unwrap()
            .unwrap();
        let client = f
            .pools
            .create_user_pool_client(
                &pool.id,
                NewClient {
                    name: "fed".into(),
                    generate_secret: false,
                    config: ClientConfig {
                        supported_identity_providers: vec!["Corp".into()],
                        ..oauth_config()
                    },
                },
            )
            .await
            .unwrap();
        let claims = |sub: &str| {
            serde_json::json!({ "sub": sub })
                .as_object()
                .cloned()
                .unwrap()
        };

        let victim = oauth
            .federated_user(&pool, &client, &provider, &claims("abc"))
            .await
            .unwrap();
        assert_eq!(victim.username, "Corp_abc");
        // The same subject again is the same user (through its link).
        let again = oauth
            .federated_user(&pool, &client, &provider, &claims("abc"))
            .await
            .unwrap();
        assert_eq!(again.sub, victim.sub);
        // Another subject whose name folds to the victim's is refused, not handed the victim.
        let other = oauth
            .federated_user(&pool, &client, &provider, &claims("ABC"))
            .await;
        assert!(
            matches!(
                other,
                Err(crate::user_pools::UserPoolError::NotAuthorized(_))
            ),
            "{other:?}"
        );
    })
    .await;
}
