//! Teams: the admin API from creation to membership to removal, `teamIds`
//! on invitations, bulk items and join links, the users list's `teamId`
//! filter, and organizations kept apart.

use crate::helpers::*;
use crate::page_helpers::page;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const TEAMS: &str = "/v1/organization/teams";

async fn create_team(app: &TestApp, key: &str, name: &str) -> i64 {
    let created = app.post(TEAMS, key, &json!({ "name": name })).await;
    assert_eq!(created.status, 200, "{}", created.text);
    created.body["id"].as_i64().unwrap()
}

async fn put(app: &TestApp, path: &str, key: &str) -> Reply {
    app.request(Method::PUT, path, Some(key), None).await
}

async fn patch(app: &TestApp, path: &str, key: &str, body: &Value) -> Reply {
    app.request(Method::PATCH, path, Some(key), Some(body))
        .await
}

/// The user ids a users-shaped page lists.
fn user_ids(page: &Reply) -> Vec<i64> {
    page.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", page.text))
        .iter()
        .map(|user| user["id"].as_i64().unwrap())
        .collect()
}

async fn member_count(app: &TestApp, key: &str, team: i64) -> i64 {
    let team = app.get(&format!("{TEAMS}/{team}"), key).await;
    assert_eq!(team.status, 200, "{}", team.text);
    team.body["memberCount"].as_i64().unwrap()
}

/// The `data` of the organization's events of `kind`, oldest first.
async fn events_of(app: &TestApp, key: &str, kind: &str) -> Vec<Value> {
    let page = app
        .get(
            &format!("/v1/organization/events?type={kind}&limit=100"),
            key,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut data: Vec<Value> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["data"].clone())
        .collect();
    data.reverse();
    data
}

/// The account id of `email`.
fn user_id_of(app: &TestApp, email: &str) -> i64 {
    app.query_i64(&format!("SELECT id FROM users WHERE email_key = '{email}'"))
}

