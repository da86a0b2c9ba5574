//! The console's teams over real HTTP: making, renaming and deleting a
//! team, putting members in and taking them out, the team checkboxes of the
//! invitation and join-link forms, and another organization's teams out of
//! reach.

use crate::console_join_links::signed_in;
use crate::helpers::*;
use serde_json::json;

async fn api_team(app: &TestApp, key: &str, name: &str) -> i64 {
    let made = app
        .post("/v1/organization/teams", key, &json!({ "name": name }))
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    made.body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn an_admin_makes_a_team_fills_it_renames_it_and_deletes_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "MEMBER");
    let (browser, csrf) = signed_in(&app, &org).await;
    let teams = format!("/admin/orgs/{}/teams", org.uuid);

    let empty = browser.get(&teams).await;
    empty.assert_html(200);
    assert!(
        empty
            .text
            .contains(&format!("href=\"{teams}\" aria-current=\"page\">Teams")),
        "{}",
        empty.text
    );
    browser
        .post_form(
            &teams,
            &[
                ("csrf_token", &csrf),
                ("name", "Billing"),
                ("description", "Pays"),
            ],
        )
        .await
        .assert_see_other(&format!("{teams}?notice=team-created"));
    let team = app.query_i64("SELECT MAX(id) FROM teams");
    let listed = browser.get(&teams).await;
    listed.assert_html(200);
    assert!(listed.text.contains("Billing"), "{}", listed.text);
    assert!(listed.text.contains(&format!("id=\"team-{team}\"")));

    // A taken name: the form again, as typed, saying why.
    let taken = browser
        .post_form(&teams, &[("csrf_token", &csrf), ("name", "billing")])
        .await;
    taken.assert_html(400);
    assert!(
        taken.text.contains("already") && taken.text.contains("value=\"billing\""),
        "{}",
        taken.text
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM teams"), 1);

    // Carol put in by email; an address no member has is refused on the form.
    let page = format!("{teams}/{team}");
    browser
        .post_form(
            &format!("{page}/members"),
            &[("csrf_token", &csrf), ("email", "carol@acme.test")],
        )
        .await
        .assert_see_other(&format!("{page}?notice=team-member-added"));
    let stranger = browser
        .post_form(
            &format!("{page}/members"),
            &[("csrf_token", &csrf), ("email", "nobody@acme.test")],
        )
        .await;
    stranger.assert_html(400);
    assert!(
        stranger.text.contains("no member of this organization"),
        "{}",
        stranger.text
    );
    let shown = browser.get(&page).await;
    shown.assert_html(200);
    assert!(shown.text.contains("carol@acme.test"), "{}", shown.text);
    assert!(shown.text.contains(&format!("id=\"team-member-{carol}\"")));

    // Renamed; a blank name refused on its field.
    browser
        .post_form(
            &page,
            &[
                ("csrf_token", &csrf),
                ("name", "Payments"),
                ("description", ""),
            ],
        )
        .await
        .assert_see_other(&format!("{page}?notice=team-updated"));
    let blank = browser
        .post_form(&page, &[("csrf_token", &csrf), ("name", " ")])
        .await;
    blank.assert_html(400);
    assert!(blank.text.contains("team-name-error"), "{}", blank.text);
    let api = app
        .get(&format!("/v1/organization/teams/{team}"), &org.key)
        .await;
    assert_eq!(api.body["name"], "Payments");
    assert_eq!(api.body["description"], serde_json::Value::Null);
    assert_eq!(api.body["memberCount"], 1);

    // Carol taken out, then the team deleted.
    browser
        .post_form(
            &format!("{page}/members/{carol}/remove"),
            &[("csrf_token", &csrf)],
        )
        .await
        .assert_see_other(&format!("{page}?notice=team-member-removed"));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM team_members"), 0);
    browser
        .post_form(&format!("{page}/delete"), &[("csrf_token", &csrf)])
        .await
        .assert_see_other(&format!("{teams}?notice=team-deleted"));
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM teams"), 0);
    browser.get(&page).await.assert_html(404);
}

