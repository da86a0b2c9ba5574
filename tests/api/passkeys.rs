//! Passkeys over real HTTP, with a software authenticator written here (an
//! ES256 key, attestation "none", assertions signed by hand): registering
//! on the account page, signing in at the console's front door, and every
//! refusal of a bad answer (a replayed assertion, a challenge used twice, a
//! counter that went backwards, another origin, no user verification, a
//! credential not registered), none of which signs anyone in. Also the
//! challenge endpoints' own refusals, and no passkeys on an IP address.

use crate::helpers::*;
use crate::page_helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "analytical engine";
const ORIGIN: &str = "http://localhost:7443";
const RP_ID: &str = "localhost";

/// A server whose public URL has a domain name (requests still go to its
/// loopback address: the origin is checked in what the authenticator
/// signs, not in the connection), with Acme and its admin Ada.
async fn acme() -> TestApp {
    let app = spawn_app_with(|s| s.server.public_url = Some(ORIGIN.into())).await;
    app.create_org("Acme", "ada@acme.test");
    app.set_password("ada@acme.test", PASSWORD);
    app
}

/// What the authenticator shapes its answers from; each test bends one.
#[derive(Clone, Copy)]
struct Shape<'a> {
    origin: &'a str,
    /// The RP id whose hash the authenticator data starts with.
    rp_id: &'a str,
    /// Flags: user present, user verified.
    verified: bool,
    counter: u32,
}

impl Default for Shape<'_> {
    fn default() -> Self {
        Self {
            origin: ORIGIN,
            rp_id: RP_ID,
            verified: true,
            counter: 0,
        }
    }
}

/// A software passkey: one ES256 key, its credential id, and the user
/// handle the server gave it.
struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    user_handle: String,
}

fn cbor_head(major: u8, value: usize) -> Vec<u8> {
    match value {
        0..=23 => vec![(major << 5) | value as u8],
        24..=255 => vec![(major << 5) | 24, value as u8],
        _ => {
            let mut head = vec![(major << 5) | 25];
            head.extend_from_slice(&(value as u16).to_be_bytes());
            head
        }
    }
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = cbor_head(3, text.len());
    out.extend_from_slice(text.as_bytes());
    out
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, bytes.len());
    out.extend_from_slice(bytes);
    out
}

fn cbor_int(value: i64) -> Vec<u8> {
    if value >= 0 {
        cbor_head(0, value as usize)
    } else {
        cbor_head(1, (-1 - value) as usize)
    }
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

fn flags(shape: Shape<'_>) -> u8 {
    if shape.verified { 0x05 } else { 0x01 }
}

impl Authenticator {
    fn new() -> Self {
        let key = SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
        Self {
            key,
            credential_id: rand::random::<[u8; 16]>().to_vec(),
            user_handle: String::new(),
        }
    }

    /// The COSE key: EC2, ES256, P-256, x and y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = cbor_head(5, 5);
        for (label, value) in [(1, cbor_int(2)), (3, cbor_int(-7)), (-1, cbor_int(1))] {
            out.extend(cbor_int(label));
            out.extend(value);
        }
        out.extend(cbor_int(-2));
        out.extend(cbor_bytes(point.x().unwrap()));
        out.extend(cbor_int(-3));
        out.extend(cbor_bytes(point.y().unwrap()));
        out
    }

    /// `navigator.credentials.create`'s answer to `options` (the server's
    /// JSON), as the passkey script posts it.
    fn register(&mut self, options: &Value, shape: Shape<'_>) -> String {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        self.user_handle = options["publicKey"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
        auth_data.push(flags(shape) | 0x40);
        auth_data.extend_from_slice(&shape.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = cbor_head(5, 3);
        attestation.extend(cbor_text("fmt"));
        attestation.extend(cbor_text("none"));
        attestation.extend(cbor_text("attStmt"));
        attestation.extend(cbor_head(5, 0));
        attestation.extend(cbor_text("authData"));
        attestation.extend(cbor_bytes(&auth_data));
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(attestation),
                "clientDataJSON": B64.encode(client_data("webauthn.create", challenge, shape.origin)),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// `navigator.credentials.get`'s answer to `options`.
    fn assert(&self, options: &Value, shape: Shape<'_>) -> String {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let mut auth_data = Sha256::digest(shape.rp_id.as_bytes()).to_vec();
        auth_data.push(flags(shape));
        auth_data.extend_from_slice(&shape.counter.to_be_bytes());
        let client_data = client_data("webauthn.get", challenge, shape.origin);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": self.user_handle,
            },
            "extensions": {},
        })
        .to_string()
    }
}