/// Invites `email` with `teamIds` and accepts as them; answers their user id.
async fn invite_and_accept(app: &TestApp, key: &str, email: &str, team_ids: Value) -> i64 {
    let invited = app
        .post(
            "/v1/organization/invitations",
            key,
            &json!({ "inviteeEmail": email, "role": "MEMBER", "teamIds": team_ids }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    let uuid = app.invitation_uuid(invited.body["id"].as_i64().unwrap());
    let token = app.invitee_token(email).await;
    let user = user_id_of(app, email);
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    user
}

#[tokio::test]
async fn a_team_from_creation_through_an_accepted_invitation_to_removal() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let created = app
        .post(
            TEAMS,
            &org.key,
            &json!({ "name": "  Billing ", "description": "Invoices and payments" }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let billing = created.body["id"].as_i64().unwrap();
    assert_eq!(created.body["name"], "Billing");
    assert_eq!(created.body["description"], "Invoices and payments");
    assert_eq!(created.body["memberCount"], 0);
    assert_timestamp(&created.body["createdAt"]);
    assert_timestamp(&created.body["updatedAt"]);
    assert_eq!(
        keys_of(&created.body),
        [
            "createdAt",
            "description",
            "id",
            "memberCount",
            "name",
            "updatedAt"
        ]
    );
    let support = create_team(&app, &org.key, "Support").await;

    // Names are unique in the organization, whatever their case.
    let taken = app
        .post(TEAMS, &org.key, &json!({ "name": "billing" }))
        .await;
    taken.assert_problem(409, "team_name_taken");
    let renamed_onto = patch(
        &app,
        &format!("{TEAMS}/{support}"),
        &org.key,
        &json!({ "name": "BILLING" }),
    )
    .await;
    renamed_onto.assert_problem(409, "team_name_taken");

    // Listed oldest first, paginated.
    let listed = app.get(TEAMS, &org.key).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(item_ids(&listed), [billing, support]);
    assert_eq!(listed.body["totalCount"], 2);
    assert_eq!(listed.body["limit"], 100);
    assert_eq!(listed.body["offset"], 0);
    let second = app
        .get(&format!("{TEAMS}?limit=1&offset=1"), &org.key)
        .await;
    assert_eq!(item_ids(&second), [support]);
    assert_eq!(second.body["totalCount"], 2);

    // An invitation naming both teams; accepting puts the person in both.
    let invited = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "iris@example.test", "role": "MEMBER",
                     "teamIds": [support, billing, billing] }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert_eq!(invited.body["teamIds"], json!([billing, support]));
    // Every admin read of it says so too; one without teams says nothing.
    let id = invited.body["id"].as_i64().unwrap();
    let plain = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "ivan@example.test", "role": "MEMBER" }),
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    assert!(plain.body.get("teamIds").is_none(), "{}", plain.text);
    let shown = app
        .get(&format!("/v1/organization/invitations/{id}"), &org.key)
        .await;
    assert_eq!(
        shown.body["teamIds"],
        json!([billing, support]),
        "{}",
        shown.text
    );
    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(listed.body["items"][0]["inviteeEmail"], "ivan@example.test");
    assert!(listed.body["items"][0].get("teamIds").is_none());
    assert_eq!(listed.body["items"][1]["id"], id);
    assert_eq!(
        listed.body["items"][1]["teamIds"],
        json!([billing, support])
    );
    app.clock.advance(std::time::Duration::from_secs(120));
    let resent = app
        .post(
            &format!("/v1/organization/invitations/{id}/resend"),
            &org.key,
            &json!({}),
        )
        .await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert_eq!(resent.body["teamIds"], json!([billing, support]));
    let uuid = app.invitation_uuid(id);
    let token = app.invitee_token("iris@example.test").await;
    let iris = user_id_of(&app, "iris@example.test");
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(member_count(&app, &org.key, billing).await, 1);
    assert_eq!(member_count(&app, &org.key, support).await, 1);
    let members = app
        .get(&format!("{TEAMS}/{billing}/members"), &org.key)
        .await;
    assert_eq!(members.status, 200, "{}", members.text);
    assert_eq!(user_ids(&members), [iris]);
    assert_eq!(members.body["totalCount"], 1);
    assert_eq!(members.body["items"][0]["email"], "iris@example.test");
    assert_eq!(members.body["items"][0]["role"], "MEMBER");

    // An admin is put in a team (twice: nothing changes) and taken out.
    let path = format!("{TEAMS}/{billing}/members/{}", org.admin_id);
    for _ in 0..2 {
        let added = put(&app, &path, &org.key).await;
        assert_eq!(added.status, 200, "{}", added.text);
        assert_eq!(added.body["id"], org.admin_id);
        assert_eq!(added.body["role"], "ADMIN");
        assert_eq!(added.body["email"], "ada@acme.test");
    }
    assert_eq!(member_count(&app, &org.key, billing).await, 2);
    let filtered = app
        .get(
            &format!("/v1/organization/users?teamId={billing}"),
            &org.key,
        )
        .await;
    assert_eq!(filtered.status, 200, "{}", filtered.text);
    let mut expected = vec![org.admin_id, iris];
    expected.sort_unstable();
    assert_eq!(user_ids(&filtered), expected);
    assert_eq!(filtered.body["totalCount"], 2);
    let paged = app
        .get(
            &format!("/v1/organization/users?teamId={billing}&limit=1&offset=1"),
            &org.key,
        )
        .await;
    assert_eq!(user_ids(&paged), [expected[1]]);
    let support_only = app
        .get(
            &format!("/v1/organization/users?teamId={support}"),
            &org.key,
        )
        .await;
    assert_eq!(user_ids(&support_only), [iris]);
    let everyone = app.get("/v1/organization/users", &org.key).await;
    assert_eq!(everyone.body["totalCount"], 2);

    let removed = app.delete(&path, &org.key).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.body, json!({ "id": org.admin_id }));
    app.delete(&path, &org.key)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(member_count(&app, &org.key, billing).await, 1);

    // Renamed and described anew; the description cleared.
    let changed = patch(
        &app,
        &format!("{TEAMS}/{billing}"),
        &org.key,
        &json!({ "name": "Payments", "description": null }),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["name"], "Payments");
    assert_eq!(changed.body["description"], Value::Null);
    assert_eq!(changed.body["memberCount"], 1);
    // Its own name in another case is no clash.
    let recased = patch(
        &app,
        &format!("{TEAMS}/{billing}"),
        &org.key,
        &json!({ "name": "PAYMENTS" }),
    )
    .await;
    assert_eq!(recased.status, 200, "{}", recased.text);

    // Removed from the organization: out of every team, in the same write.
    assert_eq!(app.remove_user(&org.key, iris).await.status, 200);
    assert_eq!(member_count(&app, &org.key, billing).await, 0);
    assert_eq!(member_count(&app, &org.key, support).await, 0);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM team_members WHERE user_id = {iris}"
        )),
        0
    );
    let removals = events_of(&app, &org.key, "team.member_removed").await;
    let removed_from: Vec<(i64, i64)> = removals
        .iter()
        .map(|data| {
            (
                data["team"]["id"].as_i64().unwrap(),
                data["user"]["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        removed_from,
        [(billing, org.admin_id), (billing, iris), (support, iris)]
    );

    // Deleted: gone, its id answered.
    let deleted = app.delete(&format!("{TEAMS}/{support}"), &org.key).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body, json!({ "id": support }));
    app.get(&format!("{TEAMS}/{support}"), &org.key)
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("{TEAMS}/{support}"), &org.key)
        .await
        .assert_problem(404, "not_found");

    // Every change is an event.
    let created_events = events_of(&app, &org.key, "team.created").await;
    assert_eq!(created_events.len(), 2);
    assert_eq!(created_events[0]["team"]["name"], "Billing");
    let updated = events_of(&app, &org.key, "team.updated").await;
    assert_eq!(updated[0]["previous"]["name"], "Billing");
    assert_eq!(updated[0]["team"]["name"], "Payments");
    let added = events_of(&app, &org.key, "team.member_added").await;
    assert_eq!(added.len(), 3, "{added:?}");
    assert_eq!(added[0]["user"]["id"], iris);
    let deleted_events = events_of(&app, &org.key, "team.deleted").await;
    assert_eq!(deleted_events.len(), 1);
    assert_eq!(deleted_events[0]["team"]["id"], support);
}

