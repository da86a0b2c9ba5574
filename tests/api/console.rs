//! The admin console (`/admin`) over real HTTP: signing in and out, the
//! gate every request passes (other organizations, admins removed or
//! demoted mid-session, ended sessions), CSRF on every form, each action
//! with its effect and its audit event, refused input, the security
//! headers and escaping of everything typed.

use crate::account_helpers::{hidden_value, latest_link};
use crate::helpers::*;
use crate::page_helpers::*;
use enlist::domain::{Millis, Scope};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";
const FORM_EXPIRED: &str = "That form had expired, so nothing was changed.";
const NOT_ADMIN_ANYWHERE: &str = "You are not an administrator of any organization";
const ORG_NOT_FOUND: &str = "Organization not found";

/// Every page of one organization's console a GET opens.
const PAGES: [&str; 8] = [
    "",
    "/invitations",
    "/invitations/new",
    "/members",
    "/roles",
    "/api-keys",
    "/api-keys/new",
    "/activity",
];

// ---------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------

/// Gives an existing account [`PASSWORD`] (which also proves its address),
/// as the operator's `set_password` does.
fn give_password(app: &TestApp, email: &str) {
    app.set_password(email, PASSWORD);
}

/// `/admin/orgs/{uuid}{rest}`.
fn console_path(org: &TestOrg, rest: &str) -> String {
    format!("/admin/orgs/{}{rest}", org.uuid)
}

/// A browser signed in to the console, with the CSRF token its pages carry.
struct Console {
    browser: Browser,
    address: String,
    csrf: String,
    /// The session cookie's value, to replay it from elsewhere.
    session: String,
}

impl Console {
    async fn get(&self, path: &str) -> Page {
        self.browser.get(path).await
    }

    /// Posts a form the way its page would: with the page's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.browser.post_form(path, &all).await
    }

    /// Posts exactly `fields` (no token added) with extra headers, from
    /// this browser (its cookies go along).
    async fn post_as_is(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self
            .browser
            .client
            .post(format!("{}{path}", self.address))
            .form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        page(request.send().await.unwrap()).await
    }
}

/// The value a response sets for cookie `name`.
fn cookie_value(page: &Page, name: &str) -> String {
    page.set_cookie(name)
        .unwrap_or_else(|| panic!("no {name} cookie: {:?}", page.headers))
        .trim_start_matches(&format!("{name}="))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Signs in at `/admin` with [`PASSWORD`] (the account must have it).
async fn sign_in(app: &TestApp, email: &str) -> Console {
    let browser = Browser::new(app);
    let door = browser.get("/admin").await;
    door.assert_html(200);
    let signed_in = browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &door.csrf_token()),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    signed_in.assert_see_other("/admin");
    let session = cookie_value(&signed_in, "enlist_session");
    let mut shown = browser.get("/admin").await;
    if let Some(next) = shown.location().map(str::to_owned) {
        shown = browser.get(&next).await;
    }
    let csrf = shown.csrf_token();
    Console {
        browser,
        address: app.address.clone(),
        csrf,
        session,
    }
}

/// Gives the account a password, then signs in with it.
async fn sign_in_as(app: &TestApp, email: &str) -> Console {
    give_password(app, email);
    sign_in(app, email).await
}

/// A GET with nothing but this session cookie (a copy of an old cookie).
async fn get_with_session(app: &TestApp, session: &str, path: &str) -> Page {
    page(
        app.client
            .get(format!("{}{path}", app.address))
            .header("Cookie", format!("enlist_session={session}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The text of the element with this `id`, up to its first child tag.
fn text_by_id(page: &Page, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = page.text.find(&marker)? + marker.len();
    let content = page.text[start..].find('>')? + start + 1;
    let end = page.text[content..].find('<')? + content;
    Some(page.text[content..end].trim().to_owned())
}

/// The `value` attribute of the element with this `id`.
fn value_of(page: &Page, id: &str) -> Option<String> {
    let start = page.text.find(&format!("id=\"{id}\""))?;
    let tag = &page.text[start..start + page.text[start..].find('>')?];
    let value = tag.find("value=\"")? + "value=\"".len();
    let end = tag[value..].find('"')? + value;
    Some(tag[value..end].to_owned())
}

/// The error shown under a form field (`invite-email`, `key-name`, …).
fn field_error(page: &Page, field_id: &str) -> Option<String> {
    text_by_id(page, &format!("{field_id}-error"))
}

/// The field a console problem page names (`data-field`).
fn problem_field(page: &Page) -> Option<String> {
    let marker = "data-field=\"";
    let start = page.text.find(marker)? + marker.len();
    let end = page.text[start..].find('"')? + start;
    Some(page.text[start..end].to_owned())
}

/// The ids of a table's rows `<tr id="{prefix}-{id}">`, in page order.
fn row_ids(page: &Page, prefix: &str) -> Vec<i64> {
    let marker = format!("<tr id=\"{prefix}-");
    page.text
        .match_indices(&marker)
        .map(|(at, _)| {
            let rest = &page.text[at + marker.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

/// The HTML of one table row, `<tr id="{row_id}">…</tr>`.
fn row<'a>(page: &'a Page, row_id: &str) -> &'a str {
    let start = page
        .text
        .find(&format!("<tr id=\"{row_id}\""))
        .unwrap_or_else(|| panic!("no row {row_id}: {}", page.text));
    let end = page.text[start..].find("</tr>").unwrap() + start;
    &page.text[start..end]
}

/// The event types the activity table lists, in order.
fn listed_event_types(page: &Page) -> Vec<String> {
    let marker = "<td data-label=\"Event\"><code>";
    page.text
        .match_indices(marker)
        .map(|(at, _)| {
            let rest = &page.text[at + marker.len()..];
            rest[..rest.find('<').unwrap()].to_owned()
        })
        .collect()
}

/// Text as the browser reads it from HTML (the entities the templates write).
fn unescape(html: &str) -> String {
    [
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html.to_owned(), |text, (entity, plain)| {
        text.replace(entity, plain)
    })
}

/// The pager under a list.
fn pager(page: &Page) -> &str {
    let start = page.text.find("<nav class=\"pager\"").unwrap_or(0);
    let end = page.text[start..]
        .find("</nav>")
        .map_or(page.text.len(), |e| e + start);
    &page.text[start..end]
}

/// The notice above a page, if any.
fn notice(page: &Page) -> Option<String> {
    text_by_id(page, "notice")
}

/// `typed` is on the page as text: escaped in the HTML, whole once read.
fn assert_shown_escaped(page: &Page, what: &str, typed: &str) {
    assert!(
        !page.text.contains(typed),
        "{what}: {typed:?} unescaped in {}",
        page.text
    );
    assert!(
        unescape(&page.text).contains(typed),
        "{what}: {typed:?} not shown in {}",
        page.text
    );
}

/// A console page: HTML, the security headers every page sends, and its
/// own script file allowed (never inline script).
fn assert_console_page(page: &Page, status: u16) {
    page.assert_html(status);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.text.contains("<h1>"), "{}", page.text);
}

fn assert_form_expired(page: &Page, what: &str) {
    assert_eq!(page.status, 403, "{what}: {}", page.text);
    page.assert_html(403);
    assert!(page.text.contains(FORM_EXPIRED), "{what}: {}", page.text);
}

fn assert_org_not_found(page: &Page, what: &str) {
    assert_eq!(page.status, 404, "{what}: {}", page.text);
    page.assert_html(404);
    assert!(page.text.contains(ORG_NOT_FOUND), "{what}: {}", page.text);
}

/// The organization's events, newest first.
async fn events(app: &TestApp, key: &str) -> Vec<Value> {
    let page = app.get("/v1/organization/events?limit=1000", key).await;
    assert_eq!(page.status, 200, "{}", page.text);
    page.body["items"].as_array().unwrap().clone()
}

/// The newest event of `kind`.
fn newest<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|event| event["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {events:?}"))
}

/// The event was made in the console by this admin, in a request with an id.
fn assert_by_admin(event: &Value, admin_id: i64) {
    assert_eq!(
        event["actor"],
        json!({ "type": "user", "userId": admin_id }),
        "{event}"
    );
    assert!(
        event["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "{event}"
    );
}

/// A member's role through the admin API, or `None` when not a member.
async fn role_of(app: &TestApp, key: &str, user_id: i64) -> Option<String> {
    let users = app.get("/v1/organization/users?limit=1000", key).await;
    assert_eq!(users.status, 200, "{}", users.text);
    users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["id"] == user_id)
        .map(|user| user["role"].as_str().unwrap().to_owned())
}

/// The id of the newest API key.
fn newest_key_id(app: &TestApp) -> i64 {
    app.query_i64("SELECT MAX(id) FROM api_keys")
}

/// Everything of one organization a console action could change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    invitations: Vec<String>,
    members: Vec<String>,
    keys: Vec<String>,
    messages: i64,
    events: i64,
}

fn snapshot(app: &TestApp, org_id: i64) -> Snapshot {
    Snapshot {
        invitations: app.query_strings(&format!(
            "SELECT CAST(id AS TEXT) || ':' || status || ':' || CAST(expires_at AS TEXT) \
             FROM invitations WHERE org_id = {org_id} ORDER BY id"
        )),
        members: app.query_strings(&format!(
            "SELECT CAST(user_id AS TEXT) || ':' || role FROM memberships \
             WHERE org_id = {org_id} ORDER BY user_id"
        )),
        keys: app.query_strings(&format!(
            "SELECT CAST(id AS TEXT) || ':' || \
             CASE WHEN revoked_at IS NULL THEN 'active' ELSE 'revoked' END \
             FROM api_keys WHERE org_id = {org_id} ORDER BY id"
        )),
        messages: app.query_i64(&format!(
            "SELECT COUNT(*) FROM outbox o JOIN invitations i ON i.id = o.invitation_id \
             WHERE i.org_id = {org_id}"
        )),
        events: app.query_i64(&format!(
            "SELECT COUNT(*) FROM events WHERE org_id = {org_id}"
        )),
    }
}

/// An organization with a pending invitation, a member and its admin's key.
struct Populated {
    org: TestOrg,
    invitation: i64,
    member: i64,
    key_id: i64,
}

async fn populated_org(app: &TestApp, name: &str, admin_email: &str) -> Populated {
    let org = app.create_org(name, admin_email);
    let key_id = newest_key_id(app);
    let domain = name.to_lowercase();
    let invitation = app
        .invite_ok(&org.key, &format!("invitee@{domain}.test"), "MEMBER")
        .await;
    let member = app.add_member(org.id, &format!("member@{domain}.test"), "MEMBER");
    Populated {
        org,
        invitation,
        member,
        key_id,
    }
}

/// A console form's fields, as posted (names repeat: `scope`).
type Fields = Vec<(&'static str, String)>;

/// Every console form of one organization that changes something, with
/// fields that would: (what, path, fields without the CSRF token).
fn actions(target: &Populated) -> Vec<(&'static str, String, Fields)> {
    let org = &target.org;
    let field = |name: &'static str, value: &str| (name, value.to_owned());
    vec![
        (
            "invite",
            console_path(org, "/invitations"),
            vec![
                field("email", "newcomer@example.com"),
                field("role", "ADMIN"),
                field("message", "Welcome"),
                field("expires_in", "3d"),
            ],
        ),
        (
            "revoke",
            console_path(org, &format!("/invitations/{}/revoke", target.invitation)),
            vec![field("back", "")],
        ),
        (
            "resend",
            console_path(org, &format!("/invitations/{}/resend", target.invitation)),
            vec![field("back", "")],
        ),
        (
            "remove member",
            console_path(org, &format!("/members/{}/remove", target.member)),
            vec![],
        ),
        (
            "change role",
            console_path(org, &format!("/members/{}/role", target.member)),
            vec![field("role", "ADMIN")],
        ),
        (
            "create key",
            console_path(org, "/api-keys"),
            vec![
                field("name", "sneaky"),
                field("scope", "users:write"),
                field("scope", "invitations:write"),
            ],
        ),
        (
            "revoke key",
            console_path(org, &format!("/api-keys/{}/revoke", target.key_id)),
            vec![],
        ),
    ]
}

fn borrowed<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

// ---------------------------------------------------------------------
// 1. Signing in and out
// ---------------------------------------------------------------------

#[tokio::test]
async fn an_admin_signs_in_and_lands_on_the_overview_of_their_organization() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "bob@example.com", "MEMBER");
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.invite_ok(&org.key, "dan@example.com", "ADMIN").await;
    let revoked = app.invite_ok(&org.key, "erin@example.com", "MEMBER").await;
    assert_eq!(app.revoke(&org.key, revoked).await.status, 200);
    give_password(&app, "ada@acme.test");

    let browser = Browser::new(&app);
    let door = browser.get("/admin").await;
    door.assert_html(200);
    assert!(
        door.text
            .contains("<form method=\"post\" action=\"/admin\">")
    );
    let signed_in = browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &door.csrf_token()),
                ("email", "ada@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    signed_in.assert_see_other("/admin");
    let cookie = signed_in.set_cookie("enlist_session").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // One organization, nothing to say: straight to it.
    browser
        .get("/admin")
        .await
        .assert_see_other(&console_path(&org, ""));
    let overview = browser.get(&console_path(&org, "")).await;
    assert_console_page(&overview, 200);
    assert!(overview.text.contains("<h1>Acme</h1>"), "{}", overview.text);
    assert!(
        overview
            .text
            .contains("src=\"https://cdn.example.com/Acme.png\"")
    );
    assert_eq!(text_by_id(&overview, "member-count").as_deref(), Some("2"));
    assert_eq!(text_by_id(&overview, "pending-count").as_deref(), Some("2"));
    assert_eq!(
        text_by_id(&overview, "signed-in-as").as_deref(),
        Some("ada@acme.test")
    );
    let pending = &overview.text[overview.text.find("<h2>Pending invitations</h2>").unwrap()
        ..overview.text.find("<h2>Recent activity</h2>").unwrap()];
    assert!(pending.contains("carol@example.com"), "{pending}");
    assert!(pending.contains("dan@example.com"), "{pending}");
    assert!(!pending.contains("erin@example.com"), "{pending}");
    let activity = &overview.text[overview.text.find("id=\"recent-activity\"").unwrap()..];
    assert!(activity.contains("<code>invitation.revoked</code> erin@example.com"));
    assert!(activity.contains("<code>invitation.created</code> carol@example.com"));
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_the_error_and_the_email_kept() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    give_password(&app, "ada@acme.test");
    let browser = Browser::new(&app);
    let door = browser.get("/admin").await;

    let refused = browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &door.csrf_token()),
                ("email", "ada@acme.test"),
                ("password", "not my password at all"),
            ],
        )
        .await;

    refused.assert_html(401);
    assert_eq!(
        text_by_id(&refused, "form-error").as_deref(),
        Some("The email or password is incorrect.")
    );
    assert_eq!(
        value_of(&refused, "signin-email").as_deref(),
        Some("ada@acme.test")
    );
    assert!(!refused.text.contains("not my password at all"));
    assert!(refused.set_cookie("enlist_session").is_none());
    browser
        .get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin");

    // The form it showed again works with the right password.
    browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &refused.csrf_token()),
                ("email", "ada@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_see_other("/admin");
    assert_console_page(&browser.get(&console_path(&org, "")).await, 200);
}