/// Asks a challenge endpoint, as the passkey script does: the page's CSRF
/// token in `X-CSRF-Token`.
async fn challenge(app: &TestApp, browser: &Browser, path: &str, csrf: &str) -> Reply {
    let response = browser
        .client
        .post(format!("{}{path}", app.address))
        .header("X-CSRF-Token", csrf)
        .json(&json!({"name": "Laptop"}))
        .send()
        .await
        .unwrap();
    reply(response).await
}

/// Ada, signed in with her password, registers `authenticator` on her
/// account page.
async fn register(app: &TestApp, authenticator: &mut Authenticator) -> Browser {
    let browser = Browser::new(app);
    browser
        .sign_in("/account", "ada@acme.test", PASSWORD)
        .await
        .assert_see_other("/account");
    let csrf = browser.get("/account").await.csrf_token();
    let asked = challenge(app, &browser, "/account/passkeys/challenge", &csrf).await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    let selection = &asked.body["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{}", asked.text);
    assert_eq!(selection["userVerification"], "required", "{}", asked.text);
    let answer = authenticator.register(&asked.body["options"], Shape::default());
    let ceremony = asked.body["ceremony"].as_str().unwrap();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("passkey_ceremony", ceremony),
        ("passkey_response", answer.as_str()),
    ];
    browser
        .post_form("/account/passkeys", &fields)
        .await
        .assert_see_other("/account?passkey_added=1#passkeys");
    // The same answer again: its challenge was used.
    let again = browser.post_form("/account/passkeys", &fields).await;
    assert_eq!(again.status, 410, "{}", again.text);
    assert!(
        again.text.contains("expired or was already used"),
        "{}",
        again.text
    );
    browser
}

/// A signed-out browser at the console's front door, with a sign-in
/// challenge: `(browser, csrf, ceremony, options)`.
async fn sign_in_challenge(app: &TestApp) -> (Browser, String, String, Value) {
    let browser = Browser::new(app);
    let front = browser.get("/admin").await;
    assert!(
        front.text.contains("Sign in with a passkey"),
        "{}",
        front.text
    );
    let csrf = front.csrf_token();
    let asked = challenge(app, &browser, "/auth/passkey/challenge", &csrf).await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    let ceremony = asked.body["ceremony"].as_str().unwrap().to_owned();
    (browser, csrf, ceremony, asked.body["options"].clone())
}

async fn post_assertion(browser: &Browser, csrf: &str, ceremony: &str, answer: &str) -> Page {
    browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", csrf),
                ("intent", "passkey"),
                ("passkey_ceremony", ceremony),
                ("passkey_response", answer),
            ],
        )
        .await
}

/// A sign-in on a fresh challenge, answered by `authenticator` shaped by
/// `shape`: refused with `status` and `sentence`, no session.
async fn refused_sign_in(
    app: &TestApp,
    authenticator: &Authenticator,
    shape: Shape<'_>,
    status: u16,
    sentence: &str,
) {
    let (browser, csrf, ceremony, options) = sign_in_challenge(app).await;
    let answer = authenticator.assert(&options, shape);
    let refused = post_assertion(&browser, &csrf, &ceremony, &answer).await;
    assert_refused(&refused, status, sentence);
}

/// A refused answer: the front door again, saying `sentence`, no session.
fn assert_refused(page: &Page, status: u16, sentence: &str) {
    assert_eq!(page.status.as_u16(), status, "{}", page.text);
    assert!(page.text.contains(sentence), "{}", page.text);
    assert!(
        page.set_cookie("enlist_session").is_none(),
        "{:?}",
        page.headers
    );
}