#[tokio::test]
async fn bad_team_input_names_its_field_and_changes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let team = create_team(&app, &org.key, "Billing").await;
    let long_name = "n".repeat(101);
    let long_description = "d".repeat(1001);
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": long_name }), "name"),
        (json!({ "name": "a\nb" }), "name"),
        (
            json!({ "name": "Fine", "description": long_description }),
            "description",
        ),
    ] {
        let refused = app.post(TEAMS, &org.key, &body).await;
        refused.assert_problem(400, "validation_failed");
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.text);
        let refused = patch(&app, &format!("{TEAMS}/{team}"), &org.key, &body).await;
        refused.assert_problem(400, "validation_failed");
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.text);
    }
    let exactly = app
        .post(TEAMS, &org.key, &json!({ "name": "n".repeat(100) }))
        .await;
    assert_eq!(exactly.status, 200, "{}", exactly.text);
    assert_eq!(app.get(TEAMS, &org.key).await.body["totalCount"], 2);
    assert_eq!(
        app.get(&format!("{TEAMS}/{team}"), &org.key).await.body["name"],
        "Billing"
    );

    // Ids: malformed ids name themselves, unknown ones are not found.
    let bad_id = app.get(&format!("{TEAMS}/abc"), &org.key).await;
    bad_id.assert_problem(400, "validation_failed");
    assert_eq!(bad_id.body["field"], "id");
    let bad_user = put(&app, &format!("{TEAMS}/{team}/members/0"), &org.key).await;
    bad_user.assert_problem(400, "validation_failed");
    assert_eq!(bad_user.body["field"], "userId");
    let bad_filter = app.get("/v1/organization/users?teamId=x", &org.key).await;
    bad_filter.assert_problem(400, "validation_failed");
    assert_eq!(bad_filter.body["field"], "teamId");
    app.get("/v1/organization/users?teamId=999999", &org.key)
        .await
        .assert_problem(404, "not_found");
    // Someone who is not a member is not put in a team.
    let stranger = app.create_user("stranger@example.test", None);
    put(
        &app,
        &format!("{TEAMS}/{team}/members/{stranger}"),
        &org.key,
    )
    .await
    .assert_problem(404, "not_found");

    // teamIds: an array of this organization's team ids, at most 100.
    for team_ids in [
        json!("1"),
        json!([0]),
        json!(["x"]),
        json!([999_999]),
        json!((1..=101).collect::<Vec<i64>>()),
    ] {
        let invited = app
            .post(
                "/v1/organization/invitations",
                &org.key,
                &json!({ "inviteeEmail": "x@example.test", "role": "MEMBER", "teamIds": team_ids }),
            )
            .await;
        invited.assert_problem(400, "validation_failed");
        assert_eq!(invited.body["field"], "teamIds", "{}", invited.text);
        let link = app
            .post(
                "/v1/organization/join-links",
                &org.key,
                &json!({ "maxUses": 2, "expiresIn": "1d", "teamIds": team_ids }),
            )
            .await;
        link.assert_problem(400, "validation_failed");
        assert_eq!(link.body["field"], "teamIds", "{}", link.text);
    }
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE org_id = {}",
            org.id
        )),
        0
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM join_links WHERE org_id = {}",
            org.id
        )),
        0
    );
}

