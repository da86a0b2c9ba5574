//! Verified domains against a real DNS server on 127.0.0.1
//! (tests/support/dns_server.rs, set as `domains.resolver`): registering,
//! the TXT challenge, verifying, the recheck that unverifies a domain whose
//! record went away, auto-join through every way an address is proven,
//! auto-invite, suggestions, one domain between two organizations, the
//! refusals, and isolation between organizations.

use crate::account_helpers::{Jar, latest_link};
use crate::dns_server::DnsServer;
use crate::helpers::*;
use crate::oauth_helpers::{AuthRequest, Browser as AuthorizeBrowser, Intent};
use enlist::domain::Scope;
use serde_json::{Value, json};
use std::time::Duration;

const DOMAINS: &str = "/v1/organization/domains";

/// An enlist whose TXT lookups go to `dns`.
async fn spawn_with_dns() -> (TestApp, DnsServer) {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |settings| {
        settings.domains.resolver = Some(addr);
        settings.domains.lookup_timeout = enlist::config::HumanDuration(Duration::from_secs(2));
    })
    .await;
    (app, dns)
}

async fn register(app: &TestApp, key: &str, body: Value) -> Value {
    let created = app.post(DOMAINS, key, &body).await;
    assert_eq!(created.status, 200, "{}", created.text);
    created.body
}

async fn verify(app: &TestApp, key: &str, id: i64) -> Reply {
    app.post(&format!("{DOMAINS}/{id}/verify"), key, &json!({}))
        .await
}

/// Registers `domain` with `mode` (and the rest of `more`), publishes its
/// challenge at `dns` and verifies it: the domain as verify answers it.
async fn verified(app: &TestApp, dns: &DnsServer, key: &str, domain: &str, more: Value) -> Value {
    let mut body = json!({ "domain": domain });
    for (k, v) in more.as_object().unwrap() {
        body[k] = v.clone();
    }
    let created = register(app, key, body).await;
    let verification = &created["verification"];
    dns.add_txt(
        verification["name"].as_str().unwrap(),
        verification["value"].as_str().unwrap(),
    );
    let done = verify(app, key, created["id"].as_i64().unwrap()).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["verified"], true);
    done.body
}

/// The `(actor, data)` of the organization's events of `kind`, oldest first.
async fn events_of(app: &TestApp, key: &str, kind: &str) -> Vec<(Value, Value)> {
    let page = app
        .get(
            &format!("/v1/organization/events?type={kind}&limit=100"),
            key,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut found: Vec<(Value, Value)> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| (event["actor"].clone(), event["data"].clone()))
        .collect();
    found.reverse();
    found
}

fn user_id_of(app: &TestApp, email: &str) -> i64 {
    app.query_i64(&format!("SELECT id FROM users WHERE email_key = '{email}'"))
}

fn member_role(app: &TestApp, org_id: i64, email: &str) -> Option<String> {
    app.query_strings(&format!(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = {org_id} AND u.email_key = '{email}'"
    ))
    .pop()
}

fn teams_of(app: &TestApp, org_id: i64, email: &str) -> Vec<String> {
    app.query_strings(&format!(
        "SELECT CAST(tm.team_id AS TEXT) FROM team_members tm JOIN users u ON u.id = tm.user_id
         WHERE tm.org_id = {org_id} AND u.email_key = '{email}' ORDER BY tm.team_id"
    ))
}

async fn team(app: &TestApp, key: &str, name: &str) -> i64 {
    let created = app
        .post("/v1/organization/teams", key, &json!({ "name": name }))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    created.body["id"].as_i64().unwrap()
}

/// Signs up on an app's authorize page (a sign-up that mails a
/// verification link); answers the page, whose cookies are that browser's.
async fn sign_up_on_authorize(app: &TestApp, email: &str) -> crate::oauth_helpers::Page {
    let client = app.public_client();
    let request = AuthRequest::for_client(&client);
    let mut browser = AuthorizeBrowser::new(app);
    let shown = browser.open(&request.query()).await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    browser
        .submit(
            &shown,
            Intent::SignUp {
                email,
                password: "a long enough password",
                first_name: "Nia",
                last_name: "Newcomer",
            },
        )
        .await
}