#[tokio::test]
async fn a_passkey_registers_signs_in_and_replays_clones_and_forgeries_are_refused() {
    let app = acme().await;
    let mut authenticator = Authenticator::new();
    let account = register(&app, &mut authenticator).await;
    let page = account.get("/account").await;
    assert!(page.text.contains("Laptop"), "{}", page.text);
    assert!(
        page.text.contains("Your passkeys are your second factor"),
        "{}",
        page.text
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkeys"), 1);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkey_handles"), 1);
    // A passkey is a second factor: the password session is asked for one
    // at the console, and may confirm it with the passkey there.
    let asked = account.get("/admin").await;
    assert!(asked.text.contains("Your second factor"), "{}", asked.text);
    assert!(
        asked
            .text
            .contains("Use your passkey to open the admin console"),
        "{}",
        asked.text
    );

    // Signed in by the passkey alone; the console admits (a passkey is two factors).
    let (browser, csrf, ceremony, options) = sign_in_challenge(&app).await;
    let first = Shape {
        counter: 1,
        ..Shape::default()
    };
    let answer = authenticator.assert(&options, first);
    let signed_in = post_assertion(&browser, &csrf, &ceremony, &answer).await;
    signed_in.assert_see_other("/admin");
    assert!(signed_in.set_cookie("enlist_session").is_some());
    let console = browser.get("/admin").await;
    assert_eq!(console.status, 303, "{}", console.text);
    assert!(console.location().unwrap().starts_with("/admin/orgs/"));
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM passkeys WHERE last_used_at IS NOT NULL"),
        1
    );

    // The same assertion replayed, with its challenge: used.
    let (other, other_csrf, _, _) = sign_in_challenge(&app).await;
    let replayed = post_assertion(&other, &other_csrf, &ceremony, &answer).await;
    assert_refused(&replayed, 410, "expired or was already used");
    // Replayed against a fresh challenge: it signed another one.
    let (other, other_csrf, fresh, _) = sign_in_challenge(&app).await;
    let replayed = post_assertion(&other, &other_csrf, &fresh, &answer).await;
    assert_refused(&replayed, 410, "expired or was already used");

    // A clone: a right signature over a counter that did not move on.
    refused_sign_in(&app, &authenticator, first, 401, "cloned authenticator").await;
    // Made for another site.
    let elsewhere = Shape {
        origin: "http://localhost.evil.test",
        counter: 5,
        ..Shape::default()
    };
    refused_sign_in(
        &app,
        &authenticator,
        elsewhere,
        401,
        "made for another site",
    )
    .await;
    // Signed for another RP id, from the right origin.
    let other_rp = Shape {
        rp_id: "evil.test",
        counter: 5,
        ..Shape::default()
    };
    refused_sign_in(&app, &authenticator, other_rp, 401, "made for another site").await;
    // No user verification (presence only).
    let unverified = Shape {
        verified: false,
        counter: 6,
        ..Shape::default()
    };
    refused_sign_in(&app, &authenticator, unverified, 401, "did not verify you").await;
    // A credential this server never registered.
    let mut stranger = Authenticator::new();
    stranger.user_handle = authenticator.user_handle.clone();
    refused_sign_in(
        &app,
        &stranger,
        Shape::default(),
        401,
        "not registered here",
    )
    .await;

    // The real authenticator, its counter moved on, still signs in.
    let (other, other_csrf, fresh, options) = sign_in_challenge(&app).await;
    let next = Shape {
        counter: 7,
        ..Shape::default()
    };
    post_assertion(
        &other,
        &other_csrf,
        &fresh,
        &authenticator.assert(&options, next),
    )
    .await
    .assert_see_other("/admin");
    // Every challenge answered is gone, refused or not; one was never answered.
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkey_ceremonies"), 1);

    // Removing it needs a recent second factor: the password session has none.
    let page = account.get("/account").await;
    let id = B64.encode(&authenticator.credential_id);
    let csrf = page.csrf_token();
    let refused = account
        .post_form(
            "/account/passkeys/remove",
            &[("csrf_token", &csrf), ("id", &id)],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused.text.contains("needs a second factor"),
        "{}",
        refused.text
    );
    // The passkey session has one.
    let csrf = other.get("/account").await.csrf_token();
    other
        .post_form(
            "/account/passkeys/remove",
            &[("csrf_token", &csrf), ("id", &id)],
        )
        .await
        .assert_see_other("/account?passkey_removed=1#passkeys");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkeys"), 0);
    // Both are in the audit log, as a second factor's changes.
    for kind in ["user.mfa_enrolled", "user.mfa_removed"] {
        let logged = app.query_i64(&format!(
            "SELECT COUNT(*) FROM events WHERE type = '{kind}' \
             AND body LIKE '%\"factor\":\"passkey\"%'"
        ));
        assert_eq!(logged, 1, "{kind}");
    }
}