#[tokio::test]
async fn a_member_who_administers_nothing_is_told_so_and_kept_out_of_their_organization() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let bob = sign_in_as(&app, "member@acme.test").await;

    let front = bob.get("/admin").await;
    front.assert_html(403);
    assert!(front.text.contains(NOT_ADMIN_ANYWHERE), "{}", front.text);
    assert!(front.text.contains("member@acme.test"));
    assert!(front.text.contains("action=\"/admin/sign-out\""));

    for rest in PAGES {
        bob.get(&console_path(&acme.org, rest))
            .await
            .assert_see_other("/admin?notice=not-admin");
    }
    let before = snapshot(&app, acme.org.id);
    for (what, path, fields) in actions(&acme) {
        let answer = bob.post(&path, &borrowed(&fields)).await;
        assert_eq!(answer.status, 303, "{what}: {}", answer.text);
        answer.assert_see_other("/admin?notice=not-admin");
    }
    assert_eq!(snapshot(&app, acme.org.id), before);

    let told = bob.get("/admin?notice=not-admin").await;
    told.assert_html(403);
    assert_eq!(
        notice(&told).as_deref(),
        Some("You are no longer an administrator of that organization.")
    );
}

#[tokio::test]
async fn an_admin_of_two_organizations_picks_one_from_a_list() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let beta = app.create_org("Beta", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;

    let picker = ada.get("/admin").await;
    picker.assert_html(200);
    assert!(picker.text.contains("<h1>Your organizations</h1>"));
    let (acme_at, beta_at) = (
        picker.text.find("<span>Acme</span>").unwrap(),
        picker.text.find("<span>Beta</span>").unwrap(),
    );
    assert!(acme_at < beta_at, "oldest membership first");
    for (org, name) in [(&acme, "Acme"), (&beta, "Beta")] {
        assert!(
            picker.text.contains(&format!(
                "<a href=\"{}\"><img src=\"https://cdn.example.com/{name}.png\" alt=\"\"><span>{name}</span></a>",
                console_path(org, "")
            )),
            "{}",
            picker.text
        );
        let overview = ada.get(&console_path(org, "")).await;
        assert_console_page(&overview, 200);
        assert!(overview.text.contains(&format!("<h1>{name}</h1>")));
    }
}

#[tokio::test]
async fn an_unproven_address_never_gets_into_the_console() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let sam = app.create_unverified_user("sam@acme.test", Some(PASSWORD));
    app.add_member(acme.org.id, "sam@acme.test", "ADMIN");

    // Signing in at the console mails a link instead of starting a session.
    let browser = Browser::new(&app);
    let door = browser.get("/admin").await;
    let answer = browser
        .post_form(
            "/admin",
            &[
                ("csrf_token", &door.csrf_token()),
                ("email", "sam@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    answer.assert_html(200);
    assert!(answer.text.contains("Check your inbox"), "{}", answer.text);
    assert!(answer.set_cookie("enlist_session").is_none());
    browser
        .get(&console_path(&acme.org, ""))
        .await
        .assert_see_other("/admin");
    let link = latest_link(&app, "verification", "sam@acme.test");

    // A session of the hosted pages, started while the address was not
    // proven, opens nothing either.
    let session = app.session_for(
        sam,
        enlist::domain::AuthMethod::EmailCode,
        Duration::from_secs(3600),
    );
    for rest in PAGES {
        get_with_session(&app, &session, &console_path(&acme.org, rest))
            .await
            .assert_see_other("/admin");
    }
    let front = get_with_session(&app, &session, "/admin").await;
    front.assert_html(403);
    assert!(
        front.text.contains("Confirm your email address first"),
        "{}",
        front.text
    );
    let csrf = front.csrf_token();
    let before = snapshot(&app, acme.org.id);
    for (what, path, fields) in actions(&acme) {
        let mut all = vec![("csrf_token", csrf.clone())];
        all.extend(fields);
        let answer = page(
            app.client
                .post(format!("{}{path}", app.address))
                .header(
                    "Cookie",
                    format!("enlist_session={session}; enlist_csrf={csrf}"),
                )
                .form(&all)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 303, "{what}: {}", answer.text);
        answer.assert_see_other("/admin");
    }
    assert_eq!(snapshot(&app, acme.org.id), before);

    // Once the emailed link proves the address, the console opens.
    browser
        .follow_link(&link, None)
        .await
        .assert_see_other("/admin");
    browser
        .get("/admin")
        .await
        .assert_see_other(&console_path(&acme.org, ""));
    assert_console_page(&browser.get(&console_path(&acme.org, "")).await, 200);
}

#[tokio::test]
async fn an_admin_without_a_password_sets_one_by_the_emailed_link_and_lands_in_the_console() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let browser = Browser::new(&app);
    let door = browser.get("/admin").await;
    let reset_href = link_href(&door, "forgot-password").unwrap();
    assert!(reset_href.starts_with("/reset?resume="), "{reset_href}");

    let form = browser.get(&reset_href).await;
    form.assert_html(200);
    let resume = unescape(&hidden_value(&form.text, "resume").unwrap());
    let asked = browser
        .post_form(
            "/reset",
            &[
                ("csrf_token", &form.csrf_token()),
                ("email", "ada@acme.test"),
                ("resume", &resume),
            ],
        )
        .await;
    asked.assert_html(200);
    let link = latest_link(&app, "password_reset", "ada@acme.test");
    browser
        .follow_link(&link, Some(PASSWORD))
        .await
        .assert_see_other("/admin");

    browser
        .get("/admin")
        .await
        .assert_see_other(&console_path(&org, ""));
    assert_console_page(&browser.get(&console_path(&org, "")).await, 200);
    // And the password now signs in on its own.
    let again = sign_in(&app, "ada@acme.test").await;
    assert_console_page(&again.get(&console_path(&org, "/members")).await, 200);
}

#[tokio::test]
async fn signing_out_ends_the_session_even_for_a_copy_of_its_cookie() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    assert_console_page(
        &get_with_session(&app, &ada.session, &console_path(&org, "")).await,
        200,
    );
    let sessions = app.query_i64("SELECT COUNT(*) FROM web_sessions");

    let signed_out = ada.post("/admin/sign-out", &[]).await;

    signed_out.assert_see_other("/admin?notice=signed-out");
    let removal = signed_out.set_cookie("enlist_session").unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM web_sessions"),
        sessions - 1
    );
    let door = ada.get("/admin?notice=signed-out").await;
    door.assert_html(200);
    assert_eq!(notice(&door).as_deref(), Some("You are signed out."));
    assert!(door.text.contains("id=\"signin-password\""));
    ada.get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin");
    // The old cookie, kept by someone, opens nothing either.
    for rest in PAGES {
        get_with_session(&app, &ada.session, &console_path(&org, rest))
            .await
            .assert_see_other("/admin?notice=session-ended");
    }
    let told = ada.get("/admin?notice=session-ended").await;
    assert_eq!(
        notice(&told).as_deref(),
        Some("Your session has ended. Sign in again to continue.")
    );
}