#[tokio::test]
async fn a_domain_is_registered_with_its_challenge_and_verified_through_dns() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let billing = team(&app, &org.key, "Billing").await;

    let created = register(
        &app,
        &org.key,
        json!({ "domain": " Acme.TEST. ", "mode": "auto_join", "teamIds": [billing] }),
    )
    .await;
    assert_eq!(
        keys_of(&created),
        [
            "createdAt",
            "domain",
            "id",
            "mode",
            "role",
            "teamIds",
            "verification",
            "verified",
            "verifiedAt"
        ]
    );
    assert_eq!(created["domain"], "acme.test");
    assert_eq!(created["mode"], "auto_join");
    assert_eq!(created["role"], "MEMBER");
    assert_eq!(created["teamIds"], json!([billing]));
    assert_eq!(created["verified"], false);
    assert_eq!(created["verifiedAt"], Value::Null);
    assert_timestamp(&created["createdAt"]);
    let verification = &created["verification"];
    assert_eq!(verification["type"], "dns_txt");
    assert_eq!(verification["name"], "_enlist-challenge.acme.test");
    let value = verification["value"].as_str().unwrap();
    assert!(value.starts_with("enlist-verification="), "{value}");
    assert!(value.len() >= "enlist-verification=".len() + 32, "{value}");
    let id = created["id"].as_i64().unwrap();

    // Nothing published yet: refused, with a detail, and nothing changes.
    let early = verify(&app, &org.key, id).await;
    early.assert_problem(409, "verification_failed");
    assert!(
        early.body["detail"]
            .as_str()
            .unwrap()
            .contains("_enlist-challenge.acme.test"),
        "{}",
        early.text
    );
    // A record with another value proves nothing either.
    dns.add_txt(
        "_enlist-challenge.acme.test",
        "enlist-verification=someone-else",
    );
    verify(&app, &org.key, id)
        .await
        .assert_problem(409, "verification_failed");
    assert_eq!(
        app.get(&format!("{DOMAINS}/{id}"), &org.key).await.body["verified"],
        false
    );

    dns.add_txt("_enlist-challenge.acme.test", value);
    let done = verify(&app, &org.key, id).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["verified"], true);
    assert_timestamp(&done.body["verifiedAt"]);
    assert!(dns.queries_for("udp", "_enlist-challenge.acme.test") >= 3);
    // Verifying again answers it as it is.
    let again = verify(&app, &org.key, id).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["verifiedAt"], done.body["verifiedAt"]);

    let read = app.get(&format!("{DOMAINS}/{id}"), &org.key).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body, done.body);
    let list = app.get(DOMAINS, &org.key).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["totalCount"], 1);
    assert_eq!(list.body["items"][0], done.body);

    let verified_events = events_of(&app, &org.key, "domain.verified").await;
    assert_eq!(verified_events.len(), 1);
    assert_eq!(verified_events[0].0["type"], "api_key");
    assert_eq!(verified_events[0].1["domain"], done.body);
    assert_eq!(events_of(&app, &org.key, "domain.created").await.len(), 1);

    let deleted = app.delete(&format!("{DOMAINS}/{id}"), &org.key).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body, json!({ "id": id }));
    app.get(&format!("{DOMAINS}/{id}"), &org.key)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(events_of(&app, &org.key, "domain.deleted").await.len(), 1);
}

#[tokio::test]
async fn an_answer_too_large_for_udp_is_fetched_over_tcp() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let created = register(
        &app,
        &org.key,
        json!({ "domain": "acme.test", "mode": "suggest" }),
    )
    .await;
    let name = created["verification"]["name"].as_str().unwrap();
    // Other services' records at the same name push the answer past 512 bytes.
    for n in 0..12 {
        dns.add_txt(name, &format!("some-other-service-verification={n:0>40}"));
    }
    dns.add_txt(name, created["verification"]["value"].as_str().unwrap());
    let done = verify(&app, &org.key, created["id"].as_i64().unwrap()).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(
        dns.queries_for("tcp", name) >= 1,
        "the resolver retried over TCP"
    );
}

