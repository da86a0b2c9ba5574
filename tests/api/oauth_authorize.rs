//! The authorize page (`/oauth/authorize`): request validation and RFC 6749
//! 4.1.2.1 errors, CSRF, sign-in and sign-up, throttling, the pages'
//! security headers, and the authorization-server metadata.

use crate::helpers::*;
use crate::oauth_helpers::*;

fn users(app: &TestApp) -> i64 {
    app.query_i64("SELECT count(*) FROM users")
}

fn codes(app: &TestApp) -> i64 {
    app.query_i64("SELECT count(*) FROM oauth_codes")
}

/// An HTML error page, not a redirect.
fn assert_error_page(page: &Page, status: u16) {
    assert_eq!(page.status.as_u16(), status, "{}", page.html);
    assert!(page.header("location").is_none(), "{:?}", page.headers);
    page.assert_security_headers();
    assert!(page.html.contains("<h1>"), "{}", page.html);
}

/// A redirect back to the client carrying an RFC 6749 4.1.2.1 error.
fn assert_error_redirect(page: &Page, request: &AuthRequest, error: &str) {
    let location = page.location();
    assert!(
        location.as_str().starts_with(&request.redirect_uri),
        "{location}"
    );
    let params = page.redirect_params();
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{location}"
    );
    assert_eq!(params.get("state"), Some(&request.state), "{location}");
    assert!(params.contains_key("error_description"), "{location}");
    assert!(!params.contains_key("code"), "{location}");
    // RFC 9207: error responses name the issuer too.
    let issuer = params
        .get("iss")
        .unwrap_or_else(|| panic!("no iss: {location}"));
    assert!(
        issuer.starts_with("http://127.0.0.1:") || issuer.starts_with("https://"),
        "{location}"
    );
}

// ---- the page ----

#[tokio::test]
async fn authorize_page_offers_sign_in_and_sign_up_with_a_csrf_token_bound_to_a_cookie() {
    let app = spawn_app().await;
    let client = app.create_client("Invitations App", &[REDIRECT_URI], true, None);
    let request = AuthRequest::for_client(&client);

    let page = Browser::new(&app).open(&request.query()).await;

    assert_eq!(page.status, 200, "{}", page.html);
    page.assert_security_headers();
    assert!(page.html.contains("Invitations App"), "{}", page.html);
    let token = page.csrf_token();
    assert_eq!(token.len(), 32);
    assert_eq!(page.csrf_cookie().as_deref(), Some(token.as_str()));
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("enlist_csrf="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    // Both forms carry the whole request through.
    for intent in ["signin", "signup"] {
        let hidden = hidden_inputs(&page.html, intent);
        for (name, value) in request.params() {
            assert!(
                hidden.contains(&(name.clone(), value.clone())),
                "{intent} form lacks {name}: {hidden:?}"
            );
        }
        assert!(hidden.contains(&("csrf_token".into(), token.clone())));
    }
    // Accessible: every visible input has a label.
    for id in [
        "signin-email",
        "signin-password",
        "signup-email",
        "signup-password",
    ] {
        assert!(page.html.contains(&format!("for=\"{id}\"")), "{id}");
    }
}

#[tokio::test]
async fn sign_in_redirects_to_the_registered_uri_with_code_and_state() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let redirect = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    )
    .await;

    let location = redirect.location();
    assert_eq!(
        format!(
            "{}://{}{}",
            location.scheme(),
            location.host_str().unwrap(),
            location.path()
        ),
        "http://127.0.0.1/callback"
    );
    assert_eq!(location.port(), Some(9));
    let params = redirect.redirect_params();
    assert_eq!(params.len(), 3, "only code, state and iss: {location}");
    assert_eq!(params["state"], request.state);
    assert_eq!(params["iss"], app.issuer(), "RFC 9207: {location}");
    assert!(params["code"].len() >= 32);
    assert_eq!(redirect.header("cache-control"), Some("no-store"));
    assert_eq!(codes(&app), 1);
}

#[tokio::test]
async fn redirect_uri_with_a_query_keeps_it_and_adds_code_and_state() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.create_client(
        "Tenant app",
        &["http://127.0.0.1:9/cb?tenant=acme"],
        true,
        None,
    );
    let request = AuthRequest::for_client(&client);

    let code = authorization_code(
        &app,
        &request,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    )
    .await;
    let tokens = exchange_code(&app, &client, &request, &code).await;

    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