#[tokio::test]
async fn a_session_past_its_lifetime_no_longer_opens_the_console() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    assert_console_page(&ada.get(&console_path(&org, "")).await, 200);

    app.clock
        .advance(app.settings.auth.session_lifetime.0 + Duration::from_secs(1));

    for rest in PAGES {
        ada.get(&console_path(&org, rest))
            .await
            .assert_see_other("/admin?notice=session-ended");
    }
    let invited = ada
        .post(
            &console_path(&org, "/invitations"),
            &[("email", "late@example.com"), ("role", "MEMBER")],
        )
        .await;
    invited.assert_see_other("/admin?notice=session-ended");
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE org_id = {}",
            org.id
        )),
        0
    );
    // The front door asks for a password again.
    let door = ada.get("/admin").await;
    door.assert_html(200);
    assert!(door.text.contains("id=\"signin-password\""));
}

// ---------------------------------------------------------------------
// 2. Isolation between organizations
// ---------------------------------------------------------------------

#[tokio::test]
async fn an_admin_of_one_organization_gets_not_found_for_every_page_and_action_of_another() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let beta = populated_org(&app, "Beta", "bert@beta.test").await;
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let (acme_before, beta_before) = (snapshot(&app, acme.org.id), snapshot(&app, beta.org.id));

    for rest in PAGES {
        let shown = ada.get(&console_path(&beta.org, rest)).await;
        assert_org_not_found(&shown, &format!("GET {rest}"));
        assert!(!shown.text.contains("Beta"), "{}", shown.text);
        assert!(!shown.text.contains("invitee@beta.test"));
    }
    for (what, path, fields) in actions(&beta) {
        assert_org_not_found(&ada.post(&path, &borrowed(&fields)).await, what);
    }

    assert_eq!(snapshot(&app, beta.org.id), beta_before);
    assert_eq!(snapshot(&app, acme.org.id), acme_before);
    assert_eq!(app.get("/v1/organization", &beta.org.key).await.status, 200);
    assert_eq!(
        role_of(&app, &beta.org.key, beta.member).await.as_deref(),
        Some("MEMBER")
    );
    assert_eq!(app.stored_status(beta.invitation), "PENDING");
}

#[tokio::test]
async fn ids_of_another_organization_are_not_found_under_ones_own() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let beta = populated_org(&app, "Beta", "bert@beta.test").await;
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let (acme_before, beta_before) = (snapshot(&app, acme.org.id), snapshot(&app, beta.org.id));
    let org = &acme.org;

    let cases = [
        (
            "revoke",
            format!("/invitations/{}/revoke", beta.invitation),
            vec![("back", "")],
            "Invitation not found",
        ),
        (
            "resend",
            format!("/invitations/{}/resend", beta.invitation),
            vec![("back", "")],
            "Invitation not found",
        ),
        (
            "remove",
            format!("/members/{}/remove", beta.member),
            vec![],
            "User not found",
        ),
        (
            "role",
            format!("/members/{}/role", beta.member),
            vec![("role", "ADMIN")],
            "User not found",
        ),
        (
            "revoke key",
            format!("/api-keys/{}/revoke", beta.key_id),
            vec![],
            "API key not found",
        ),
        // Not ids at all.
        (
            "revoke abc",
            "/invitations/abc/revoke".to_owned(),
            vec![("back", "")],
            "Invitation not found",
        ),
        (
            "remove 0",
            "/members/0/remove".to_owned(),
            vec![],
            "Member not found",
        ),
        (
            "revoke key -1",
            "/api-keys/-1/revoke".to_owned(),
            vec![],
            "API key not found",
        ),
    ];
    for (what, rest, fields, heading) in cases {
        let answer = ada.post(&console_path(org, &rest), &fields).await;
        assert_eq!(answer.status, 404, "{what}: {}", answer.text);
        assert_console_page(&answer, 404);
        assert!(
            answer.text.contains(&format!("<h1>{heading}</h1>")),
            "{what}: {}",
            answer.text
        );
        assert!(answer.text.contains("Nothing was changed."));
        // Inside Acme's console: nothing about Beta.
        assert!(answer.text.contains("There is no such"), "{what}");
        assert!(!answer.text.contains("Beta"), "{what}: {}", answer.text);
    }

    assert_eq!(snapshot(&app, beta.org.id), beta_before);
    assert_eq!(snapshot(&app, acme.org.id), acme_before);
    assert_eq!(app.get("/v1/organization", &beta.org.key).await.status, 200);
}

#[tokio::test]
async fn a_malformed_or_unknown_organization_is_not_found() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let bob = sign_in_as(&app, "member@acme.test").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let before = snapshot(&app, acme.org.id);

    for org in ["not-a-uuid", "1", unknown.as_str()] {
        for rest in PAGES {
            let path = format!("/admin/orgs/{org}{rest}");
            assert_org_not_found(&ada.get(&path).await, &path);
            // Someone who administers nothing hears just that.
            bob.get(&path)
                .await
                .assert_see_other("/admin?notice=not-admin");
        }
        let path = format!("/admin/orgs/{org}/invitations");
        let posted = ada
            .post(&path, &[("email", "x@example.com"), ("role", "MEMBER")])
            .await;
        assert_org_not_found(&posted, &path);
    }
    assert_eq!(snapshot(&app, acme.org.id), before);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 1);
}

// ---------------------------------------------------------------------
// 3. Removed or demoted mid-session
// ---------------------------------------------------------------------

#[tokio::test]
async fn an_admin_removed_mid_session_is_refused_from_the_next_request() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let xavier = app.add_member(acme.org.id, "xavier@acme.test", "ADMIN");
    let x = sign_in_as(&app, "xavier@acme.test").await;
    assert_console_page(&x.get(&console_path(&acme.org, "/members")).await, 200);

    assert_eq!(app.remove_user(&acme.org.key, xavier).await.status, 200);

    x.get(&console_path(&acme.org, "/members"))
        .await
        .assert_see_other("/admin?notice=not-admin");
    let before = snapshot(&app, acme.org.id);
    for (what, path, fields) in actions(&acme) {
        let answer = x.post(&path, &borrowed(&fields)).await;
        assert_eq!(answer.status, 303, "{what}: {}", answer.text);
        answer.assert_see_other("/admin?notice=not-admin");
    }
    assert_eq!(snapshot(&app, acme.org.id), before);
    assert_eq!(app.stored_status(acme.invitation), "PENDING");
    let front = x.get("/admin").await;
    front.assert_html(403);
    assert!(front.text.contains(NOT_ADMIN_ANYWHERE));
}

#[tokio::test]
async fn an_admin_removed_from_one_of_two_organizations_keeps_only_the_other() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let beta = app.create_org("Beta", "yolanda@beta.test");
    let yolanda = app.add_member(acme.org.id, "yolanda@beta.test", "ADMIN");
    let y = sign_in_as(&app, "yolanda@beta.test").await;
    assert_console_page(&y.get(&console_path(&acme.org, "")).await, 200);

    assert_eq!(app.remove_user(&acme.org.key, yolanda).await.status, 200);

    assert_org_not_found(&y.get(&console_path(&acme.org, "")).await, "GET");
    let before = snapshot(&app, acme.org.id);
    let revoke = console_path(
        &acme.org,
        &format!("/invitations/{}/revoke", acme.invitation),
    );
    assert_org_not_found(&y.post(&revoke, &[("back", "")]).await, "revoke");
    assert_eq!(snapshot(&app, acme.org.id), before);
    assert_console_page(&y.get(&console_path(&beta, "")).await, 200);
    y.get("/admin")
        .await
        .assert_see_other(&console_path(&beta, ""));
}

#[tokio::test]
async fn an_admin_demoted_mid_session_is_refused_from_the_next_request() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let xavier = app.add_member(acme.org.id, "xavier@acme.test", "ADMIN");
    let x = sign_in_as(&app, "xavier@acme.test").await;
    assert_console_page(&x.get(&console_path(&acme.org, "/api-keys")).await, 200);

    let demoted = app
        .request(
            Method::PATCH,
            &format!("/v1/organization/users/{xavier}"),
            Some(&acme.org.key),
            Some(&json!({ "role": "MEMBER" })),
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);

    for rest in PAGES {
        x.get(&console_path(&acme.org, rest))
            .await
            .assert_see_other("/admin?notice=not-admin");
    }
    let before = snapshot(&app, acme.org.id);
    for (what, path, fields) in actions(&acme) {
        let answer = x.post(&path, &borrowed(&fields)).await;
        assert_eq!(answer.status, 303, "{what}: {}", answer.text);
        answer.assert_see_other("/admin?notice=not-admin");
    }
    assert_eq!(snapshot(&app, acme.org.id), before);
    assert_eq!(
        role_of(&app, &acme.org.key, xavier).await.as_deref(),
        Some("MEMBER")
    );
}

// ---------------------------------------------------------------------
// 4. CSRF
// ---------------------------------------------------------------------

/// A token the server really signed, but for another visitor (signed out).
async fn someone_elses_token(app: &TestApp) -> String {
    Browser::new(app).get("/admin").await.csrf_token()
}