#[tokio::test]
async fn bad_domains_and_fields_are_refused_naming_the_field_and_change_nothing() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "olga@other.test");
    verified(
        &app,
        &dns,
        &other.key,
        "taken.test",
        json!({ "mode": "suggest" }),
    )
    .await;
    let foreign_team = team(&app, &other.key, "Theirs").await;
    let before = app.query_i64("SELECT COUNT(*) FROM org_domains");

    for (body, field) in [
        (
            json!({ "domain": "not a domain", "mode": "suggest" }),
            "domain",
        ),
        (
            json!({ "domain": "localhost", "mode": "suggest" }),
            "domain",
        ),
        (
            json!({ "domain": "ada@acme.test", "mode": "suggest" }),
            "domain",
        ),
        (
            json!({ "domain": "https://acme.test/", "mode": "suggest" }),
            "domain",
        ),
        (
            json!({ "domain": "192.0.2.1", "mode": "suggest" }),
            "domain",
        ),
        (
            json!({ "domain": "[2001:db8::1]", "mode": "suggest" }),
            "domain",
        ),
        (json!({ "domain": "co.uk", "mode": "suggest" }), "domain"),
        (json!({ "domain": "com", "mode": "suggest" }), "domain"),
        (
            json!({ "domain": "gmail.com", "mode": "auto_join" }),
            "domain",
        ),
        (
            json!({ "domain": "Outlook.com", "mode": "auto_invite" }),
            "domain",
        ),
        (
            json!({ "domain": "taken.test", "mode": "suggest" }),
            "domain",
        ),
        (json!({ "domain": "acme.test", "mode": "everyone" }), "mode"),
        (
            json!({ "domain": "acme.test", "mode": "suggest", "role": "OWNER!" }),
            "role",
        ),
        (
            json!({ "domain": "acme.test", "mode": "suggest", "role": "billing" }),
            "role",
        ),
        (
            json!({ "domain": "acme.test", "mode": "suggest", "teamIds": "7" }),
            "teamIds",
        ),
        (
            json!({ "domain": "acme.test", "mode": "suggest", "teamIds": [foreign_team] }),
            "teamIds",
        ),
    ] {
        let refused = app.post(DOMAINS, &org.key, &body).await;
        refused.assert_problem(400, "validation_failed");
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.text);
    }
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM org_domains"), before);

    // Registered twice in one organization, and past the limit.
    register(
        &app,
        &org.key,
        json!({ "domain": "acme.test", "mode": "suggest" }),
    )
    .await;
    app.post(
        DOMAINS,
        &org.key,
        &json!({ "domain": "ACME.test", "mode": "auto_join" }),
    )
    .await
    .assert_problem(409, "domain_exists");
    // Bad ids in the path.
    app.get(&format!("{DOMAINS}/abc"), &org.key)
        .await
        .assert_problem(400, "validation_failed");
    verify(&app, &org.key, 999_999)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn an_organization_has_at_most_max_per_organization_domains() {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |settings| {
        settings.domains.resolver = Some(addr);
        settings.domains.max_per_organization = 2;
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    register(
        &app,
        &org.key,
        json!({ "domain": "a.test", "mode": "suggest" }),
    )
    .await;
    register(
        &app,
        &org.key,
        json!({ "domain": "b.test", "mode": "suggest" }),
    )
    .await;
    app.post(
        DOMAINS,
        &org.key,
        &json!({ "domain": "c.test", "mode": "suggest" }),
    )
    .await
    .assert_problem(409, "domain_limit");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM org_domains"), 2);
}

#[tokio::test]
async fn handing_out_admin_through_a_domain_needs_users_write() {
    let (app, _dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let narrow = app.api_key(
        org.id,
        org.admin_id,
        &[Scope::DomainsWrite, Scope::DomainsRead],
    );
    let refused = app
        .post(
            DOMAINS,
            &narrow,
            &json!({ "domain": "acme.test", "mode": "auto_join", "role": "ADMIN" }),
        )
        .await;
    refused.assert_problem(403, "missing_scope");
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM org_domains"), 0);
    let member = app
        .post(
            DOMAINS,
            &narrow,
            &json!({ "domain": "acme.test", "mode": "auto_join" }),
        )
        .await;
    assert_eq!(member.status, 200, "{}", member.text);
}

#[tokio::test]
async fn two_organizations_may_register_one_domain_but_only_one_verifies_it() {
    let (app, dns) = spawn_with_dns().await;
    let first = app.create_org("First", "ada@first.test");
    let second = app.create_org("Second", "bea@second.test");
    let a = register(
        &app,
        &first.key,
        json!({ "domain": "shared.test", "mode": "auto_join" }),
    )
    .await;
    let b = register(
        &app,
        &second.key,
        json!({ "domain": "shared.test", "mode": "suggest" }),
    )
    .await;
    assert_ne!(a["verification"]["value"], b["verification"]["value"]);
    // Both publish their records; the first to verify holds the domain.
    dns.add_txt(
        "_enlist-challenge.shared.test",
        a["verification"]["value"].as_str().unwrap(),
    );
    dns.add_txt(
        "_enlist-challenge.shared.test",
        b["verification"]["value"].as_str().unwrap(),
    );
    let first_done = verify(&app, &first.key, a["id"].as_i64().unwrap()).await;
    assert_eq!(first_done.status, 200, "{}", first_done.text);
    let taken = verify(&app, &second.key, b["id"].as_i64().unwrap()).await;
    taken.assert_problem(409, "domain_taken");
    assert_eq!(
        app.get(&format!("{DOMAINS}/{}", b["id"]), &second.key)
            .await
            .body["verified"],
        false
    );
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM org_domains WHERE verified_at IS NOT NULL"),
        1
    );
    // The storage refuses a second verified holder whatever the code does.
    let b_id = b["id"].as_i64().unwrap();
    let forced = app.db.write_blocking(move |tx| {
        tx.execute(
            "UPDATE org_domains SET verified_at = 1 WHERE id = ?1",
            &[&b_id],
        )
    });
    assert!(forced.is_err(), "the unique index holds");
    // Released by the first, it is the second's to verify.
    let released = app
        .delete(&format!("{DOMAINS}/{}", a["id"]), &first.key)
        .await;
    assert_eq!(released.status, 200, "{}", released.text);
    let second_done = verify(&app, &second.key, b["id"].as_i64().unwrap()).await;
    assert_eq!(second_done.status, 200, "{}", second_done.text);
}

#[tokio::test]
async fn another_organizations_domain_is_not_found_on_every_path() {
    let (app, dns) = spawn_with_dns().await;
    let mine = app.create_org("Mine", "ada@mine.test");
    let theirs = app.create_org("Theirs", "tom@theirs.test");
    let their_domain = verified(
        &app,
        &dns,
        &theirs.key,
        "theirs.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    let id = their_domain["id"].as_i64().unwrap();
    let path = format!("{DOMAINS}/{id}");
    app.get(&path, &mine.key)
        .await
        .assert_problem(404, "not_found");
    verify(&app, &mine.key, id)
        .await
        .assert_problem(404, "not_found");
    app.delete(&path, &mine.key)
        .await
        .assert_problem(404, "not_found");
    let list = app.get(DOMAINS, &mine.key).await;
    assert_eq!(list.body["totalCount"], 0, "{}", list.text);
    assert_eq!(list.body["items"], json!([]));
    // Still theirs, untouched.
    assert_eq!(app.get(&path, &theirs.key).await.body, their_domain);
}

#[tokio::test]
async fn a_removed_record_unverifies_the_domain_at_the_recheck_and_auto_join_stops() {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = spawn_app_without_loops(move |settings| {
        settings.domains.resolver = Some(addr);
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    let domain = verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    let path = format!("{DOMAINS}/{}", domain["id"]);

    // Before a day has passed, no lookup is due.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.sweep_once().await.domains_unverified, 0);
    // A day later the record is still there: still verified.
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.sweep_once().await.domains_unverified, 0);
    assert_eq!(app.get(&path, &org.key).await.body["verified"], true);

    app.create_user("early@acme.test", None);
    assert_eq!(
        member_role(&app, org.id, "early@acme.test").as_deref(),
        Some("MEMBER")
    );

    dns.remove("_enlist-challenge.acme.test");
    app.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(app.sweep_once().await.domains_unverified, 1);
    let read = app.get(&path, &org.key).await;
    assert_eq!(read.body["verified"], false, "{}", read.text);
    assert_eq!(read.body["verifiedAt"], Value::Null);
    let events = events_of(&app, &org.key, "domain.unverified").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0["type"], "system");
    assert_eq!(events[0].1["domain"]["verified"], false);
    // Nothing more to recheck.
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(app.sweep_once().await.domains_unverified, 0);

    app.create_user("late@acme.test", None);
    assert_eq!(member_role(&app, org.id, "late@acme.test"), None);
    // Who joined stays.
    assert_eq!(
        member_role(&app, org.id, "early@acme.test").as_deref(),
        Some("MEMBER")
    );
}

#[tokio::test]
async fn a_recheck_that_gets_no_answer_changes_nothing() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let domain = verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    // A server that never answers: the lookup fails, which proves nothing.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = enlist::dns::Resolver::new(
        Some(silent.local_addr().unwrap()),
        Duration::from_millis(200),
    );
    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    let unverified = enlist::services::domains::recheck(
        &app.db,
        &resolver,
        &app.clock,
        Duration::from_secs(24 * 3600),
    )
    .await
    .unwrap();
    assert_eq!(unverified, 0);
    let read = app
        .get(&format!("{DOMAINS}/{}", domain["id"]), &org.key)
        .await;
    assert_eq!(read.body["verified"], true, "{}", read.text);
    assert!(
        events_of(&app, &org.key, "domain.unverified")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn auto_join_on_sign_up_waits_for_the_verification_link() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let billing = team(&app, &org.key, "Billing").await;
    let domain = verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join", "teamIds": [billing] }),
    )
    .await;

    let signed_up = sign_up_on_authorize(&app, "Nia@Acme.test").await;
    let mut jar = Jar::new(&app);
    jar.keep(&signed_up);
    // Signed up, address not proven: not a member.
    assert_eq!(member_role(&app, org.id, "nia@acme.test"), None);
    let link = latest_link(&app, "verification", "Nia@Acme.test");
    let followed = jar.follow(&link, None).await;
    assert!(
        followed.status == 303 || followed.status == 200,
        "{}",
        followed.html
    );

    assert_eq!(
        member_role(&app, org.id, "nia@acme.test").as_deref(),
        Some("MEMBER")
    );
    assert_eq!(
        teams_of(&app, org.id, "nia@acme.test"),
        [billing.to_string()]
    );
    let added = events_of(&app, &org.key, "member.added").await;
    let (actor, data) = added.last().unwrap();
    assert_eq!(actor["type"], "domain");
    assert_eq!(actor["domainId"], domain["id"]);
    assert_eq!(actor["domain"], "acme.test");
    assert_eq!(actor["userId"], user_id_of(&app, "nia@acme.test"));
    assert_eq!(data["user"]["email"], "Nia@Acme.test");
    assert_eq!(data["domainId"], domain["id"]);
    assert_eq!(
        events_of(&app, &org.key, "team.member_added")
            .await
            .last()
            .unwrap()
            .0["type"],
        "domain"
    );
}