#[tokio::test]
async fn another_organizations_key_neither_sees_nor_changes_nor_names_its_teams() {
    let app = spawn_app().await;
    let a = app.create_org("Alpha", "ada@alpha.test");
    let b = app.create_org("Beta", "bea@beta.test");
    let team = create_team(&app, &a.key, "Secret").await;
    assert_eq!(
        put(
            &app,
            &format!("{TEAMS}/{team}/members/{}", a.admin_id),
            &a.key
        )
        .await
        .status,
        200
    );
    let own = create_team(&app, &b.key, "Beta team").await;

    let listed = app.get(TEAMS, &b.key).await;
    assert_eq!(item_ids(&listed), [own]);
    assert_eq!(listed.body["totalCount"], 1);
    let team_path = format!("{TEAMS}/{team}");
    let member_path = format!("{TEAMS}/{team}/members/{}", a.admin_id);
    let b_member_path = format!("{TEAMS}/{team}/members/{}", b.admin_id);
    for reply in [
        app.get(&team_path, &b.key).await,
        patch(&app, &team_path, &b.key, &json!({ "name": "Mine" })).await,
        app.get(&format!("{team_path}/members"), &b.key).await,
        put(&app, &member_path, &b.key).await,
        put(&app, &b_member_path, &b.key).await,
        app.delete(&member_path, &b.key).await,
        app.delete(&team_path, &b.key).await,
        app.get(&format!("/v1/organization/users?teamId={team}"), &b.key)
            .await,
    ] {
        reply.assert_problem(404, "not_found");
        assert!(!reply.text.contains("Secret"), "{}", reply.text);
    }
    // Nor does A put B's admin in its own team, or see B's team.
    put(
        &app,
        &format!("{TEAMS}/{team}/members/{}", b.admin_id),
        &a.key,
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("{TEAMS}/{own}"), &a.key)
        .await
        .assert_problem(404, "not_found");

    // A's team in B's teamIds: 400 naming teamIds, nothing made.
    let invited = app
        .post(
            "/v1/organization/invitations",
            &b.key,
            &json!({ "inviteeEmail": "x@example.test", "role": "MEMBER", "teamIds": [own, team] }),
        )
        .await;
    invited.assert_problem(400, "validation_failed");
    assert_eq!(invited.body["field"], "teamIds");
    let link = app
        .post(
            "/v1/organization/join-links",
            &b.key,
            &json!({ "maxUses": 2, "expiresIn": "1d", "teamIds": [team] }),
        )
        .await;
    link.assert_problem(400, "validation_failed");
    assert_eq!(link.body["field"], "teamIds");
    let bulk = app
        .post(
            "/v1/organization/invitations/bulk",
            &b.key,
            &json!({ "items": [
                { "inviteeEmail": "y@example.test", "role": "MEMBER", "teamIds": [team] },
                { "inviteeEmail": "z@example.test", "role": "MEMBER", "teamIds": [own] }
            ] }),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(bulk.body["items"][0]["status"], "invalid");
    assert_eq!(bulk.body["items"][0]["error"]["field"], "teamIds");
    assert_eq!(bulk.body["items"][1]["status"], "created");

    // A's team is as it was.
    let kept = app.get(&team_path, &a.key).await;
    assert_eq!(kept.body["name"], "Secret");
    assert_eq!(kept.body["memberCount"], 1);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM invitations WHERE org_id = {}",
            b.id
        )),
        1
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM join_links WHERE org_id = {}",
            b.id
        )),
        0
    );
}