#[tokio::test]
async fn sign_up_creates_the_account_and_redirects_with_a_code() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let code = authorization_code(
        &app,
        &request,
        Intent::SignUp {
            email: "  Iris@Example.TEST ",
            password: PASSWORD,
            first_name: "Iris",
            last_name: "Invitee",
        },
    )
    .await;

    assert!(!code.is_empty());
    assert_eq!(users(&app), 1);
    assert_eq!(
        app.query_string("SELECT first_name || ' ' || last_name FROM users"),
        "Iris Invitee"
    );
    assert_eq!(
        app.query_string("SELECT email_key FROM users"),
        "iris@example.test"
    );
}

// ---- request validation ----

#[tokio::test]
async fn unknown_or_missing_client_id_is_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let client = app.public_client();
    let mut request = AuthRequest::for_client(&client);
    request.client_id = "enlc_unknown".into();
    let mut browser = Browser::new(&app);

    let unknown = browser.open(&request.query()).await;
    let missing = browser
        .open(&format!(
            "response_type=code&redirect_uri={REDIRECT_URI}&state=s"
        ))
        .await;

    assert_error_page(&unknown, 400);
    assert!(unknown.html.contains("not registered"), "{}", unknown.html);
    assert_error_page(&missing, 400);
}

#[tokio::test]
async fn unregistered_redirect_uri_is_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let client = app.public_client();
    let mut browser = Browser::new(&app);

    for redirect_uri in [
        "https://evil.test/callback",
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/Callback",
        "http://127.0.0.1:9/callback?next=x",
        "http://127.0.0.1:99/callback",
        "http://localhost:9/callback",
        "",
    ] {
        let request = AuthRequest {
            redirect_uri: redirect_uri.into(),
            ..AuthRequest::for_client(&client)
        };
        let page = browser.open(&request.query()).await;
        assert_error_page(&page, 400);
        assert!(!page.html.contains("evil.test"), "{}", page.html);
    }
    let no_redirect_uri = browser
        .open(&format!(
            "response_type=code&client_id={}&state=s",
            client.client_id
        ))
        .await;
    assert_error_page(&no_redirect_uri, 400);
}

#[tokio::test]
async fn wrong_response_type_redirects_with_unsupported_response_type_and_state() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let page = Browser::new(&app)
        .open(
            &request
                .query()
                .replacen("response_type=code", "response_type=token", 1),
        )
        .await;

    assert_eq!(page.status, 303, "{}", page.html);
    assert_error_redirect(&page, &request, "unsupported_response_type");
}

#[tokio::test]
async fn missing_response_type_redirects_with_invalid_request() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let page = Browser::new(&app)
        .open(&request.query().replacen("response_type=code&", "", 1))
        .await;

    assert_error_redirect(&page, &request, "invalid_request");
}

#[tokio::test]
async fn public_client_without_pkce_is_refused_with_invalid_request() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest {
        pkce: None,
        ..AuthRequest::for_client(&client)
    };

    let page = Browser::new(&app).open(&request.query()).await;

    assert_error_redirect(&page, &request, "invalid_request");
}

#[tokio::test]
async fn confidential_client_without_pkce_is_refused_with_invalid_request() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.bound_client("iris@example.test");
    assert!(client.secret.is_some());
    let request = AuthRequest {
        pkce: None,
        ..AuthRequest::for_client(&client)
    };

    let page = Browser::new(&app).open(&request.query()).await;

    assert_error_redirect(&page, &request, "invalid_request");
    assert_eq!(page.redirect_params()["iss"], app.issuer());
    assert_eq!(codes(&app), 0);
}

#[tokio::test]
async fn pkce_other_than_s256_is_refused_with_invalid_request() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let challenge = request.pkce.as_ref().unwrap().challenge.clone();
    let mut browser = Browser::new(&app);

    let cases = [
        request
            .query()
            .replace("code_challenge_method=S256", "code_challenge_method=plain"),
        request.query().replace("&code_challenge_method=S256", ""),
        request.query().replace(&challenge, "too-short"),
        request
            .query()
            .replace(&format!("code_challenge={challenge}&"), ""),
    ];
    for query in cases {
        let page = browser.open(&query).await;
        assert_error_redirect(&page, &request, "invalid_request");
    }
}