#[tokio::test]
async fn auto_join_acts_on_the_exact_domain_with_its_role_and_never_twice() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let role = app
        .post(
            "/v1/organization/roles",
            &org.key,
            &json!({ "key": "staff", "name": "Staff", "permissions": ["docs:read"] }),
        )
        .await;
    assert_eq!(role.status, 200, "{}", role.text);
    verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join", "role": "staff" }),
    )
    .await;

    // The operator vouches (user create): proven, so joined with the role.
    app.create_user("op@acme.test", None);
    assert_eq!(
        member_role(&app, org.id, "op@acme.test").as_deref(),
        Some("staff")
    );
    // Subdomains and look-alike domains are other domains.
    app.create_user("eve@eu.acme.test", None);
    app.create_user("mal@notacme.test", None);
    assert_eq!(member_role(&app, org.id, "eve@eu.acme.test"), None);
    assert_eq!(member_role(&app, org.id, "mal@notacme.test"), None);
    // An unproven account is left out.
    app.create_unverified_user("sam@acme.test", Some("a long enough password"));
    assert_eq!(member_role(&app, org.id, "sam@acme.test"), None);
    // A member keeps their role; no second member.added.
    let added = events_of(&app, &org.key, "member.added").await.len();
    app.set_password("op@acme.test", "another long password");
    assert_eq!(events_of(&app, &org.key, "member.added").await.len(), added);
    // The role cannot be deleted while the domain hands it out.
    app.delete("/v1/organization/roles/staff", &org.key)
        .await
        .assert_problem(409, "role_in_use");
}