#[tokio::test]
async fn every_console_action_refuses_a_missing_forged_or_cross_site_form() {
    let app = spawn_app().await;
    let acme = populated_org(&app, "Acme", "ada@acme.test").await;
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let forged = someone_elses_token(&app).await;
    let before = snapshot(&app, acme.org.id);

    for (what, path, fields) in actions(&acme) {
        let with = |token: &str| {
            let mut all = vec![("csrf_token", token.to_owned())];
            all.extend(fields.iter().cloned());
            all
        };

        let missing = ada.post_as_is(&path, &borrowed(&fields), &[]).await;
        assert_form_expired(&missing, &format!("{what} without a token"));

        let forged_fields = with(&forged);
        let forged_page = ada.post_as_is(&path, &borrowed(&forged_fields), &[]).await;
        assert_form_expired(&forged_page, &format!("{what} with a forged token"));

        // An attacker's own signed pair, planted as cookie and field.
        let planted = page(
            app.client
                .post(format!("{}{path}", app.address))
                .header(
                    "Cookie",
                    format!("enlist_session={}; enlist_csrf={forged}", ada.session),
                )
                .form(&borrowed(&forged_fields))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_form_expired(&planted, &format!("{what} with a planted pair"));

        let genuine = with(&ada.csrf);
        let cross_site = ada
            .post_as_is(
                &path,
                &borrowed(&genuine),
                &[("Origin", "https://evil.test")],
            )
            .await;
        assert_form_expired(&cross_site, &format!("{what} from another Origin"));
        let fetch_site = ada
            .post_as_is(
                &path,
                &borrowed(&genuine),
                &[("Sec-Fetch-Site", "cross-site")],
            )
            .await;
        assert_form_expired(&fetch_site, &format!("{what} sent cross-site"));
    }

    assert_eq!(snapshot(&app, acme.org.id), before);
    assert_console_page(&ada.get(&console_path(&acme.org, "")).await, 200);
    // The genuine form does work: the refusals were the token's doing.
    let revoke = console_path(
        &acme.org,
        &format!("/invitations/{}/revoke", acme.invitation),
    );
    ada.post(&revoke, &[("back", "")])
        .await
        .assert_see_other(&console_path(&acme.org, "/invitations?notice=revoked"));
    assert_eq!(app.stored_status(acme.invitation), "REVOKED");
}

#[tokio::test]
async fn sign_in_and_sign_out_refuse_a_missing_forged_or_cross_site_form() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    give_password(&app, "ada@acme.test");
    let forged = someone_elses_token(&app).await;

    // Signing in.
    let browser = Browser::new(&app);
    let token = browser.get("/admin").await.csrf_token();
    let credentials = [("email", "ada@acme.test"), ("password", PASSWORD)];
    let post = |fields: Vec<(&'static str, String)>, headers: Vec<(&'static str, &'static str)>| {
        let mut request = browser
            .client
            .post(format!("{}/admin", app.address))
            .form(&fields);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { page(request.send().await.unwrap()).await }
    };
    let with = |token: Option<&str>| {
        let mut fields: Vec<(&'static str, String)> = token
            .map(|t| vec![("csrf_token", t.to_owned())])
            .unwrap_or_default();
        fields.extend(credentials.iter().map(|(n, v)| (*n, (*v).to_owned())));
        fields
    };
    for (what, answer) in [
        ("without a token", post(with(None), vec![]).await),
        (
            "with a forged token",
            post(with(Some(&forged)), vec![]).await,
        ),
        (
            "from another Origin",
            post(with(Some(&token)), vec![("Origin", "https://evil.test")]).await,
        ),
        (
            "sent cross-site",
            post(with(Some(&token)), vec![("Sec-Fetch-Site", "cross-site")]).await,
        ),
    ] {
        assert_form_expired(&answer, &format!("sign-in {what}"));
        assert!(answer.set_cookie("enlist_session").is_none(), "{what}");
        assert!(answer.text.contains("id=\"signin-password\""), "{what}");
    }
    browser
        .get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), 0);

    // Signing out.
    let ada = sign_in(&app, "ada@acme.test").await;
    let sessions = app.query_i64("SELECT COUNT(*) FROM web_sessions");
    for (what, answer) in [
        (
            "without a token",
            ada.post_as_is("/admin/sign-out", &[], &[]).await,
        ),
        (
            "with a forged token",
            ada.post_as_is("/admin/sign-out", &[("csrf_token", &forged)], &[])
                .await,
        ),
        (
            "from another Origin",
            ada.post_as_is(
                "/admin/sign-out",
                &[("csrf_token", &ada.csrf)],
                &[("Origin", "https://evil.test")],
            )
            .await,
        ),
    ] {
        assert_form_expired(&answer, &format!("sign-out {what}"));
        assert!(answer.set_cookie("enlist_session").is_none(), "{what}");
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM web_sessions"), sessions);
    assert_console_page(&ada.get(&console_path(&org, "")).await, 200);
    ada.post("/admin/sign-out", &[])
        .await
        .assert_see_other("/admin?notice=signed-out");
}

// ---------------------------------------------------------------------
// 5. Every action works and is audited
// ---------------------------------------------------------------------

#[tokio::test]
async fn inviting_creates_the_invitation_queues_its_message_and_records_the_admin() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let form = ada.get(&console_path(&org, "/invitations/new")).await;
    assert_console_page(&form, 200);
    assert!(form.text.contains("<option value=\"MEMBER\" selected>"));
    assert!(form.text.contains("name=\"expires_in\""));

    let sent = ada
        .post_as_is(
            &console_path(&org, "/invitations"),
            &[
                ("csrf_token", &ada.csrf),
                ("email", "Carol@Example.com"),
                ("role", "ADMIN"),
                ("message", "Welcome aboard, Carol"),
                ("expires_in", "3d"),
            ],
            &[("X-Request-Id", "console-invite-1")],
        )
        .await;

    sent.assert_see_other(&console_path(&org, "/invitations?notice=invited"));
    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(listed.body["totalCount"], 1, "{}", listed.text);
    let id = listed.body["items"][0]["id"].as_i64().unwrap();
    let invitation = app
        .get(&format!("/v1/organization/invitations/{id}"), &org.key)
        .await
        .body;
    assert_eq!(invitation["inviteeEmail"], "Carol@Example.com");
    assert_eq!(invitation["role"], "ADMIN");
    assert_eq!(invitation["status"], "PENDING");
    assert_eq!(invitation["message"], "Welcome aboard, Carol");
    assert_eq!(invitation["inviterUserId"], org.admin_id);
    assert_eq!(
        millis_of(&invitation["expiresAt"]) - millis_of(&invitation["createdAt"]),
        3 * 86_400_000
    );
    assert_eq!(app.outbox_count_for(id), 1);

    let log = events(&app, &org.key).await;
    let created = newest(&log, "invitation.created");
    assert_by_admin(created, org.admin_id);
    assert_eq!(created["requestId"], "console-invite-1");
    assert_eq!(created["data"]["invitation"]["id"], id);

    let list = ada.get(sent.location().unwrap()).await;
    assert_console_page(&list, 200);
    assert_eq!(notice(&list).as_deref(), Some("Invitation sent."));
    assert_eq!(row_ids(&list, "invitation"), [id]);
    let shown = row(&list, &format!("invitation-{id}"));
    assert!(shown.contains("Carol@Example.com"), "{shown}");
    assert!(shown.contains("status-PENDING"), "{shown}");
}

#[tokio::test]
async fn the_invitation_list_filters_and_pages_like_the_admin_api() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let mut ids = Vec::new();
    for n in 0..30 {
        ids.push(
            app.invite_ok(&org.key, &format!("p{n:02}@example.com"), "MEMBER")
                .await,
        );
    }
    let (revoked, expired) = (ids[0], ids[1]);
    assert_eq!(app.revoke(&org.key, revoked).await.status, 200);
    app.expire_in_place(expired);
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let list = |query: &str| console_path(&org, &format!("/invitations{query}"));
    let base = console_path(&org, "/invitations");

    // The defaults: 25 a page, expired left out (the revoked one is in).
    let first = ada.get(&list("")).await;
    assert_console_page(&first, 200);
    assert_eq!(row_ids(&first, "invitation").len(), 25);
    assert_eq!(
        text_by_id(&first, "page-range").as_deref(),
        Some("1–25 of 29 · page 1 of 2")
    );
    assert!(first.text.contains(&format!("href=\"{base}?page=2\"")));
    assert!(!first.text.contains("id=\"previous-page\""));

    // With expired ones, 10 a page: page 3 is the last full one.
    let third = ada.get(&list("?includeExpired=true&limit=10&page=3")).await;
    assert_console_page(&third, 200);
    let api = app
        .get(
            "/v1/organization/invitations?includeExpired=true&limit=10&offset=20",
            &org.key,
        )
        .await;
    assert_eq!(row_ids(&third, "invitation"), item_ids(&api));
    assert_eq!(row_ids(&third, "invitation").len(), 10);
    assert_eq!(
        text_by_id(&third, "page-range").as_deref(),
        Some("21–30 of 30 · page 3 of 3")
    );
    assert!(
        unescape(&third.text).contains(&format!(
            "href=\"{base}?includeExpired=true&limit=10&page=2\""
        )),
        "{}",
        pager(&third)
    );
    assert!(!third.text.contains("id=\"next-page\""));
    assert!(
        third
            .text
            .contains("name=\"includeExpired\" value=\"true\" checked")
    );
    assert!(third.text.contains("<option value=\"10\" selected>"));

    let fourth = ada.get(&list("?includeExpired=true&limit=10&page=4")).await;
    assert_console_page(&fourth, 200);
    assert!(row_ids(&fourth, "invitation").is_empty());
    assert!(fourth.text.contains("id=\"no-invitations\""));
    assert_eq!(
        text_by_id(&fourth, "page-range").as_deref(),
        Some("0 of 30 · page 4 of 3")
    );

    // One status at a time.
    let only_revoked = ada.get(&list("?status=REVOKED")).await;
    assert_eq!(row_ids(&only_revoked, "invitation"), [revoked]);
    assert!(
        only_revoked
            .text
            .contains("<option value=\"REVOKED\" selected>")
    );
    let revoked_row = row(&only_revoked, &format!("invitation-{revoked}"));
    assert!(revoked_row.contains("status-REVOKED"), "{revoked_row}");
    assert!(!revoked_row.contains("/revoke"), "closed: {revoked_row}");
    let only_expired = ada.get(&list("?status=EXPIRED")).await;
    assert_eq!(row_ids(&only_expired, "invitation"), [expired]);
    let expired_row = row(&only_expired, &format!("invitation-{expired}"));
    assert!(expired_row.contains("status-EXPIRED"), "{expired_row}");
    assert!(expired_row.contains("/resend"), "{expired_row}");
    let pending = ada.get(&list("?status=PENDING&limit=100")).await;
    assert_eq!(row_ids(&pending, "invitation").len(), 28);
    let api = app
        .get(
            "/v1/organization/invitations?status=PENDING&limit=100",
            &org.key,
        )
        .await;
    assert_eq!(row_ids(&pending, "invitation"), item_ids(&api));
    assert_eq!(
        text_by_id(&pending, "page-range").as_deref(),
        Some("1–28 of 28 · page 1 of 1")
    );
    // The row actions carry the view back.
    assert!(unescape(&pending.text).contains("name=\"back\" value=\"?status=PENDING&limit=100\""));

    // The overview counts them all and lists the newest five.
    let overview = ada.get(&console_path(&org, "")).await;
    assert_eq!(
        text_by_id(&overview, "pending-count").as_deref(),
        Some("28")
    );
    let pending_section = &overview.text[overview.text.find("<h2>Pending invitations</h2>").unwrap()
        ..overview.text.find("<h2>Recent activity</h2>").unwrap()];
    assert_eq!(
        pending_section.matches("<li>").count(),
        5,
        "{pending_section}"
    );
    assert!(pending_section.contains("All 28 pending invitations"));
    assert!(pending_section.contains("p29@example.com"), "newest first");
}

