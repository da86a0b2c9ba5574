//! The console's domains over real HTTP, against the test DNS server:
//! adding a domain shows its TXT record, verifying looks it up, a refusal
//! shows on the page, deleting; another organization's domain out of reach.

use crate::console_join_links::signed_in;
use crate::dns_server::DnsServer;
use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn an_admin_adds_a_domain_sees_its_record_verifies_and_deletes_it() {
    let dns = DnsServer::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(move |settings| settings.domains.resolver = Some(addr)).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (browser, csrf) = signed_in(&app, &org).await;
    let domains = format!("/admin/orgs/{}/domains", org.uuid);

    let empty = browser.get(&domains).await;
    empty.assert_html(200);
    assert!(
        empty
            .text
            .contains(&format!("href=\"{domains}\" aria-current=\"page\">Domains")),
        "{}",
        empty.text
    );
    browser
        .post_form(
            &domains,
            &[
                ("csrf_token", &csrf),
                ("domain", "Acme.test"),
                ("mode", "auto_join"),
            ],
        )
        .await
        .assert_see_other(&format!("{domains}?notice=domain-created"));
    let id = app.query_i64("SELECT MAX(id) FROM org_domains");
    let value = app
        .query_strings("SELECT challenge FROM org_domains")
        .pop()
        .unwrap();
    let listed = browser.get(&domains).await;
    listed.assert_html(200);
    assert!(
        listed.text.contains("_enlist-challenge.acme.test"),
        "{}",
        listed.text
    );
    assert!(listed.text.contains(&value), "{}", listed.text);
    assert!(listed.text.contains("not verified"), "{}", listed.text);

    // Refused on the form: a consumer domain, as typed, saying why.
    let refused = browser
        .post_form(
            &domains,
            &[
                ("csrf_token", &csrf),
                ("domain", "gmail.com"),
                ("mode", "suggest"),
            ],
        )
        .await;
    refused.assert_html(400);
    assert!(
        refused.text.contains("value=\"gmail.com\""),
        "{}",
        refused.text
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM org_domains"), 1);

    // Verify before the record exists: the console says why, nothing changes.
    let early = browser
        .post_form(&format!("{domains}/{id}/verify"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(early.status, 409, "{}", early.text);
    assert!(
        early.text.contains("_enlist-challenge.acme.test"),
        "{}",
        early.text
    );
    dns.add_txt("_enlist-challenge.acme.test", &value);
    browser
        .post_form(&format!("{domains}/{id}/verify"), &[("csrf_token", &csrf)])
        .await
        .assert_see_other(&format!("{domains}?notice=domain-verified"));
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM org_domains WHERE verified_at IS NOT NULL"),
        1
    );
    let verified_by = app
        .get("/v1/organization/events?type=domain.verified", &org.key)
        .await;
    assert_eq!(verified_by.body["items"][0]["actor"]["type"], "user");

    // Another organization's domain: not found from this console.
    let other = app.create_org("Other", "olga@other.test");
    let theirs = app
        .post(
            "/v1/organization/domains",
            &other.key,
            &json!({ "domain": "other.test", "mode": "suggest" }),
        )
        .await;
    let theirs = theirs.body["id"].as_i64().unwrap();
    let foreign = browser
        .post_form(
            &format!("{domains}/{theirs}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);

    browser
        .post_form(&format!("{domains}/{id}/delete"), &[("csrf_token", &csrf)])
        .await
        .assert_see_other(&format!("{domains}?notice=domain-deleted"));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM org_domains"), 1);
}