/// A confirmation challenge for `browser`'s session, asked from `page`
/// (its CSRF token): `(csrf, ceremony, options)`.
async fn confirmation(app: &TestApp, browser: &Browser, page: &str) -> (String, String, Value) {
    let csrf = browser.get(page).await.csrf_token();
    let asked = challenge(app, browser, "/account/passkeys/confirm", &csrf).await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    let ceremony = asked.body["ceremony"].as_str().unwrap().to_owned();
    (csrf, ceremony, asked.body["options"].clone())
}

async fn confirm_at_door(browser: &Browser, csrf: &str, ceremony: &str, answer: &str) -> Page {
    browser
        .post_form(
            "/admin/second-factor",
            &[
                ("csrf_token", csrf),
                ("passkey_ceremony", ceremony),
                ("passkey_response", answer),
            ],
        )
        .await
}

fn counter(counter: u32) -> Shape<'static> {
    Shape {
        counter,
        ..Shape::default()
    }
}

#[tokio::test]
async fn a_signed_in_admin_confirms_with_a_passkey_in_place_at_the_door_and_before_a_key() {
    let app = acme().await;
    let mut authenticator = Authenticator::new();
    let ada = register(&app, &mut authenticator).await;
    let sessions = app.query_i64("SELECT COUNT(*) FROM web_sessions");

    // The door asks the password session for the passkey: no code field
    // (she has no authenticator app), a button the script shows.
    let door = ada.get("/admin").await;
    assert!(door.text.contains("data-passkey-confirm"), "{}", door.text);
    assert!(!door.text.contains("second-factor-code"), "{}", door.text);
    let csp = door.header("content-security-policy").unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");

    // The challenge names her passkey only, and asks her device to verify her.
    let (csrf, ceremony, options) = confirmation(&app, &ada, "/admin").await;
    let allowed = &options["publicKey"]["allowCredentials"];
    assert_eq!(allowed.as_array().unwrap().len(), 1, "{options}");
    assert_eq!(allowed[0]["id"], B64.encode(&authenticator.credential_id));
    assert_eq!(options["publicKey"]["userVerification"], "required");

    // A passkey that is not hers: refused, beside the button; still asked.
    let mut stranger = Authenticator::new();
    stranger.user_handle = authenticator.user_handle.clone();
    let refused = confirm_at_door(
        &ada,
        &csrf,
        &ceremony,
        &stranger.assert(&options, counter(1)),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("Your second factor"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("form-error"), "{}", refused.text);

    // Hers, on a fresh challenge: the session she holds is admitted; no
    // new session is started.
    let (csrf, ceremony, options) = confirmation(&app, &ada, "/admin").await;
    let answer = authenticator.assert(&options, counter(1));
    let confirmed = confirm_at_door(&ada, &csrf, &ceremony, &answer).await;
    confirmed.assert_see_other("/admin");
    assert!(confirmed.set_cookie("enlist_session").is_none());
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), sessions);
    let console = ada.get("/admin").await;
    assert_eq!(console.status, 303, "{}", console.text);
    let overview = console.location().unwrap().to_owned();
    assert!(overview.starts_with("/admin/orgs/"), "{overview}");
    assert_eq!(
        app.query_i64(
            "SELECT COUNT(*) FROM events WHERE type = 'user.signed_in' \
             AND body LIKE '%\"method\":\"passkey\"%' AND body LIKE '%\"mfa\"%'"
        ),
        1,
        "the confirmation is audited as a second method of the session"
    );

    // The same answer again: its challenge was used.
    let replayed = confirm_at_door(&ada, &csrf, &ceremony, &answer).await;
    assert_eq!(replayed.status, 400, "{}", replayed.text);
    assert!(
        replayed.text.contains("expired or was already used"),
        "{}",
        replayed.text
    );
    // A confirmation's challenge never signs anyone in, and a sign-in's
    // never confirms.
    let (browser, sign_in_csrf, _, _) = sign_in_challenge(&app).await;
    let (_, confirm_ceremony, options) = confirmation(&app, &ada, &overview).await;
    let crossed = post_assertion(
        &browser,
        &sign_in_csrf,
        &confirm_ceremony,
        &authenticator.assert(&options, counter(2)),
    )
    .await;
    assert_refused(&crossed, 410, "expired or was already used");
    let (_, _, sign_in_ceremony, options) = sign_in_challenge(&app).await;
    let csrf = ada.get(&overview).await.csrf_token();
    let crossed = confirm_at_door(
        &ada,
        &csrf,
        &sign_in_ceremony,
        &authenticator.assert(&options, counter(3)),
    )
    .await;
    assert!(
        crossed.text.contains("expired or was already used"),
        "{}",
        crossed.text
    );

    // Five minutes on, a key asks for the passkey again (not the password).
    app.clock
        .advance(std::time::Duration::from_secs(5 * 60 + 1));
    let keys = format!("{overview}/api-keys");
    let form = ada.get(&format!("{keys}/new")).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(form.text.contains("step-up-passkey"), "{}", form.text);
    assert!(!form.text.contains("key-password"), "{}", form.text);
    assert!(!form.text.contains("step-up-code"), "{}", form.text);
    let csrf = form.csrf_token();
    let key_fields = |ceremony: &str, answer: &str| {
        vec![
            ("csrf_token".to_owned(), csrf.clone()),
            ("name".to_owned(), "billing sync".to_owned()),
            ("scope".to_owned(), "invitations:read".to_owned()),
            ("passkey_ceremony".to_owned(), ceremony.to_owned()),
            ("passkey_response".to_owned(), answer.to_owned()),
        ]
    };
    let post_key = |fields: Vec<(String, String)>| {
        let ada = &ada;
        let keys = &keys;
        async move {
            let borrowed: Vec<(&str, &str)> = fields
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            ada.post_form(keys, &borrowed).await
        }
    };
    let asked = post_key(key_fields("", "")).await;
    assert_eq!(asked.status, 400, "{}", asked.text);
    assert!(
        asked.text.contains("Use your passkey to create a key."),
        "{}",
        asked.text
    );
    assert!(
        asked.text.contains("billing sync"),
        "the form keeps what was typed"
    );
    let keys_before = app.query_i64("SELECT COUNT(*) FROM api_keys");
    let (_, ceremony, options) = confirmation(&app, &ada, &format!("{keys}/new")).await;
    let created = post_key(key_fields(
        &ceremony,
        &authenticator.assert(&options, counter(4)),
    ))
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.text.contains("billing sync"), "{}", created.text);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM api_keys"),
        keys_before + 1
    );

    // Five more minutes: removing the passkey is confirmed with it too.
    app.clock
        .advance(std::time::Duration::from_secs(5 * 60 + 1));
    let id = B64.encode(&authenticator.credential_id);
    let (csrf, ceremony, options) = confirmation(&app, &ada, "/account").await;
    let counted = authenticator.assert(&options, counter(5));
    ada.post_form(
        "/account/passkeys/remove",
        &[
            ("csrf_token", csrf.as_str()),
            ("id", id.as_str()),
            ("passkey_ceremony", ceremony.as_str()),
            ("passkey_response", counted.as_str()),
        ],
    )
    .await
    .assert_see_other("/account?passkey_removed=1#passkeys");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkeys"), 0);
    // With none left, there is nothing to confirm with.
    let csrf = ada.get("/account").await.csrf_token();
    challenge(&app, &ada, "/account/passkeys/confirm", &csrf)
        .await
        .assert_problem(400, "validation_failed");
}