#[tokio::test]
async fn a_bulk_item_with_teams_joins_them_and_a_team_deleted_before_accepting_is_passed_over() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let kept = create_team(&app, &org.key, "Kept").await;
    let doomed = create_team(&app, &org.key, "Doomed").await;
    let bulk = app
        .post(
            "/v1/organization/invitations/bulk",
            &org.key,
            &json!({ "items": [
                { "inviteeEmail": "bo@example.test", "role": "MEMBER", "teamIds": [kept, doomed] },
                { "inviteeEmail": "cy@example.test", "role": "MEMBER", "teamIds": "nope" }
            ] }),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.text);
    assert_eq!(bulk.body["items"][0]["status"], "created");
    assert_eq!(bulk.body["items"][1]["status"], "invalid");
    assert_eq!(bulk.body["items"][1]["error"]["field"], "teamIds");
    assert_eq!(
        bulk.body["items"][0]["invitation"]["teamIds"],
        json!([kept, doomed])
    );
    let invitation = bulk.body["items"][0]["invitation"]["id"].as_i64().unwrap();

    // Deleted between the invitation and the answer: accepting joins the rest.
    assert_eq!(
        app.delete(&format!("{TEAMS}/{doomed}"), &org.key)
            .await
            .status,
        200
    );
    let uuid = app.invitation_uuid(invitation);
    let token = app.invitee_token("bo@example.test").await;
    let bo = user_id_of(&app, "bo@example.test");
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let in_kept = app
        .get(&format!("/v1/organization/users?teamId={kept}"), &org.key)
        .await;
    assert_eq!(user_ids(&in_kept), [bo]);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM team_members WHERE user_id = {bo}"
        )),
        1
    );
    assert_eq!(
        events_of(&app, &org.key, "team.member_added").await.len(),
        1
    );
    // The deleted team's row went with it: the invitation names the rest.
    let shown = app
        .get(
            &format!("/v1/organization/invitations/{invitation}"),
            &org.key,
        )
        .await;
    assert_eq!(shown.body["teamIds"], json!([kept]), "{}", shown.text);

    // Someone already a member who accepts still joins the named teams.
    let other = create_team(&app, &org.key, "Other").await;
    let invited = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "bo@example.test", "role": "MEMBER", "teamIds": [other] }),
        )
        .await;
    invited.assert_problem(409, "already_member");
    assert_eq!(member_count(&app, &org.key, other).await, 0);
}