#[tokio::test]
async fn unknown_scope_redirects_with_invalid_scope() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let page = Browser::new(&app)
        .open(&format!("{}&scope=admin", request.query()))
        .await;

    assert_error_redirect(&page, &request, "invalid_scope");
}

#[tokio::test]
async fn a_posted_form_is_validated_again() {
    // A tampered hidden field must not get a code sent to an unregistered address.
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let mut browser = Browser::new(&app);
    let page = browser.open(&request.query()).await;
    let mut fields = form_fields(
        &page,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    );
    for (name, value) in &mut fields {
        if name == "redirect_uri" {
            *value = "https://evil.test/callback".into();
        }
    }

    let posted = browser.post(&fields).await;

    assert_error_page(&posted, 400);
    assert_eq!(codes(&app), 0);
}

// ---- CSRF ----

async fn csrf_refused(
    app: &TestApp,
    tamper: impl FnOnce(&mut Browser, &mut Vec<(String, String)>),
) {
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let mut browser = Browser::new(app);
    let page = browser.open(&request.query()).await;
    let mut fields = form_fields(&page, sign_up("mallory.victim@example.test"));
    tamper(&mut browser, &mut fields);

    let posted = browser.post(&fields).await;

    assert_error_page(&posted, 403);
    assert_eq!(users(app), 0, "no account created");
    assert_eq!(codes(app), 0);
}

fn sign_up(email: &str) -> Intent<'_> {
    Intent::SignUp {
        email,
        password: PASSWORD,
        first_name: "Iris",
        last_name: "Invitee",
    }
}

#[tokio::test]
async fn form_posted_without_the_csrf_cookie_is_refused() {
    let app = spawn_app().await;
    csrf_refused(&app, |browser, _| browser.cookie = None).await;
}

#[tokio::test]
async fn form_posted_without_the_csrf_token_field_is_refused() {
    let app = spawn_app().await;
    csrf_refused(&app, |_, fields| {
        fields.retain(|(name, _)| name != "csrf_token")
    })
    .await;
}

#[tokio::test]
async fn form_posted_with_a_mismatched_csrf_token_is_refused() {
    let app = spawn_app().await;
    csrf_refused(&app, |_, fields| {
        for (name, value) in fields.iter_mut() {
            if name == "csrf_token" {
                *value = "A".repeat(32);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn form_posted_with_an_empty_csrf_cookie_and_token_is_refused() {
    let app = spawn_app().await;
    csrf_refused(&app, |browser, fields| {
        browser.cookie = Some(String::new());
        for (name, value) in fields.iter_mut() {
            if name == "csrf_token" {
                value.clear();
            }
        }
    })
    .await;
}

#[tokio::test]
async fn form_posted_with_another_pages_matching_pair_works() {
    // The token is bound to the browser's cookie, so a second open tab keeps working.
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let mut browser = Browser::new(&app);
    let first_tab = browser.open(&request.query()).await;
    let second_tab = browser.open(&request.query()).await;

    let posted = browser
        .submit(
            &first_tab,
            Intent::SignIn {
                email: "iris@example.test",
                password: PASSWORD,
            },
        )
        .await;

    assert_eq!(first_tab.csrf_token(), second_tab.csrf_token());
    assert_eq!(posted.status, 303, "{}", posted.html);
}

// ---- sign-in failures ----

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_alike() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    app.add_member(
        app.create_org("Acme", "ada@acme.test").id,
        "nopass@example.test",
        "MEMBER",
    );
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let wrong_password = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "iris@example.test",
            password: "not the password",
        },
    )
    .await;
    let unknown = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "nobody@example.test",
            password: "not the password",
        },
    )
    .await;
    let no_password = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "nopass@example.test",
            password: "not the password",
        },
    )
    .await;

    let error = |page: &Page| {
        let start = page.html.find("role=\"alert\"").expect("an error message");
        let rest = &page.html[start..];
        rest[rest.find('>').unwrap() + 1..rest.find("</div>").unwrap()].to_owned()
    };
    for page in [&wrong_password, &unknown, &no_password] {
        assert_error_page_with_forms(page, 401);
        assert_eq!(error(page), "The email or password is incorrect.");
    }
    assert!(wrong_password.html.contains("value=\"iris@example.test\""));
    assert_eq!(codes(&app), 0);
}