#[tokio::test]
async fn auto_join_through_a_password_reset_link() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    app.create_unverified_user("iris@acme.test", Some("a long enough password"));
    let mut jar = Jar::new(&app);
    let shown = jar.get("/reset").await;
    let csrf = crate::account_helpers::hidden_value(&shown.html, "csrf_token").unwrap();
    let asked = jar
        .post(
            "/reset",
            &[("csrf_token", &csrf), ("email", "iris@acme.test")],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.html);
    assert_eq!(member_role(&app, org.id, "iris@acme.test"), None);
    let link = latest_link(&app, "password_reset", "iris@acme.test");
    let done = jar.follow(&link, Some("a fresh long password")).await;
    assert!(done.status == 303 || done.status == 200, "{}", done.html);
    assert_eq!(
        member_role(&app, org.id, "iris@acme.test").as_deref(),
        Some("MEMBER")
    );
}

#[tokio::test]
async fn auto_join_through_an_emailed_code() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    let browser = crate::page_helpers::Browser::new(&app);
    let page = browser.get("/account").await;
    let return_to = crate::account_helpers::hidden_value(
        page.text
            .split("action=\"/auth/email-code/send\"")
            .nth(1)
            .unwrap(),
        "return_to",
    )
    .unwrap_or_default()
    .replace("&#x2f;", "/")
    .replace("&#47;", "/");
    let asked = browser
        .post_form(
            "/auth/email-code/send",
            &[
                ("csrf_token", &page.csrf_token()),
                ("return_to", &return_to),
                ("email", "cody@acme.test"),
            ],
        )
        .await;
    asked.assert_html(200);
    let link = latest_link(&app, "sign_in_code", "cody@acme.test");
    let code = link.rsplit("code=").next().unwrap().to_owned();
    let shown = browser.get("/auth/email-code").await;
    let typed = browser
        .post_form(
            "/auth/email-code",
            &[("csrf_token", &shown.csrf_token()), ("code", &code)],
        )
        .await;
    assert_eq!(typed.status, 303, "{}", typed.text);
    assert_eq!(
        member_role(&app, org.id, "cody@acme.test").as_deref(),
        Some("MEMBER")
    );
}