#[tokio::test]
async fn the_challenge_endpoints_refuse_without_a_session_or_its_csrf_token() {
    let app = acme().await;
    let browser = Browser::new(&app);
    let csrf = browser.get("/account").await.csrf_token();
    // Registration needs a session.
    challenge(&app, &browser, "/account/passkeys/challenge", &csrf)
        .await
        .assert_problem(401, "unauthorized");
    // Nor does a confirmation.
    challenge(&app, &browser, "/account/passkeys/confirm", &csrf)
        .await
        .assert_problem(401, "unauthorized");
    // No endpoint answers without the page's token.
    for path in [
        "/account/passkeys/challenge",
        "/auth/passkey/challenge",
        "/account/passkeys/confirm",
    ] {
        challenge(&app, &browser, path, "forged")
            .await
            .assert_problem(403, "unauthorized");
    }
    // A malformed body.
    browser
        .sign_in("/account", "ada@acme.test", PASSWORD)
        .await
        .assert_see_other("/account");
    let csrf = browser.get("/account").await.csrf_token();
    let response = browser
        .client
        .post(format!("{}/account/passkeys/challenge", app.address))
        .header("X-CSRF-Token", &csrf)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply(response).await.status, 400);
    // A malformed answer, and an answer to a challenge never given.
    let (signed_out, csrf, _, options) = sign_in_challenge(&app).await;
    let unreadable = post_assertion(&signed_out, &csrf, "unknown", "{not json").await;
    assert_refused(&unreadable, 400, "could not be read");
    let mut authenticator = Authenticator::new();
    authenticator.user_handle = B64.encode(uuid::Uuid::new_v4().as_bytes());
    let unknown = post_assertion(
        &signed_out,
        &csrf,
        "unknown",
        &authenticator.assert(&options, Shape::default()),
    )
    .await;
    assert_refused(&unknown, 410, "expired or was already used");
    // A registration answer without a ceremony (no script) changes nothing.
    let refused = browser
        .post_form(
            "/account/passkeys",
            &[
                ("csrf_token", &csrf_of(&browser).await),
                ("passkey_response", "{}"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM passkeys"), 0);
}

async fn csrf_of(browser: &Browser) -> String {
    browser.get("/account").await.csrf_token()
}

#[tokio::test]
async fn passkeys_are_not_offered_when_the_public_url_is_an_ip_address() {
    let app = spawn_app().await;
    app.create_org("Acme", "ada@acme.test");
    let browser = Browser::new(&app);
    let front = browser.get("/admin").await;
    assert!(!front.text.contains("passkey"), "{}", front.text);
    let csp = front.header("content-security-policy").unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
    let csrf = front.csrf_token();
    challenge(&app, &browser, "/auth/passkey/challenge", &csrf)
        .await
        .assert_problem(404, "not_found");
    // A form posted with a passkey anyway is told so.
    let refused = browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", csrf.as_str()),
                ("intent", "passkey"),
                ("passkey_ceremony", "x"),
                ("passkey_response", "{}"),
            ],
        )
        .await;
    assert_refused(&refused, 400, "Passkeys are not offered on this server.");
}