#[tokio::test]
async fn resend_once_a_minute_and_revoke_come_back_to_the_list_as_it_was() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let resend = console_path(&org, &format!("/invitations/{id}/resend"));
    let revoke = console_path(&org, &format!("/invitations/{id}/revoke"));
    let back = "?limit=10&status=PENDING";
    let expires = |app: &TestApp| {
        app.query_i64(&format!(
            "SELECT expires_at FROM invitations WHERE id = {id}"
        ))
    };
    let first_expiry = expires(&app);

    ada.post(&resend, &[("back", back)])
        .await
        .assert_see_other(&console_path(
            &org,
            "/invitations?status=PENDING&limit=10&notice=resent",
        ));
    assert_eq!(app.outbox_count_for(id), 2);
    assert!(expires(&app) >= first_expiry);

    // Again within the minute: a message on the list, nothing sent.
    let too_soon = ada.post(&resend, &[("back", back)]).await;
    too_soon.assert_see_other(&console_path(
        &org,
        "/invitations?status=PENDING&limit=10&notice=resend-too-soon",
    ));
    assert_eq!(app.outbox_count_for(id), 2);
    let list = ada.get(too_soon.location().unwrap()).await;
    assert_console_page(&list, 200);
    assert_eq!(
        notice(&list).as_deref(),
        Some("An invitation can be resent once a minute. Wait a moment and try again.")
    );
    assert_eq!(row_ids(&list, "invitation"), [id]);

    app.clock.advance(Duration::from_secs(61));
    ada.post(&resend, &[("back", "")])
        .await
        .assert_see_other(&console_path(&org, "/invitations?notice=resent"));
    assert_eq!(app.outbox_count_for(id), 3);

    let log = events(&app, &org.key).await;
    let resent: Vec<&Value> = log
        .iter()
        .filter(|e| e["type"] == "invitation.resent")
        .collect();
    assert_eq!(resent.len(), 2, "{log:?}");
    for event in resent {
        assert_by_admin(event, org.admin_id);
    }

    // Only the list's own fields come back: no way out of the console.
    ada.post(&revoke, &[("back", "https://evil.test/?status=REVOKED")])
        .await
        .assert_see_other(&console_path(&org, "/invitations?notice=revoked"));
    assert_eq!(app.stored_status(id), "REVOKED");
    let log = events(&app, &org.key).await;
    let revoked = newest(&log, "invitation.revoked");
    assert_by_admin(revoked, org.admin_id);
    assert_eq!(revoked["data"]["invitation"]["id"], id);

    // A revoked invitation is not sent again.
    let refused = ada.post(&resend, &[("back", "")]).await;
    assert_console_page(&refused, 409);
    assert!(
        refused.text.contains("cannot be sent again"),
        "{}",
        refused.text
    );
    assert_eq!(app.outbox_count_for(id), 3);
}

#[tokio::test]
async fn resending_an_expired_invitation_opens_it_again() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let id = app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    app.expire_in_place(id);
    let ada = sign_in_as(&app, "ada@acme.test").await;

    ada.post(
        &console_path(&org, &format!("/invitations/{id}/resend")),
        &[("back", "?status=EXPIRED")],
    )
    .await
    .assert_see_other(&console_path(
        &org,
        "/invitations?status=EXPIRED&notice=resent",
    ));

    let shown = app
        .get(&format!("/v1/organization/invitations/{id}"), &org.key)
        .await;
    assert_eq!(shown.body["status"], "PENDING", "{}", shown.text);
    assert!(millis_of(&shown.body["expiresAt"]) > Millis::now().0);
    assert_eq!(app.outbox_count_for(id), 2);
    let expired = ada
        .get(&console_path(&org, "/invitations?status=EXPIRED"))
        .await;
    assert!(row_ids(&expired, "invitation").is_empty());
    let pending = ada
        .get(&console_path(&org, "/invitations?status=PENDING"))
        .await;
    assert_eq!(row_ids(&pending, "invitation"), [id]);
}

#[tokio::test]
async fn other_methods_are_not_allowed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let cases = [
        (Method::GET, "/admin/sign-out".to_owned(), "POST"),
        (Method::PUT, "/admin".to_owned(), "GET, POST"),
        (Method::DELETE, console_path(&org, ""), "GET"),
        (
            Method::GET,
            console_path(&org, &format!("/members/{}/remove", org.admin_id)),
            "POST",
        ),
        (
            Method::GET,
            console_path(&org, "/api-keys/1/revoke"),
            "POST",
        ),
    ];
    for (method, path, allowed) in cases {
        let answer = page(
            ada.browser
                .client
                .request(method.clone(), format!("{}{path}", app.address))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.text);
        assert_eq!(answer.header("allow"), Some(allowed), "{method} {path}");
    }
    assert_eq!(
        role_of(&app, &org.key, org.admin_id).await.as_deref(),
        Some("ADMIN")
    );
}

#[tokio::test]
async fn removing_a_member_ends_their_membership_and_their_keys() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &[Scope::OrganizationRead]);
    assert_eq!(app.get("/v1/organization", &carols_key).await.status, 200);
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let members = ada.get(&console_path(&org, "/members")).await;
    assert_console_page(&members, 200);
    assert_eq!(
        {
            let mut ids = row_ids(&members, "member");
            ids.sort();
            ids
        },
        [org.admin_id, carol]
    );
    assert!(row(&members, &format!("member-{}", org.admin_id)).contains("(you)"));

    let removed = ada
        .post(
            &console_path(&org, &format!("/members/{carol}/remove")),
            &[],
        )
        .await;

    removed.assert_see_other(&console_path(&org, "/members?notice=removed"));
    let members = ada.get(removed.location().unwrap()).await;
    assert_eq!(
        notice(&members).as_deref(),
        Some("Member removed from the organization.")
    );
    assert_eq!(row_ids(&members, "member"), [org.admin_id]);
    assert_eq!(role_of(&app, &org.key, carol).await, None);
    assert_eq!(app.get("/v1/organization", &carols_key).await.status, 401);
    assert_eq!(
        app.get("/v1/organization", &org.key).await.body["memberCount"],
        1
    );

    let log = events(&app, &org.key).await;
    let event = newest(&log, "member.removed");
    assert_by_admin(event, org.admin_id);
    assert_eq!(event["data"]["user"]["id"], carol);
    let key_event = newest(&log, "api_key.revoked");
    assert_by_admin(key_event, org.admin_id);
    assert_eq!(
        key_event["data"]["apiKey"]["revokedReason"],
        "owner_removed"
    );
    let key_id = key_event["data"]["apiKey"]["id"].as_i64().unwrap();
    let keys = ada.get(&console_path(&org, "/api-keys")).await;
    let shown = row(&keys, &format!("key-{key_id}"));
    assert!(
        shown.contains("Revoked: its owner left the organization"),
        "{shown}"
    );
    assert!(shown.contains(&format!("user #{carol}")), "{shown}");
}

#[tokio::test]
async fn the_last_admin_stays_and_an_admin_who_removes_themselves_leaves_the_console() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "bob@acme.test", "MEMBER");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let remove_ada = console_path(&org, &format!("/members/{}/remove", org.admin_id));
    let demote_ada = console_path(&org, &format!("/members/{}/role", org.admin_id));
    let before = snapshot(&app, org.id);

    let removed = ada.post(&remove_ada, &[]).await;
    removed.assert_see_other(&console_path(&org, "/members?notice=last-admin"));
    ada.post(&demote_ada, &[("role", "MEMBER")])
        .await
        .assert_see_other(&console_path(&org, "/members?notice=last-admin"));
    let told = ada.get(removed.location().unwrap()).await;
    assert_console_page(&told, 200);
    let message = notice(&told).unwrap();
    assert!(
        message.contains("last admin. Make someone else an admin first."),
        "{message}"
    );
    assert_eq!(snapshot(&app, org.id), before);
    assert_eq!(
        role_of(&app, &org.key, org.admin_id).await.as_deref(),
        Some("ADMIN")
    );

    // With another admin, Ada may leave, and the console is no longer hers.
    app.add_member(org.id, "carol@acme.test", "ADMIN");
    ada.post(&remove_ada, &[])
        .await
        .assert_see_other("/admin?notice=removed");
    ada.get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin?notice=not-admin");
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 401);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {} AND user_id = {}",
            org.id, org.admin_id
        )),
        0
    );
}

#[tokio::test]
async fn changing_a_role_is_audited_with_the_previous_role() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let role = console_path(&org, &format!("/members/{bob}/role"));

    let changed = ada.post(&role, &[("role", "ADMIN")]).await;

    changed.assert_see_other(&console_path(&org, "/members?notice=role-changed"));
    assert_eq!(role_of(&app, &org.key, bob).await.as_deref(), Some("ADMIN"));
    let log = events(&app, &org.key).await;
    let event = newest(&log, "member.role_changed");
    assert_by_admin(event, org.admin_id);
    assert_eq!(event["data"]["previousRole"], "MEMBER");
    assert_eq!(event["data"]["user"]["id"], bob);
    assert_eq!(event["data"]["user"]["role"], "ADMIN");
    let members = ada.get(changed.location().unwrap()).await;
    assert_eq!(notice(&members).as_deref(), Some("Role changed."));
    let bobs_row = row(&members, &format!("member-{bob}"));
    assert!(
        bobs_row.contains("<option value=\"ADMIN\" selected>"),
        "{bobs_row}"
    );

    // A role that does not exist changes nothing.
    let before = snapshot(&app, org.id);
    let refused = ada.post(&role, &[("role", "OWNER")]).await;
    assert_console_page(&refused, 400);
    assert_eq!(problem_field(&refused).as_deref(), Some("role"));
    assert!(refused.text.contains("Check the role"));
    assert_eq!(snapshot(&app, org.id), before);

    // Back to member: the keys Bob made as an admin die with the role.
    let bobs_key = app.api_key(org.id, bob, &[Scope::OrganizationRead]);
    let bobs_key_id = newest_key_id(&app);
    ada.post(&role, &[("role", "MEMBER")])
        .await
        .assert_see_other(&console_path(&org, "/members?notice=role-changed"));
    let log = events(&app, &org.key).await;
    assert_eq!(
        newest(&log, "member.role_changed")["data"]["previousRole"],
        "ADMIN"
    );
    assert_eq!(app.get("/v1/organization", &bobs_key).await.status, 401);
    let keys = ada.get(&console_path(&org, "/api-keys")).await;
    let shown = row(&keys, &format!("key-{bobs_key_id}"));
    assert!(
        shown.contains("Revoked: its owner is no longer an admin"),
        "{shown}"
    );
}