/// A page that shows the forms again, with an error.
fn assert_error_page_with_forms(page: &Page, status: u16) {
    assert_eq!(page.status.as_u16(), status, "{}", page.html);
    assert!(page.header("location").is_none());
    page.assert_security_headers();
    assert_eq!(page.csrf_token().len(), 32, "the forms are shown again");
}

#[tokio::test]
async fn after_five_failures_the_account_is_throttled_even_with_the_right_password() {
    // Arrange
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    app.create_user("other@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    for attempt in 0..5 {
        let page = authorize(
            &app,
            &request,
            Intent::SignIn {
                email: "iris@example.test",
                password: &format!("wrong password {attempt}"),
            },
        )
        .await;
        assert_eq!(page.status, 401, "attempt {attempt}: {}", page.html);
    }

    // Act
    let right = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "IRIS@example.test",
            password: PASSWORD,
        },
    )
    .await;
    let other_account = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "other@example.test",
            password: PASSWORD,
        },
    )
    .await;

    // Assert
    assert_error_page_with_forms(&right, 429);
    let retry_after: u64 = right
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(other_account.status, 303, "{}", other_account.html);
}

#[tokio::test]
async fn unknown_accounts_are_throttled_like_real_ones() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let wrong = Intent::SignIn {
        email: "nobody@example.test",
        password: "not the password",
    };
    for _ in 0..5 {
        assert_eq!(authorize(&app, &request, wrong).await.status, 401);
    }

    let sixth = authorize(&app, &request, wrong).await;

    assert_eq!(sixth.status, 429, "{}", sixth.html);
    assert!(sixth.header("retry-after").is_some());
}

#[tokio::test]
async fn successful_sign_ins_are_not_throttled() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let right = Intent::SignIn {
        email: "iris@example.test",
        password: PASSWORD,
    };

    for attempt in 0..8 {
        let page = authorize(&app, &request, right).await;
        assert_eq!(page.status, 303, "attempt {attempt}: {}", page.html);
    }
}

// ---- sign-up failures ----

#[tokio::test]
async fn sign_up_with_a_short_password_is_400_and_creates_nothing() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let page = authorize(
        &app,
        &request,
        Intent::SignUp {
            email: "iris@example.test",
            password: "seven!!",
            first_name: "Iris",
            last_name: "Invitee",
        },
    )
    .await;

    assert_error_page_with_forms(&page, 400);
    assert!(page.html.contains("at least 8 characters"), "{}", page.html);
    assert_eq!(users(&app), 0);
}

#[tokio::test]
async fn sign_up_with_an_invalid_email_is_400() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let page = authorize(&app, &request, sign_up("not-an-email")).await;

    assert_error_page_with_forms(&page, 400);
    assert_eq!(users(&app), 0);
}

// Signing up with a taken email: tests/api/accounts.rs (indistinguishable
// from a fresh sign-up, the owner mailed).

// ---- headers and escaping ----

#[tokio::test]
async fn every_page_sends_the_security_headers() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let mut browser = Browser::new(&app);

    let shown = browser.open(&request.query()).await;
    let failed = browser
        .submit(
            &shown,
            Intent::SignIn {
                email: "nobody@example.test",
                password: "whatever1",
            },
        )
        .await;
    let bad_client = browser.open("client_id=nope").await;
    let forged = Browser::new(&app)
        .post(&[("csrf_token".into(), "x".into())])
        .await;

    shown.assert_security_headers();
    failed.assert_security_headers();
    bad_client.assert_security_headers();
    forged.assert_security_headers();
    let csp = shown.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "the form may end up at the client: {csp}"
    );
}

#[tokio::test]
async fn client_names_emails_and_state_are_escaped_in_the_page() {
    let app = spawn_app().await;
    let client = app.create_client(
        "<script>alert('name')</script>",
        &[REDIRECT_URI],
        true,
        None,
    );
    let request = AuthRequest {
        state: "\"><script>alert('state')</script>&x=1".into(),
        ..AuthRequest::for_client(&client)
    };
    let mut browser = Browser::new(&app);

    let shown = browser.open(&request.query()).await;
    let failed = browser
        .submit(
            &shown,
            Intent::SignIn {
                email: "\"><script>alert('email')</script>@example.test",
                password: "whatever1",
            },
        )
        .await;

    for page in [&shown, &failed] {
        assert!(!page.html.contains("<script"), "{}", page.html);
        assert!(page.html.contains("&#60;script&#62;") || page.html.contains("&lt;script&gt;"));
    }
    assert_eq!(failed.status, 401);
    // The state still travels through the forms unchanged.
    assert!(
        hidden_inputs(&shown.html, "signin").contains(&("state".into(), request.state.clone()))
    );
}

