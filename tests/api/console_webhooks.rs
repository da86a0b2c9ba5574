//! The console's webhooks page over real HTTP, against a real receiver on
//! loopback: adding an endpoint (its secret shown once and signing what
//! arrives), the test event, turning it off and on, rotating the secret,
//! deleting, refused URLs, and another organization's endpoints.

use crate::console_join_links::{input_value, signed_in};
use crate::webhook_helpers::*;

#[tokio::test]
async fn an_admin_adds_a_webhook_that_receives_signed_events_and_manages_it() {
    let app = spawn_webhook_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let receiver = Receiver::start(vec![]);
    let (browser, csrf) = signed_in(&app, &org).await;
    let hooks = format!("/admin/orgs/{}/webhooks", org.uuid);
    let empty = browser.get(&hooks).await;
    empty.assert_html(200);
    assert!(empty.text.contains("No webhooks yet."), "{}", empty.text);
    browser.get(&format!("{hooks}/new")).await.assert_html(200);

    let added = browser
        .post_form(
            &hooks,
            &[
                ("csrf_token", &csrf),
                ("url", &receiver.url),
                ("description", "billing sync"),
                ("event", "invitation.created"),
                ("event", "webhook.test"),
            ],
        )
        .await;
    added.assert_html(201);
    let secret = input_value(&added.text, "webhook-secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = app.get("/v1/organization/webhooks", &org.key).await;
    assert_eq!(listed.body["totalCount"], 1, "{}", listed.text);
    let id = listed.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(listed.body["items"][0]["description"], "billing sync");
    let page = browser.get(&hooks).await;
    assert!(
        page.text.contains("invitation.created webhook.test"),
        "{}",
        page.text
    );
    assert!(!page.text.contains(&secret), "the secret is shown once");

    // What the endpoint asked for arrives, signed with the shown secret.
    app.invite_ok(&org.key, "grace@example.com", "MEMBER").await;
    let arrived = receiver.wait_for(1).await;
    assert_eq!(arrived[0].json()["type"], "invitation.created");
    arrived[0].verify(&secret).unwrap();

    let test = browser
        .post_form(&format!("{hooks}/{id}/test"), &[("csrf_token", &csrf)])
        .await;
    test.assert_see_other(&format!("{hooks}?notice=webhook-test"));
    let arrived = receiver.wait_for(2).await;
    assert_eq!(arrived[1].json()["type"], "webhook.test");

    let off = browser
        .post_form(&format!("{hooks}/{id}/disable"), &[("csrf_token", &csrf)])
        .await;
    off.assert_see_other(&format!("{hooks}?notice=webhook-disabled"));
    let shown = app
        .get(&format!("/v1/organization/webhooks/{id}"), &org.key)
        .await;
    assert_eq!(shown.body["enabled"], false, "{}", shown.text);
    let page = browser
        .get(&format!("{hooks}?notice=webhook-disabled"))
        .await;
    assert!(
        page.text.contains("Turn on") && page.text.contains("Turned off"),
        "{}",
        page.text
    );
    browser
        .post_form(&format!("{hooks}/{id}/enable"), &[("csrf_token", &csrf)])
        .await
        .assert_see_other(&format!("{hooks}?notice=webhook-enabled"));
    let shown = app
        .get(&format!("/v1/organization/webhooks/{id}"), &org.key)
        .await;
    assert_eq!(shown.body["enabled"], true, "{}", shown.text);

    let rotated = browser
        .post_form(
            &format!("{hooks}/{id}/rotate-secret"),
            &[("csrf_token", &csrf)],
        )
        .await;
    rotated.assert_html(200);
    let new_secret = input_value(&rotated.text, "webhook-secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    // Every change is in the audit log, made by Ada in the console.
    let events = app
        .get("/v1/organization/events?type=webhook.created,webhook.updated,webhook.secret_rotated,webhook.test", &org.key)
        .await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{}", events.text);
    for event in items {
        assert_eq!(event["actor"]["type"], "user", "{event}");
        assert_eq!(event["actor"]["userId"], org.admin_id, "{event}");
    }

    browser
        .post_form(&format!("{hooks}/{id}/delete"), &[("csrf_token", &csrf)])
        .await
        .assert_see_other(&format!("{hooks}?notice=webhook-deleted"));
    let listed = app.get("/v1/organization/webhooks", &org.key).await;
    assert_eq!(listed.body["totalCount"], 0, "{}", listed.text);
    let unknown = browser
        .post_form(&format!("{hooks}/{id}/nonsense"), &[("csrf_token", &csrf)])
        .await;
    unknown.assert_html(404);
}

#[tokio::test]
async fn a_refused_webhook_form_keeps_what_was_typed_and_names_the_field() {
    let app = spawn_webhook_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (browser, csrf) = signed_in(&app, &org).await;
    let hooks = format!("/admin/orgs/{}/webhooks", org.uuid);
    let long = "d".repeat(501);
    for (url, description, error_id) in [
        ("ftp://hooks.example.com/in", "kept", "webhook-url-error"),
        ("https://10.1.2.3/hook", "kept", "webhook-url-error"),
        ("not a url", "kept", "webhook-url-error"),
        (
            "http://127.0.0.1:9/hook",
            long.as_str(),
            "webhook-description-error",
        ),
    ] {
        let refused = browser
            .post_form(
                &hooks,
                &[
                    ("csrf_token", &csrf),
                    ("url", url),
                    ("description", description),
                ],
            )
            .await;
        refused.assert_html(400);
        assert!(
            refused.text.contains(&format!("id=\"{error_id}\"")),
            "{url}: {}",
            refused.text
        );
        assert_eq!(input_value(&refused.text, "webhook-url"), url);
    }
    let listed = app.get("/v1/organization/webhooks", &org.key).await;
    assert_eq!(
        listed.body["totalCount"], 0,
        "nothing was added: {}",
        listed.text
    );
}

#[tokio::test]
async fn another_organizations_webhooks_are_out_of_reach() {
    let app = spawn_webhook_app().await;
    let ours = app.create_org("Acme", "ada@acme.test");
    let theirs = app.create_org("Globex", "hank@globex.test");
    let (id, _) = create_endpoint(&app, &theirs.key, "http://127.0.0.1:9/hook", &[]).await;
    let (browser, csrf) = signed_in(&app, &ours).await;
    browser
        .get(&format!("/admin/orgs/{}/webhooks", theirs.uuid))
        .await
        .assert_html(404);
    for action in ["disable", "delete", "rotate-secret", "test"] {
        for org in [&theirs.uuid, &ours.uuid] {
            let refused = browser
                .post_form(
                    &format!("/admin/orgs/{org}/webhooks/{id}/{action}"),
                    &[("csrf_token", &csrf)],
                )
                .await;
            refused.assert_html(404);
        }
    }
    let shown = app
        .get(&format!("/v1/organization/webhooks/{id}"), &theirs.key)
        .await;
    assert_eq!(shown.body["enabled"], true, "{}", shown.text);
}