#[tokio::test]
async fn an_admin_keeping_their_own_admin_role_stays_in_their_console() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "carol@acme.test", "ADMIN");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let before = snapshot(&app, org.id);

    // The members page shows a Change button on her own row too, with
    // ADMIN selected: pressing it changes nothing.
    let kept = ada
        .post(
            &console_path(&org, &format!("/members/{}/role", org.admin_id)),
            &[("role", "ADMIN")],
        )
        .await;

    assert_eq!(kept.status, 303, "{}", kept.text);
    let location = kept.location().unwrap();
    assert!(
        location.starts_with(&console_path(&org, "/members")),
        "still an admin, yet sent out of the console to {location}"
    );
    assert_eq!(snapshot(&app, org.id), before);
    assert_eq!(
        role_of(&app, &org.key, org.admin_id).await.as_deref(),
        Some("ADMIN")
    );
}

#[tokio::test]
async fn demoting_oneself_leaves_the_console() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &[Scope::UsersRead]);
    let ada = sign_in_as(&app, "ada@acme.test").await;

    ada.post(
        &console_path(&org, &format!("/members/{}/role", org.admin_id)),
        &[("role", "MEMBER")],
    )
    .await
    .assert_see_other("/admin?notice=role-changed");

    ada.get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin?notice=not-admin");
    assert_eq!(
        role_of(&app, &carols_key, org.admin_id).await.as_deref(),
        Some("MEMBER")
    );
    // Her keys died with her admin role.
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 401);
    let told = ada.get("/admin?notice=role-changed").await;
    told.assert_html(403);
    assert!(told.text.contains(NOT_ADMIN_ANYWHERE));
}

#[tokio::test]
async fn the_member_list_pages() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    for n in 0..11 {
        app.add_member(org.id, &format!("m{n:02}@acme.test"), "MEMBER");
    }
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let base = console_path(&org, "/members");

    let first = ada.get(&format!("{base}?limit=10")).await;
    assert_console_page(&first, 200);
    assert_eq!(row_ids(&first, "member").len(), 10);
    assert_eq!(
        text_by_id(&first, "page-range").as_deref(),
        Some("1–10 of 12 · page 1 of 2")
    );
    assert!(
        unescape(&first.text).contains(&format!("href=\"{base}?limit=10&page=2\"")),
        "{}",
        pager(&first)
    );
    let second = ada.get(&format!("{base}?limit=10&page=2")).await;
    assert_console_page(&second, 200);
    assert_eq!(row_ids(&second, "member").len(), 2);
    assert_eq!(
        text_by_id(&second, "page-range").as_deref(),
        Some("11–12 of 12 · page 2 of 2")
    );
    assert!(!second.text.contains("id=\"next-page\""));
    assert!(
        unescape(&second.text).contains(&format!("href=\"{base}?limit=10&page=1\"")),
        "{}",
        pager(&second)
    );

    let mut shown: Vec<i64> = row_ids(&first, "member");
    shown.extend(row_ids(&second, "member"));
    let users = app.get("/v1/organization/users?limit=1000", &org.key).await;
    assert_eq!(shown, item_ids(&users));
}

#[tokio::test]
async fn a_key_created_in_the_console_is_shown_once_works_and_has_only_its_scopes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let form = ada.get(&console_path(&org, "/api-keys/new")).await;
    assert_console_page(&form, 200);
    for scope in Scope::ALL {
        assert!(
            form.text
                .contains(&format!("name=\"scope\" value=\"{}\"", scope.as_str())),
            "{scope}"
        );
    }

    let created = ada
        .post(
            &console_path(&org, "/api-keys"),
            &[
                ("name", "billing sync"),
                ("scope", "invitations:read"),
                ("scope", "organization:read"),
            ],
        )
        .await;

    assert_console_page(&created, 201);
    let secret = value_of(&created, "new-key").unwrap();
    assert!(secret.starts_with("enl_"), "{secret}");
    assert!(created.text.contains("billing sync"));
    let organization = app.get("/v1/organization", &secret).await;
    assert_eq!(organization.status, 200, "{}", organization.text);
    assert_eq!(organization.body["uuid"], org.uuid);
    assert_eq!(
        app.get("/v1/organization/invitations", &secret)
            .await
            .status,
        200
    );
    assert_eq!(app.get("/v1/organization/users", &secret).await.status, 403);
    assert_eq!(
        app.invite(&secret, "x@example.com", "MEMBER").await.status,
        403
    );

    let key_id = newest_key_id(&app);
    let keys = ada.get(&console_path(&org, "/api-keys")).await;
    assert_console_page(&keys, 200);
    assert!(
        !keys.text.contains(&secret),
        "the secret is shown only once"
    );
    let shown = row(&keys, &format!("key-{key_id}"));
    assert!(shown.contains("billing sync"), "{shown}");
    assert!(shown.contains("invitations:read"), "{shown}");
    assert!(shown.contains("organization:read"), "{shown}");
    assert!(!shown.contains("users:read"), "{shown}");
    assert!(
        shown.contains("<td data-label=\"Owner\">you</td>"),
        "{shown}"
    );
    assert!(shown.contains("Active"), "{shown}");

    let log = events(&app, &org.key).await;
    let event = newest(&log, "api_key.created");
    assert_by_admin(event, org.admin_id);
    assert_eq!(event["data"]["apiKey"]["name"], "billing sync");
    assert!(!event.to_string().contains(&secret));
}

#[tokio::test]
async fn a_key_revoked_in_the_console_stops_working() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let spare = app.api_key(org.id, org.admin_id, &[Scope::OrganizationRead]);
    let spare_id = newest_key_id(&app);
    assert_eq!(app.get("/v1/organization", &spare).await.status, 200);
    let ada = sign_in_as(&app, "ada@acme.test").await;

    let revoked = ada
        .post(
            &console_path(&org, &format!("/api-keys/{spare_id}/revoke")),
            &[],
        )
        .await;

    revoked.assert_see_other(&console_path(&org, "/api-keys?notice=key-revoked"));
    assert_eq!(app.get("/v1/organization", &spare).await.status, 401);
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
    let keys = ada.get(revoked.location().unwrap()).await;
    assert_eq!(
        notice(&keys).as_deref(),
        Some("API key revoked. It no longer works.")
    );
    let shown = row(&keys, &format!("key-{spare_id}"));
    assert!(shown.contains("Revoked"), "{shown}");
    assert!(!shown.contains("/revoke"), "{shown}");
    let log = events(&app, &org.key).await;
    let event = newest(&log, "api_key.revoked");
    assert_by_admin(event, org.admin_id);
    assert_eq!(event["data"]["apiKey"]["id"], spare_id);
}

#[tokio::test]
async fn the_activity_page_lists_console_actions_and_filters_by_type() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    ada.post(
        &console_path(&org, "/invitations"),
        &[("email", "carol@example.com"), ("role", "MEMBER")],
    )
    .await
    .assert_see_other(&console_path(&org, "/invitations?notice=invited"));
    assert_eq!(
        ada.post(
            &console_path(&org, "/api-keys"),
            &[("name", "ci"), ("scope", "events:read")],
        )
        .await
        .status,
        201
    );
    ada.post(
        &console_path(&org, &format!("/members/{bob}/role")),
        &[("role", "ADMIN")],
    )
    .await
    .assert_see_other(&console_path(&org, "/members?notice=role-changed"));

    let activity = ada.get(&console_path(&org, "/activity")).await;
    assert_console_page(&activity, 200);
    let api: Vec<String> = events(&app, &org.key)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed_event_types(&activity), api);
    assert_eq!(
        &listed_event_types(&activity)[..3],
        [
            "member.role_changed",
            "api_key.created",
            "invitation.created"
        ]
    );
    let by_ada = format!("<td data-label=\"By\">user #{}</td>", org.admin_id);
    // Her sign-in, the key, the invitation and the role change.
    assert_eq!(
        activity.text.matches(&by_ada).count(),
        4,
        "{}",
        activity.text
    );
    assert!(
        activity
            .text
            .contains("<td data-label=\"About\">carol@example.com</td>")
    );
    assert!(
        activity
            .text
            .contains("<td data-label=\"By\">command line</td>")
    );

    let filtered = ada
        .get(&console_path(&org, "/activity?type=invitation.created"))
        .await;
    assert_console_page(&filtered, 200);
    assert_eq!(listed_event_types(&filtered), ["invitation.created"]);
    assert!(
        filtered
            .text
            .contains("<option value=\"invitation.created\" selected>")
    );
    let overview = ada.get(&console_path(&org, "")).await;
    assert!(
        overview
            .text
            .contains("<code>member.role_changed</code> bob@acme.test")
    );
}

/// The `href` of the link with this `id`, as the browser reads it.
fn link_href(page: &Page, id: &str) -> Option<String> {
    let at = page.text.find(&format!("id=\"{id}\""))?;
    let tag_start = page.text[..at].rfind('<')?;
    let tag = &page.text[tag_start..at];
    let start = tag.find("href=\"")? + "href=\"".len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

#[tokio::test]
async fn the_activity_page_pages_older_events_keeping_the_type_filter() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    // member.added and api_key.created from the command line, 51
    // invitations, then user.signed_in: 54.
    for n in 0..51 {
        app.invite_ok(&org.key, &format!("p{n:02}@example.com"), "MEMBER")
            .await;
    }
    let ada = sign_in_as(&app, "ada@acme.test").await;

    let newest_page = ada.get(&console_path(&org, "/activity")).await;
    assert_eq!(listed_event_types(&newest_page).len(), 50);
    assert!(link_href(&newest_page, "newest-page").is_none());
    let older = ada
        .get(&link_href(&newest_page, "older-page").unwrap())
        .await;
    assert_console_page(&older, 200);
    assert_eq!(
        listed_event_types(&older),
        [
            "invitation.created",
            "invitation.created",
            "api_key.created",
            "member.added"
        ]
    );
    assert_eq!(
        link_href(&older, "newest-page"),
        Some(console_path(&org, "/activity"))
    );
    assert!(link_href(&older, "older-page").is_none());

    // Filtered, the older page holds only that type too.
    let filtered = ada
        .get(&console_path(&org, "/activity?type=invitation.created"))
        .await;
    assert_eq!(listed_event_types(&filtered).len(), 50);
    let older_link = link_href(&filtered, "older-page").unwrap();
    assert!(
        older_link.contains("type=invitation.created"),
        "{older_link}"
    );
    let older = ada.get(&older_link).await;
    assert_eq!(listed_event_types(&older), ["invitation.created"]);
    assert!(
        older
            .text
            .contains("<td data-label=\"About\">p00@example.com</td>"),
        "the oldest invitation"
    );
    assert_eq!(
        link_href(&older, "newest-page"),
        Some(console_path(&org, "/activity?type=invitation.created"))
    );
}