#[tokio::test]
async fn auto_join_through_a_provider_that_vouches_for_the_address() {
    let provider = crate::oidc_provider::shared();
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |settings| {
        settings.domains.resolver = Some(addr);
        settings.auth.oidc_providers =
            vec![crate::federation::provider_settings(provider, "local")];
    })
    .await;
    let org = app.create_org("Acme", "ada@acme.test");
    // The provider's accounts have addresses at example.test.
    verified(
        &app,
        &dns,
        &org.key,
        "example.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    let browser = crate::page_helpers::Browser::new(&app);
    let page = browser.get("/account").await;
    let back = crate::federation::through_provider(&app, provider, &browser, &page, "carol").await;
    assert_eq!(back.status, 303, "{}", back.text);
    assert_eq!(
        member_role(&app, org.id, "carol@example.test").as_deref(),
        Some("MEMBER")
    );
}

#[tokio::test]
async fn auto_invite_makes_one_pending_invitation_for_a_proven_address() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let billing = team(&app, &org.key, "Billing").await;
    let domain = verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_invite", "teamIds": [billing] }),
    )
    .await;
    app.create_unverified_user("unproven@acme.test", None);
    let token = app.invitee_token("ivy@acme.test").await;

    assert_eq!(member_role(&app, org.id, "ivy@acme.test"), None);
    let mine = app.invitee_get("/invitations", &token).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let items = mine.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", mine.text);
    assert_eq!(items[0]["organization_name"], "Acme");
    let invitations = app
        .get("/v1/organization/invitations?status=PENDING", &org.key)
        .await;
    assert_eq!(invitations.body["totalCount"], 1, "{}", invitations.text);
    assert_eq!(
        invitations.body["items"][0]["inviteeEmail"],
        "ivy@acme.test"
    );
    let created = events_of(&app, &org.key, "invitation.created").await;
    assert_eq!(created.last().unwrap().0["type"], "domain");
    assert_eq!(created.last().unwrap().0["domainId"], domain["id"]);
    // Not mailed: the person is signed in as it is made.
    assert_eq!(
        crate::account_helpers::messages(&app, "invitation", "ivy@acme.test"),
        0
    );

    // Accepting joins the domain's teams.
    let uuid = items[0]["id"].as_str().unwrap().to_owned();
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(
        member_role(&app, org.id, "ivy@acme.test").as_deref(),
        Some("MEMBER")
    );
    assert_eq!(
        teams_of(&app, org.id, "ivy@acme.test"),
        [billing.to_string()]
    );

    // Someone already invited is not invited twice.
    let invited = app.invite_ok(&org.key, "pat@acme.test", "MEMBER").await;
    app.create_user("pat@acme.test", None);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE invitee_email_key = 'pat@acme.test' AND id <> {invited}"
        )),
        0
    );
    assert_eq!(
        app.query_i64(
            "SELECT COUNT(*) FROM invitations WHERE invitee_email_key = 'unproven@acme.test'"
        ),
        0
    );
}