/// A client whose cookie jar holds a fresh session of `user_id`.
fn signed_in(app: &TestApp, user_id: i64) -> reqwest::Client {
    let token = app.session_for(
        user_id,
        enlist::domain::AuthMethod::EmailCode,
        Duration::from_secs(3600),
    );
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let url: url::Url = app.address.parse().unwrap();
    jar.add_cookie_str(&format!("enlist_session={token}; Path=/"), &url);
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn joining_through_a_link_with_teams_joins_them() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let team = create_team(&app, &org.key, "Newcomers").await;
    let link = app
        .post(
            "/v1/organization/join-links",
            &org.key,
            &json!({ "maxUses": 5, "expiresIn": "1d", "teamIds": [team] }),
        )
        .await;
    assert_eq!(link.status, 200, "{}", link.text);
    assert_eq!(link.body["teamIds"], json!([team]));
    let listed = app.get("/v1/organization/join-links", &org.key).await;
    assert_eq!(
        listed.body["items"][0]["teamIds"],
        json!([team]),
        "{}",
        listed.text
    );
    let url = link.body["url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap().to_owned();

    let bob = app.create_user("bob@example.test", None);
    let client = signed_in(&app, bob);
    let shown = page(
        client
            .get(format!("{}/join/{token}", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    let csrf = shown.csrf_token();
    let joined = page(
        client
            .post(format!("{}/join/{token}/accept", app.address))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    let members = app.get(&format!("{TEAMS}/{team}/members"), &org.key).await;
    assert_eq!(user_ids(&members), [bob]);
    assert_eq!(member_count(&app, &org.key, team).await, 1);
    let added = events_of(&app, &org.key, "team.member_added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["user"]["id"], bob);
    assert_eq!(added[0]["team"]["memberCount"], 1);
}

#[tokio::test]
async fn an_organization_has_at_most_the_configured_number_of_teams() {
    let app = spawn_app_with(|settings| settings.teams.max_per_organization = 2).await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "ola@other.test");
    create_team(&app, &org.key, "One").await;
    let two = create_team(&app, &org.key, "Two").await;
    let over = app.post(TEAMS, &org.key, &json!({ "name": "Three" })).await;
    over.assert_problem(409, "team_limit");
    // Another organization counts its own.
    create_team(&app, &other.key, "One").await;
    // Room again once one goes.
    assert_eq!(
        app.delete(&format!("{TEAMS}/{two}"), &org.key).await.status,
        200
    );
    create_team(&app, &org.key, "Three").await;
}

#[tokio::test]
async fn accepting_is_one_write_a_failing_team_insert_leaves_nothing_behind() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let team = create_team(&app, &org.key, "Ops").await;
    let invited = app
        .post(
            "/v1/organization/invitations",
            &org.key,
            &json!({ "inviteeEmail": "ivy@example.test", "role": "MEMBER", "teamIds": [team] }),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    let id = invited.body["id"].as_i64().unwrap();
    let uuid = app.invitation_uuid(id);
    let token = app.invitee_token("ivy@example.test").await;

    let added_before = events_of(&app, &org.key, "member.added").await.len();
    app.fail_inserts_into("team_members", "team storage down");
    let failed = app.respond(&uuid, "true", &token).await;
    assert_eq!(failed.status, 500, "{}", failed.text);
    assert_eq!(app.stored_status(id), "PENDING");
    assert_eq!(
        app.get("/v1/organization", &org.key).await.body["memberCount"],
        1
    );
    assert_eq!(
        events_of(&app, &org.key, "member.added").await.len(),
        added_before
    );

    app.allow_inserts_into("team_members");
    let ivy = invite_and_accept_pending(&app, &uuid, &token, "ivy@example.test").await;
    assert_eq!(app.stored_status(id), "ACCEPTED");
    let members = app.get(&format!("{TEAMS}/{team}/members"), &org.key).await;
    assert_eq!(user_ids(&members), [ivy]);
    // A second account invited to the team the same way joins it too.
    let second = invite_and_accept(&app, &org.key, "jo@example.test", json!([team])).await;
    assert_eq!(member_count(&app, &org.key, team).await, 2);
    assert_ne!(second, ivy);
}

/// Accepts an invitation already made, as its invitee; answers their user id.
async fn invite_and_accept_pending(app: &TestApp, uuid: &str, token: &str, email: &str) -> i64 {
    let accepted = app.respond(uuid, "true", token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    user_id_of(app, email)
}

#[tokio::test]
async fn a_membership_ended_in_storage_takes_its_team_memberships_and_counts_with_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let team = create_team(&app, &org.key, "Ops").await;
    let carol = app.add_member(org.id, "carol@acme.test", "MEMBER");
    let path = format!("{TEAMS}/{team}/members/{carol}");
    assert_eq!(put(&app, &path, &org.key).await.status, 200);
    assert_eq!(member_count(&app, &org.key, team).await, 1);

    // Not through the service: the foreign key alone.
    app.execute_sql(&format!(
        "DELETE FROM memberships WHERE org_id = {} AND user_id = {carol}",
        org.id
    ));
    assert_eq!(member_count(&app, &org.key, team).await, 0);
    let members = app.get(&format!("{TEAMS}/{team}/members"), &org.key).await;
    assert_eq!(members.body["totalCount"], 0);
    assert!(user_ids(&members).is_empty());
    // And someone who is not a member cannot be put in storage either.
    let org_id = org.id;
    let refused = app.db.write_blocking(move |tx| {
        enlist::db::teams::add_member(tx, org_id, team, carol, enlist::domain::Millis(0))
    });
    assert!(refused.is_err(), "{refused:?}");
}