// ---------------------------------------------------------------------
// 6. Bad input
// ---------------------------------------------------------------------

#[tokio::test]
async fn the_invite_form_refuses_bad_fields_keeping_what_was_typed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let long_message = "x".repeat(1001);
    let cases = [
        ("invite-email", "not-an-email", "ADMIN", "Hello", "3d"),
        ("invite-role", "carol@example.com", "OWNER", "Hello", "3d"),
        (
            "invite-expires",
            "carol@example.com",
            "ADMIN",
            "Hello",
            "31d",
        ),
        (
            "invite-expires",
            "carol@example.com",
            "ADMIN",
            "Hello",
            "soon",
        ),
        (
            "invite-message",
            "carol@example.com",
            "ADMIN",
            long_message.as_str(),
            "3d",
        ),
    ];

    for (field, email, role, message, expires_in) in cases {
        let refused = ada
            .post(
                &console_path(&org, "/invitations"),
                &[
                    ("email", email),
                    ("role", role),
                    ("message", message),
                    ("expires_in", expires_in),
                ],
            )
            .await;
        let what = format!("{field} ({email}, {role}, {expires_in})");
        assert_eq!(refused.status, 400, "{what}: {}", refused.text);
        assert_console_page(&refused, 400);
        let error = field_error(&refused, field)
            .unwrap_or_else(|| panic!("{what}: no error at the field: {}", refused.text));
        assert!(!error.is_empty(), "{what}");
        assert_eq!(
            refused.text.matches("class=\"field-error\"").count(),
            1,
            "{what}: only the wrong field"
        );
        assert!(refused.text.contains(&format!("id=\"{field}\"")));
        // What was typed is kept.
        assert_eq!(value_of(&refused, "invite-email").as_deref(), Some(email));
        assert_eq!(
            value_of(&refused, "invite-expires").as_deref(),
            Some(expires_in)
        );
        assert_eq!(
            text_by_id(&refused, "invite-message").as_deref(),
            Some(message)
        );
        if role == "ADMIN" {
            assert!(refused.text.contains("<option value=\"ADMIN\" selected>"));
        }
        if expires_in == "31d" {
            assert!(error.contains("at most"), "{error}");
        }
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM invitations"), 0);
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), 0);
}

#[tokio::test]
async fn inviting_someone_already_pending_or_a_member_conflicts_at_the_email_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "bob@acme.test", "MEMBER");
    app.invite_ok(&org.key, "carol@example.com", "MEMBER").await;
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let before = snapshot(&app, org.id);

    for email in ["CAROL@example.com", "bob@acme.test"] {
        let refused = ada
            .post(
                &console_path(&org, "/invitations"),
                &[("email", email), ("role", "MEMBER"), ("message", "Hi")],
            )
            .await;
        assert_eq!(refused.status, 409, "{email}: {}", refused.text);
        assert_console_page(&refused, 409);
        assert!(field_error(&refused, "invite-email").is_some(), "{email}");
        assert_eq!(value_of(&refused, "invite-email").as_deref(), Some(email));
        assert_eq!(
            text_by_id(&refused, "invite-message").as_deref(),
            Some("Hi")
        );
    }
    assert_eq!(snapshot(&app, org.id), before);
}

#[tokio::test]
async fn the_mail_limit_answers_too_many_requests_with_the_form_kept() {
    let app = spawn_app_with(|settings| settings.invitations.messages_per_org_per_hour = 1).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let invitations = console_path(&org, "/invitations");
    ada.post(
        &invitations,
        &[("email", "carol@example.com"), ("role", "MEMBER")],
    )
    .await
    .assert_see_other(&console_path(&org, "/invitations?notice=invited"));

    let refused = ada
        .post(
            &invitations,
            &[("email", "dan@example.com"), ("role", "MEMBER")],
        )
        .await;

    assert_console_page(&refused, 429);
    assert!(
        refused.header("retry-after").is_some(),
        "{:?}",
        refused.headers
    );
    assert!(
        text_by_id(&refused, "form-error").is_some(),
        "{}",
        refused.text
    );
    assert_eq!(
        value_of(&refused, "invite-email").as_deref(),
        Some("dan@example.com")
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE org_id = {}",
            org.id
        )),
        1
    );

    // Resending is held to the same limit: a refusal, not the once-a-minute notice.
    let carol = app.query_i64("SELECT MAX(id) FROM invitations");
    let resent = ada
        .post(
            &console_path(&org, &format!("/invitations/{carol}/resend")),
            &[("back", "")],
        )
        .await;
    assert_console_page(&resent, 429);
    assert!(
        resent.header("retry-after").is_some(),
        "{:?}",
        resent.headers
    );
    assert_eq!(app.outbox_count_for(carol), 1);
}

#[tokio::test]
async fn a_key_needs_a_name_and_known_scopes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let keys_before = app.query_i64("SELECT COUNT(*) FROM api_keys");
    let long_name = "n".repeat(201);
    let cases: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "key-name",
            vec![("name", ""), ("scope", "invitations:read")],
        ),
        (
            "key-name",
            vec![("name", "   "), ("scope", "invitations:read")],
        ),
        (
            "key-name",
            vec![("name", long_name.as_str()), ("scope", "invitations:read")],
        ),
        ("key-scopes", vec![("name", "ci")]),
        ("key-scopes", vec![("name", "ci"), ("scope", "everything")]),
    ];

    for (field, fields) in cases {
        let refused = ada.post(&console_path(&org, "/api-keys"), &fields).await;
        let what = format!("{field} {fields:?}");
        assert_eq!(refused.status, 400, "{what}: {}", refused.text);
        assert_console_page(&refused, 400);
        assert!(
            field_error(&refused, field).is_some(),
            "{what}: {}",
            refused.text
        );
        assert!(!refused.text.contains("id=\"new-key\""));
        let typed_name = fields[0].1;
        assert_eq!(value_of(&refused, "key-name").as_deref(), Some(typed_name));
        if fields.contains(&("scope", "invitations:read")) {
            assert!(
                refused
                    .text
                    .contains("name=\"scope\" value=\"invitations:read\" checked"),
                "{what}"
            );
        }
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM api_keys"), keys_before);
}

#[tokio::test]
async fn bad_list_filters_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let cases = [
        ("/invitations?status=NOPE", "status"),
        ("/invitations?status=pending", "status"),
        ("/invitations?includeExpired=yes", "includeExpired"),
        ("/invitations?limit=0", "limit"),
        ("/invitations?limit=1001", "limit"),
        ("/invitations?limit=ten", "limit"),
        ("/invitations?page=0", "page"),
        ("/invitations?page=x", "page"),
        ("/members?limit=0", "limit"),
        ("/members?page=-1", "page"),
        ("/activity?type=nope", "type"),
        ("/activity?after=!!!", "after"),
    ];
    for (rest, field) in cases {
        let refused = ada.get(&console_path(&org, rest)).await;
        assert_eq!(refused.status, 400, "{rest}: {}", refused.text);
        assert_console_page(&refused, 400);
        assert_eq!(problem_field(&refused).as_deref(), Some(field), "{rest}");
        assert!(
            refused.text.contains("<h1>Check the "),
            "{rest}: {}",
            refused.text
        );
        // Inside the organization's console.
        assert!(refused.text.contains("<a href=\"/admin/orgs/"), "{rest}");
        assert!(refused.text.contains("Acme"), "{rest}");
    }
}

// ---------------------------------------------------------------------
// 7. Headers and escaping
// ---------------------------------------------------------------------

#[tokio::test]
async fn console_pages_send_the_security_headers_and_no_inline_script() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let door = Browser::new(&app).get("/admin").await;
    door.assert_html(200);
    assert_eq!(door.header("cache-control"), Some("no-store"));
    let ada = sign_in_as(&app, "ada@acme.test").await;

    let mut pages = Vec::new();
    for rest in PAGES {
        pages.push((rest.to_owned(), ada.get(&console_path(&org, rest)).await));
    }
    pages.push((
        "created key".into(),
        ada.post(
            &console_path(&org, "/api-keys"),
            &[("name", "ci"), ("scope", "events:read")],
        )
        .await,
    ));
    pages.push((
        "problem".into(),
        ada.get(&console_path(&org, "/invitations?status=NOPE"))
            .await,
    ));
    for (what, shown) in &pages {
        let status = shown.status.as_u16();
        assert!([200, 201, 400].contains(&status), "{what}: {status}");
        assert_console_page(shown, status);
        assert_eq!(
            shown.text.matches("<script").count(),
            shown
                .text
                .matches("<script src=\"/assets/console.js\" defer></script>")
                .count(),
            "{what}: only the console's own script file"
        );
        assert!(shown.text.contains("<script src=\"/assets/console.js\""));
    }
    // Redirects are not cached either.
    let redirect = ada.get("/admin").await;
    redirect.assert_see_other(&console_path(&org, ""));
    assert_eq!(redirect.header("cache-control"), Some("no-store"));

    let script = app
        .request(Method::GET, "/assets/console.js", None, None)
        .await;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.contains("javascript")),
        "{:?}",
        script.headers
    );
}