#[tokio::test]
async fn a_suggest_domain_lists_the_organization_to_proven_addresses_only() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "olga@other.test");
    // Registered but unverified: suggests nothing.
    let pending = register(
        &app,
        &other.key,
        json!({ "domain": "acme.test", "mode": "suggest" }),
    )
    .await;
    let token = app.invitee_token("sue@acme.test").await;
    let none = app.invitee_get("/organizations/suggested", &token).await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.body, json!([]));

    verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "suggest" }),
    )
    .await;
    let listed = app.invitee_get("/organizations/suggested", &token).await;
    assert_eq!(
        listed.body,
        json!([{
            "id": org.uuid, "name": "Acme",
            "logo_url": "https://cdn.example.com/Acme.png", "domain": "acme.test"
        }])
    );
    // The account page lists it too.
    let session = app.session_for(
        user_id_of(&app, "sue@acme.test"),
        enlist::domain::AuthMethod::Password,
        Duration::from_secs(3600),
    );
    let page = crate::page_helpers::Browser::with_session(&app, &session)
        .get("/account")
        .await;
    page.assert_html(200);
    assert!(
        page.text.contains("id=\"suggested-organizations\"") && page.text.contains("Acme"),
        "{}",
        page.text
    );
    // Suggest stores nothing: no membership, no invitation.
    assert_eq!(member_role(&app, org.id, "sue@acme.test"), None);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM invitations WHERE invitee_email_key = 'sue@acme.test'"),
        0
    );
    // A member is not offered their own organization; other domains see nothing.
    let admin_token = app.invitee_token("zed@elsewhere.test").await;
    assert_eq!(
        app.invitee_get("/organizations/suggested", &admin_token)
            .await
            .body,
        json!([])
    );
    app.add_member(org.id, "sue@acme.test", "MEMBER");
    assert_eq!(
        app.invitee_get("/organizations/suggested", &token)
            .await
            .body,
        json!([])
    );
    assert_eq!(pending["verified"], false);
}

#[tokio::test]
async fn auto_join_through_an_invitation_link_that_proves_the_inbox() {
    let (app, dns) = spawn_with_dns().await;
    let org = app.create_org("Acme", "ada@acme.test");
    verified(
        &app,
        &dns,
        &org.key,
        "acme.test",
        json!({ "mode": "auto_join" }),
    )
    .await;
    // Another organization invites someone at acme.test; the invitation's
    // secret link proves the inbox as they sign up on its page.
    let other = app.create_org("Partner", "pam@partner.test");
    let invited = app.invite_ok(&other.key, "ian@acme.test", "MEMBER").await;
    let path = app.invitation_link_path(invited);
    let browser = crate::page_helpers::Browser::new(&app);
    let signed_up = browser
        .sign_up(&path, "ian@acme.test", "a long enough password")
        .await;
    assert!(
        signed_up.status == 303 || signed_up.status == 200,
        "{}",
        signed_up.text
    );
    assert_eq!(
        member_role(&app, org.id, "ian@acme.test").as_deref(),
        Some("MEMBER")
    );
    // The inviting organization still waits for the answer.
    assert_eq!(member_role(&app, other.id, "ian@acme.test"), None);
}