#[tokio::test]
async fn the_invitation_and_join_link_forms_offer_the_teams_to_tick() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let ops = api_team(&app, &org.key, "Ops").await;
    let dev = api_team(&app, &org.key, "Dev").await;
    let (browser, csrf) = signed_in(&app, &org).await;
    let base = format!("/admin/orgs/{}", org.uuid);

    let form = browser.get(&format!("{base}/invitations/new")).await;
    form.assert_html(200);
    assert!(
        form.text.contains(&format!("name=\"team_{ops}\"")),
        "{}",
        form.text
    );
    assert!(form.text.contains(&format!("name=\"team_{dev}\"")));
    let ops_box = format!("team_{ops}");
    let invited = browser
        .post_form(
            &format!("{base}/invitations"),
            &[
                ("csrf_token", &csrf),
                ("email", "ivy@example.test"),
                ("role", "MEMBER"),
                ("message", ""),
                ("expires_in", ""),
                (&ops_box, "on"),
            ],
        )
        .await;
    assert_eq!(invited.status, 303, "{}", invited.text);
    assert_eq!(
        app.query_strings("SELECT CAST(team_id AS TEXT) FROM invitation_teams"),
        [ops.to_string()]
    );

    let link_form = browser.get(&format!("{base}/join-links/new")).await;
    link_form.assert_html(200);
    assert!(link_form.text.contains(&format!("name=\"team_{dev}\"")));
    let dev_box = format!("team_{dev}");
    let made = browser
        .post_form(
            &format!("{base}/join-links"),
            &[
                ("csrf_token", &csrf),
                ("role", "MEMBER"),
                ("max_uses", "3"),
                ("expires_in", "2d"),
                ("domains", ""),
                (&dev_box, "on"),
                (&ops_box, "on"),
            ],
        )
        .await;
    made.assert_html(201);
    let mut linked = app.query_strings("SELECT CAST(team_id AS TEXT) FROM join_link_teams");
    linked.sort();
    let mut expected = vec![ops.to_string(), dev.to_string()];
    expected.sort();
    assert_eq!(linked, expected);

    // A box for a team that is not the organization's: the form again, naming it.
    let other = app.create_org("Globex", "hank@globex.test");
    let theirs = api_team(&app, &other.key, "Theirs").await;
    let theirs_box = format!("team_{theirs}");
    let refused = browser
        .post_form(
            &format!("{base}/invitations"),
            &[
                ("csrf_token", &csrf),
                ("email", "zed@example.test"),
                ("role", "MEMBER"),
                (&theirs_box, "on"),
            ],
        )
        .await;
    refused.assert_html(400);
    assert!(
        refused.text.contains("invite-teams-error"),
        "{}",
        refused.text
    );
    assert!(!refused.text.contains("Theirs"), "{}", refused.text);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE org_id = {}",
            org.id
        )),
        1
    );
}

#[tokio::test]
async fn another_organizations_teams_are_out_of_reach() {
    let app = spawn_app().await;
    let ours = app.create_org("Acme", "ada@acme.test");
    let theirs = app.create_org("Globex", "hank@globex.test");
    let team = api_team(&app, &theirs.key, "Secret").await;
    let (browser, csrf) = signed_in(&app, &ours).await;

    browser
        .get(&format!("/admin/orgs/{}/teams", theirs.uuid))
        .await
        .assert_html(404);
    let here = format!("/admin/orgs/{}/teams/{team}", ours.uuid);
    let shown = browser.get(&here).await;
    shown.assert_html(404);
    assert!(!shown.text.contains("Secret"), "{}", shown.text);
    for (path, fields) in [
        (here.clone(), vec![("name", "Mine")]),
        (format!("{here}/delete"), vec![]),
        (format!("{here}/members"), vec![("email", "ada@acme.test")]),
        (format!("{here}/members/{}/remove", theirs.admin_id), vec![]),
    ] {
        let mut sent = vec![("csrf_token", csrf.as_str())];
        sent.extend(fields);
        let reply = browser.post_form(&path, &sent).await;
        reply.assert_html(404);
    }
    let kept = app
        .get(&format!("/v1/organization/teams/{team}"), &theirs.key)
        .await;
    assert_eq!(kept.body["name"], "Secret");
}