#[tokio::test]
async fn a_passkey_proves_nothing_about_the_inbox() {
    let app = acme().await;
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator).await;
    app.execute_sql("UPDATE users SET email_verified_at = NULL");
    let mut counter = 0;
    let mut next = || {
        counter += 1;
        Shape {
            counter,
            ..Shape::default()
        }
    };

    // The console needs a proven address: the passkey leads to the inbox first.
    let (browser, csrf, ceremony, options) = sign_in_challenge(&app).await;
    let page = post_assertion(
        &browser,
        &csrf,
        &ceremony,
        &authenticator.assert(&options, next()),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Check your inbox"), "{}", page.text);
    assert!(page.set_cookie("enlist_session").is_none());

    // The account page does not: signed in, and still unproven.
    let browser = Browser::new(&app);
    let csrf = browser.get("/account").await.csrf_token();
    let asked = challenge(&app, &browser, "/auth/passkey/challenge", &csrf).await;
    let answer = authenticator.assert(&asked.body["options"], next());
    browser
        .post_form(
            "/account",
            &[
                ("csrf_token", csrf.as_str()),
                ("intent", "passkey"),
                ("passkey_ceremony", asked.body["ceremony"].as_str().unwrap()),
                ("passkey_response", answer.as_str()),
            ],
        )
        .await
        .assert_see_other("/account");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM users WHERE email_verified_at IS NULL"),
        1
    );
}