#[tokio::test]
async fn state_with_special_characters_comes_back_unchanged() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest {
        state: "a b&c=d/é?\"<>".into(),
        ..AuthRequest::for_client(&client)
    };

    let code = authorization_code(
        &app,
        &request,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    )
    .await;

    assert!(!code.is_empty());
}

// ---- metadata ----

#[tokio::test]
async fn authorization_server_metadata_describes_the_endpoints() {
    let app = spawn_app().await;

    let reply = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = &reply.body;
    let base = &app.address;
    assert_eq!(body["issuer"], *base);
    assert_eq!(
        body["authorization_endpoint"],
        format!("{base}/oauth/authorize")
    );
    assert_eq!(body["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(body["revocation_endpoint"], format!("{base}/oauth/revoke"));
    let list = |name: &str| -> Vec<String> {
        body[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} missing: {body}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("response_types_supported"), ["code"]);
    let grants = list("grant_types_supported");
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(grants.contains(&grant.to_owned()), "{grants:?}");
    }
    assert_eq!(list("code_challenge_methods_supported"), ["S256"]);
    let methods = list("token_endpoint_auth_methods_supported");
    for method in ["client_secret_basic", "client_secret_post", "none"] {
        assert!(methods.contains(&method.to_owned()), "{methods:?}");
    }
    assert!(list("scopes_supported").contains(&"invitations".to_owned()));
    assert_eq!(body["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn metadata_issuer_follows_the_configured_public_url() {
    let app =
        spawn_app_with(|s| s.server.public_url = Some("https://id.example.test/".into())).await;

    let reply = app
        .request(
            reqwest::Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;

    assert_eq!(reply.body["issuer"], "https://id.example.test");
    assert_eq!(
        reply.body["token_endpoint"],
        "https://id.example.test/oauth/token"
    );
}

#[tokio::test]
async fn a_repeated_parameter_on_the_authorize_page_is_an_error_page() {
    let app = spawn_app().await;
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);

    let page = Browser::new(&app)
        .open(&format!(
            "{}&client_id={}",
            request.query(),
            client.client_id
        ))
        .await;

    assert_error_page(&page, 400);
    assert_eq!(codes(&app), 0);
}

#[tokio::test]
async fn failures_are_also_limited_per_client_address_across_accounts() {
    let app = spawn_app_with(|s| s.auth.sign_in_failures_per_address = 3).await;
    app.create_user("iris@example.test", Some(PASSWORD));
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    for n in 0..3 {
        let email = format!("guess{n}@example.test");
        let page = authorize(
            &app,
            &request,
            Intent::SignIn {
                email: &email,
                password: "not the password",
            },
        )
        .await;
        assert_eq!(page.status, 401, "{}", page.html);
    }

    let next_account = authorize(
        &app,
        &request,
        Intent::SignIn {
            email: "iris@example.test",
            password: PASSWORD,
        },
    )
    .await;

    assert_eq!(next_account.status, 429, "{}", next_account.html);
    assert!(next_account.header("retry-after").is_some());
}

#[tokio::test]
async fn a_throttled_account_still_gets_tokens_from_the_token_endpoint() {
    // Arrange: tokens obtained earlier, then the account is throttled.
    let app = spawn_app().await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let bound = app.bound_client("iris@example.test");
    let request = AuthRequest::for_client(&client);
    for _ in 0..5 {
        let wrong = Intent::SignIn {
            email: "iris@example.test",
            password: "not the password",
        };
        assert_eq!(authorize(&app, &request, wrong).await.status, 401);
    }

    // Act
    let refreshed = refresh(
        &app,
        &client,
        tokens.body["refresh_token"].as_str().unwrap(),
    )
    .await;
    let by_client = app.client_credentials(&bound).await;

    // Assert
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(by_client.status, 200, "{}", by_client.text);
}