#[tokio::test]
async fn what_people_typed_is_escaped_on_every_console_page() {
    let app = spawn_app().await;
    let org_name = "<i>Acme</i>";
    let org = app.create_org(org_name, "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let script = "<script>alert(1)</script>";
    let email = "o'hara&co@example.test";

    let overview = ada.get(&console_path(&org, "")).await;
    assert_shown_escaped(&overview, "overview", &format!("<h1>{org_name}</h1>"));

    // The form shown again keeps the typed text, escaped.
    let typed_message = format!("</textarea>{script}");
    let typed_expiry = "soon\"><script>alert(2)</script>";
    let refused = ada
        .post(
            &console_path(&org, "/invitations"),
            &[
                ("email", email),
                ("role", "MEMBER"),
                ("message", &typed_message),
                ("expires_in", typed_expiry),
            ],
        )
        .await;
    assert_console_page(&refused, 400);
    assert!(!refused.text.contains("<script>"), "{}", refused.text);
    for typed in [email, typed_message.as_str(), typed_expiry] {
        assert_shown_escaped(&refused, "the invite form", typed);
    }

    ada.post(
        &console_path(&org, "/invitations"),
        &[
            ("email", email),
            ("role", "MEMBER"),
            ("message", &typed_message),
        ],
    )
    .await
    .assert_see_other(&console_path(&org, "/invitations?notice=invited"));
    let created = ada
        .post(
            &console_path(&org, "/api-keys"),
            &[("name", script), ("scope", "events:read")],
        )
        .await;
    assert_console_page(&created, 201);

    let mut shown = vec![("created key", created)];
    for rest in ["", "/invitations", "/api-keys", "/activity", "/members"] {
        shown.push((rest, ada.get(&console_path(&org, rest)).await));
    }
    for (what, page) in &shown {
        assert_console_page(page, page.status.as_u16());
        assert!(!page.text.contains("<script>"), "{what}: {}", page.text);
        assert_shown_escaped(page, what, org_name);
    }
    let (key_page, overview, invitations) = (&shown[0].1, &shown[1].1, &shown[2].1);
    let (keys, activity, members) = (&shown[3].1, &shown[4].1, &shown[5].1);
    assert_shown_escaped(key_page, "created key", script);
    assert_shown_escaped(overview, "overview", email);
    assert_shown_escaped(invitations, "invitations", email);
    assert_shown_escaped(
        invitations,
        "invitations",
        &format!("Revoke the invitation to {email}?"),
    );
    assert_shown_escaped(keys, "keys", script);
    assert_shown_escaped(activity, "activity", script);
    assert_shown_escaped(activity, "activity", email);
    assert_shown_escaped(members, "members", &format!("from {org_name}?"));

    // A notice code is looked up, never echoed.
    let noticed = ada
        .get(&console_path(&org, "?notice=%3Cb%3Enotice-probe%3C%2Fb%3E"))
        .await;
    assert_console_page(&noticed, 200);
    assert!(!noticed.text.contains("id=\"notice\""), "{}", noticed.text);
    assert!(!unescape(&noticed.text).contains("notice-probe"));
}

// ---------------------------------------------------------------------
// Recovery: keys minted in the console end with a password reset, and
// minting one asks for the password again
// ---------------------------------------------------------------------

/// Creates a key in the console with one scope; answers the page.
async fn mint(console: &Console, org: &TestOrg, name: &str, password: Option<&str>) -> Page {
    let mut fields = vec![("name", name), ("scope", "organization:read")];
    if let Some(password) = password {
        fields.push(("password", password));
    }
    console.post(&console_path(org, "/api-keys"), &fields).await
}

#[tokio::test]
async fn minting_a_key_asks_for_the_password_again_after_five_minutes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let keys_before = app.query_i64("SELECT COUNT(*) FROM api_keys");

    // Just signed in with the password: the form does not ask again.
    let form = ada.get(&console_path(&org, "/api-keys/new")).await;
    assert!(!form.text.contains("name=\"password\""), "{}", form.text);
    assert_console_page(&mint(&ada, &org, "first", None).await, 201);

    // Five minutes later it does, and nothing is made without it.
    app.clock
        .advance(std::time::Duration::from_secs(5 * 60 + 1));
    let form = ada.get(&console_path(&org, "/api-keys/new")).await;
    assert!(form.text.contains("name=\"password\""), "{}", form.text);
    let asked = mint(&ada, &org, "second", None).await;
    assert_console_page(&asked, 400);
    assert!(
        asked.text.contains("Enter your password to create a key."),
        "{}",
        asked.text
    );
    assert!(asked.text.contains("value=\"second\""), "the name is kept");
    let wrong = mint(&ada, &org, "second", Some("not the password")).await;
    assert_console_page(&wrong, 400);
    assert!(
        wrong.text.contains("The password is incorrect."),
        "{}",
        wrong.text
    );
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM api_keys"),
        keys_before + 1,
        "only the first key"
    );

    let typed = mint(&ada, &org, "second", Some(PASSWORD)).await;
    assert_console_page(&typed, 201);
    // And not again for the next few minutes.
    app.clock.advance(std::time::Duration::from_secs(60));
    assert_console_page(&mint(&ada, &org, "third", None).await, 201);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM api_keys WHERE minted_in_console = 1"),
        3
    );
}

#[tokio::test]
async fn a_password_reset_revokes_the_keys_minted_in_the_console_but_not_the_operators() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let minted = mint(&ada, &org, "made in the console", None).await;
    assert_console_page(&minted, 201);
    let console_key = value_of(&minted, "new-key").unwrap();
    // `org.key` is the operator's (made as `enlist api-key create` makes it).
    assert_eq!(app.get("/v1/organization", &console_key).await.status, 200);

    // The owner of the inbox resets the password.
    let browser = Browser::new(&app);
    let form = browser.get("/reset").await;
    browser
        .post_form(
            "/reset",
            &[
                ("csrf_token", &form.csrf_token()),
                ("email", "ada@acme.test"),
            ],
        )
        .await
        .assert_html(200);
    let link = crate::account_helpers::latest_link(&app, "password_reset", "ada@acme.test");
    let done = browser
        .follow_link(&link, Some("a brand new password"))
        .await;
    done.assert_html(200);
    assert!(
        done.text.contains("1 API key created in the admin console"),
        "{}",
        done.text
    );

    assert_eq!(app.get("/v1/organization", &console_key).await.status, 401);
    assert_eq!(app.get("/v1/organization", &org.key).await.status, 200);
    let log = events(&app, &org.key).await;
    let revoked = newest(&log, "api_key.revoked");
    assert_eq!(revoked["data"]["apiKey"]["revokedReason"], "password_reset");
    // The old session ended with the old password.
    ada.get(&console_path(&org, ""))
        .await
        .assert_see_other("/admin?notice=session-ended");
}

#[tokio::test]
async fn the_role_selects_offer_the_organizations_own_roles_and_take_them() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let created = app
        .post(
            "/v1/organization/roles",
            &org.key,
            &json!({ "key": "billing", "name": "Billing team", "permissions": ["invoices:read"] }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let carol = app.add_member(org.id, "carol@acme.test", "MEMBER");
    let other = app.create_org("Globex", "gus@globex.test");
    let hidden = app
        .post(
            "/v1/organization/roles",
            &other.key,
            &json!({ "key": "secret", "name": "Globex only", "permissions": [] }),
        )
        .await;
    assert_eq!(hidden.status, 200, "{}", hidden.text);
    let ada = sign_in_as(&app, "ada@acme.test").await;

    for path in ["/members", "/invitations/new", "/join-links/new"] {
        let page = ada.get(&console_path(&org, path)).await;
        assert_console_page(&page, 200);
        assert!(
            page.text.contains(r#"<option value="billing""#) && page.text.contains("Billing team"),
            "{path}: {}",
            page.text
        );
        assert!(!page.text.contains("Globex only"), "{path}");
    }

    let changed = ada
        .post(
            &console_path(&org, &format!("/members/{carol}/role")),
            &[("role", "billing")],
        )
        .await;
    assert_eq!(changed.status.as_u16(), 303, "{}", changed.text);
    assert_eq!(
        role_of(&app, &org.key, carol).await.as_deref(),
        Some("billing")
    );

    let invited = ada
        .post(
            &console_path(&org, "/invitations"),
            &[
                ("email", "dan@example.com"),
                ("role", "billing"),
                ("message", ""),
                ("expires_in", "3d"),
            ],
        )
        .await;
    assert_eq!(invited.status.as_u16(), 303, "{}", invited.text);
    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(listed.body["items"][0]["role"], "billing");

    // Another organization's key is unknown here.
    let refused = ada
        .post(
            &console_path(&org, &format!("/members/{carol}/role")),
            &[("role", "secret")],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert_eq!(
        role_of(&app, &org.key, carol).await.as_deref(),
        Some("billing")
    );
}

#[tokio::test]
async fn an_admin_makes_changes_and_deletes_a_role_on_the_roles_page() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Globex", "gus@globex.test");
    let foreign = app
        .post(
            "/v1/organization/roles",
            &other.key,
            &json!({ "key": "theirs", "name": "Theirs", "permissions": [] }),
        )
        .await;
    assert_eq!(foreign.status, 200, "{}", foreign.text);
    let ada = sign_in_as(&app, "ada@acme.test").await;
    let roles = console_path(&org, "/roles");

    let page = ada.get(&roles).await;
    assert_console_page(&page, 200);
    assert!(row(&page, "role-ADMIN").contains("members:manage"));
    assert!(row(&page, "role-MEMBER").contains("none"));
    assert!(!page.text.contains("theirs"));

    let bad = ada
        .post(
            &roles,
            &[
                ("key", "Billing"),
                ("name", "Billing"),
                ("description", ""),
                ("permissions", ""),
            ],
        )
        .await;
    assert_eq!(bad.status.as_u16(), 400, "{}", bad.text);
    assert!(field_error(&bad, "role-key").is_some(), "{}", bad.text);
    assert_eq!(
        app.get("/v1/organization/roles", &org.key).await.body["totalCount"],
        2
    );

    let made = ada
        .post(
            &roles,
            &[
                ("key", "billing"),
                ("name", "Billing"),
                ("description", "Pays"),
                ("permissions", "invoices:read, billing:pay"),
            ],
        )
        .await;
    made.assert_see_other(&console_path(&org, "/roles?notice=role-created"));
    let page = ada.get(made.location().unwrap()).await;
    assert!(row(&page, "role-billing").contains("billing:pay, invoices:read"));

    let edit = ada.get(&console_path(&org, "/roles/billing")).await;
    assert_console_page(&edit, 200);
    let changed = ada
        .post(
            &console_path(&org, "/roles/billing"),
            &[
                ("name", "Billing team"),
                ("description", ""),
                ("permissions", "invoices:read"),
            ],
        )
        .await;
    changed.assert_see_other(&console_path(&org, "/roles?notice=role-updated"));
    let shown = app.get("/v1/organization/roles/billing", &org.key).await;
    assert_eq!(shown.body["name"], "Billing team");
    assert_eq!(shown.body["permissions"], json!(["invoices:read"]));
    assert_eq!(shown.body["description"], Value::Null);

    // Built-ins and another organization's roles cannot be opened or deleted.
    assert_ne!(
        ada.get(&console_path(&org, "/roles/ADMIN"))
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        ada.get(&console_path(&org, "/roles/theirs"))
            .await
            .status
            .as_u16(),
        404
    );
    let foreign_delete = ada
        .post(&console_path(&org, "/roles/theirs/delete"), &[])
        .await;
    assert_eq!(
        foreign_delete.status.as_u16(),
        404,
        "{}",
        foreign_delete.text
    );
    assert_eq!(
        app.get("/v1/organization/roles/theirs", &other.key)
            .await
            .status,
        200
    );

    let carol = app.add_member(org.id, "carol@acme.test", "billing");
    let in_use = ada
        .post(&console_path(&org, "/roles/billing/delete"), &[])
        .await;
    assert_eq!(in_use.status.as_u16(), 409, "{}", in_use.text);
    assert!(in_use.text.contains("1 member(s)"), "{}", in_use.text);
    assert_eq!(app.remove_user(&org.key, carol).await.status, 200);
    let deleted = ada
        .post(&console_path(&org, "/roles/billing/delete"), &[])
        .await;
    deleted.assert_see_other(&console_path(&org, "/roles?notice=role-deleted"));
    assert_eq!(
        app.get("/v1/organization/roles", &org.key).await.body["totalCount"],
        2
    );
}
