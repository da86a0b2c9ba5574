//! The invitee API (`/invitations`), driven with access tokens the server
//! issued, and what the admin API sees of each answer.

use crate::helpers::*;
use crate::oauth_helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const SEED_FIELDS: [&str; 7] = [
    "id",
    "organization_name",
    "organization_logo_url",
    "organization_member_count",
    "inviting_user_name",
    "inviting_user_avatar_url",
    "expiration_date",
];

fn assert_seed_shape(invitation: &Value) {
    let object = invitation.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = SEED_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{invitation}");
    assert_timestamp(&invitation["expiration_date"]);
    uuid::Uuid::parse_str(invitation["id"].as_str().unwrap()).unwrap();
}

#[tokio::test]
async fn invitee_signs_up_with_pkce_lists_gets_and_accepts_an_invitation() {
    // Arrange: an admin invites someone who has no account yet.
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "ADMIN")
        .await;
    let client = app.public_client();

    // Act: the invitee signs up on the authorize page and gets tokens.
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let token = tokens.body["access_token"].as_str().unwrap();
    let listed = app.invitee_get("/invitations", token).await;
    let one = app
        .invitee_get(&format!("/invitations/{uuid}"), token)
        .await;
    let accepted = app.respond(&uuid, "true", token).await;

    // Assert: the seed's shapes, then the admin API's view.
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.text);
    let invitation = &items[0];
    assert_seed_shape(invitation);
    assert_eq!(invitation["id"], uuid);
    assert_eq!(invitation["organization_name"], "Acme");
    assert_eq!(
        invitation["organization_logo_url"],
        "https://cdn.example.com/Acme.png"
    );
    assert_eq!(invitation["organization_member_count"], 1);
    assert_eq!(invitation["inviting_user_name"], "Ada Admin");
    assert_eq!(invitation["inviting_user_avatar_url"], Value::Null);

    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body, *invitation);

    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body, json!(org.uuid));
    assert_eq!(
        accepted.header("content-type"),
        Some("application/json"),
        "{:?}",
        accepted.headers
    );

    assert_eq!(app.admin_invitation_status(&org.key, id).await, "ACCEPTED");
    let members = app.admin_members(&org.key).await;
    let member = members
        .iter()
        .find(|m| m["email"] == "iris@example.test")
        .unwrap_or_else(|| panic!("new member not listed: {members:?}"));
    assert_eq!(member["role"], "ADMIN");
    assert_eq!(member["firstName"], "Iris");
    assert_eq!(member["lastName"], "Invitee");
    assert_eq!(members.len(), 2);

    let after = app.invitee_get("/invitations", token).await;
    assert_eq!(
        after.body,
        json!([]),
        "accepted invitations are no longer pending"
    );
}

#[tokio::test]
async fn invitee_declines_and_no_membership_is_created() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let client = app.public_client();
    let tokens = sign_up_and_get_tokens(&app, &client, "iris@example.test").await;
    let token = tokens.body["access_token"].as_str().unwrap();

    let declined = app.respond(&uuid, "false", token).await;

    assert_eq!(declined.status, 200, "{}", declined.text);
    assert_eq!(declined.text, "null");
    assert_eq!(declined.body, Value::Null);
    assert_eq!(app.admin_invitation_status(&org.key, id).await, "DECLINED");
    let members = app.admin_members(&org.key).await;
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["email"], "ada@acme.test");
    assert_eq!(
        app.query_i64("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email_key = 'iris@example.test'"),
        0
    );
}

#[tokio::test]
async fn accepting_when_already_a_member_keeps_the_existing_role() {
    // Arrange: invited as MEMBER, then made an ADMIN by other means.
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;
    app.add_member(org.id, "iris@example.test", "ADMIN");

    // Act
    let accepted = app.respond(&uuid, "true", &token).await;

    // Assert
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body, json!(org.uuid));
    assert_eq!(app.admin_invitation_status(&org.key, id).await, "ACCEPTED");
    let members = app.admin_members(&org.key).await;
    assert_eq!(members.len(), 2, "{members:?}");
    let iris = members
        .iter()
        .find(|m| m["email"] == "iris@example.test")
        .unwrap();
    assert_eq!(iris["role"], "ADMIN");
    let org_json = app.get("/v1/organization", &org.key).await;
    assert_eq!(org_json.body["memberCount"], 2);
}

#[tokio::test]
async fn client_credentials_token_acts_for_the_bound_account() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;

    let listed = app.invitee_get("/invitations", &token).await;
    let accepted = app.respond(&uuid, "true", &token).await;

    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body[0]["id"], uuid);
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(app.admin_invitation_status(&org.key, id).await, "ACCEPTED");
    let members = app.admin_members(&org.key).await;
    assert!(
        members
            .iter()
            .any(|m| m["email"] == "iris@example.test" && m["role"] == "MEMBER"),
        "{members:?}"
    );
}

#[tokio::test]
async fn list_holds_only_the_callers_pending_unexpired_invitations_matched_case_insensitively() {
    // Arrange: invitations to the caller in several states, and one to someone else.
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;
    let pending = app.create_org("PendingCo", "a1@x.test");
    let (_, pending_uuid) = app
        .invite_with_uuid(&pending.key, "  IRIS@Example.TEST ", "MEMBER")
        .await;
    let expired = app.create_org("ExpiredCo", "a2@x.test");
    let (expired_id, _) = app
        .invite_with_uuid(&expired.key, "iris@example.test", "MEMBER")
        .await;
    app.execute(&format!(
        "UPDATE invitations SET expires_at = 1 WHERE id = {expired_id}"
    ));
    let revoked = app.create_org("RevokedCo", "a3@x.test");
    let (revoked_id, _) = app
        .invite_with_uuid(&revoked.key, "iris@example.test", "MEMBER")
        .await;
    let revoke = app
        .post(
            &format!("/v1/organization/invitations/{revoked_id}/revoke"),
            &revoked.key,
            &json!({}),
        )
        .await;
    assert_eq!(revoke.status, 200, "{}", revoke.text);
    let declined = app.create_org("DeclinedCo", "a4@x.test");
    let (_, declined_uuid) = app
        .invite_with_uuid(&declined.key, "iris@example.test", "MEMBER")
        .await;
    assert_eq!(
        app.respond(&declined_uuid, "false", &token).await.status,
        200
    );
    let accepted = app.create_org("AcceptedCo", "a5@x.test");
    let (_, accepted_uuid) = app
        .invite_with_uuid(&accepted.key, "iris@example.test", "MEMBER")
        .await;
    assert_eq!(
        app.respond(&accepted_uuid, "true", &token).await.status,
        200
    );
    let other = app.create_org("OtherCo", "a6@x.test");
    app.invite_with_uuid(&other.key, "someone.else@example.test", "MEMBER")
        .await;

    // Act
    let listed = app.invitee_get("/invitations", &token).await;

    // Assert
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.text);
    assert_eq!(items[0]["id"], pending_uuid);
    assert_eq!(items[0]["organization_name"], "PendingCo");
    assert_seed_shape(&items[0]);
}

#[tokio::test]
async fn an_account_whose_email_differs_in_case_sees_and_accepts_its_invitation() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("Iris@EXAMPLE.test").await;

    let listed = app.invitee_get("/invitations", &token).await;
    let one = app
        .invitee_get(&format!("/invitations/{uuid}"), &token)
        .await;
    let accepted = app.respond(&uuid, "true", &token).await;

    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(accepted.status, 200, "{}", accepted.text);
}

#[tokio::test]
async fn list_is_empty_json_array_without_invitations() {
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;

    let listed = app.invitee_get("/invitations", &token).await;

    assert_eq!(listed.status, 200);
    assert_eq!(listed.text, "[]");
}

#[tokio::test]
async fn invitation_id_that_is_not_a_uuid_is_422_problem_details() {
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;

    let get = app.invitee_get("/invitations/not-a-uuid", &token).await;
    let post = app.respond("42", "true", &token).await;

    get.assert_problem(422, "validation_failed");
    post.assert_problem(422, "validation_failed");
    assert_eq!(get.body["field"], "invitation_id");
}

#[tokio::test]
async fn unknown_invitation_is_404() {
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;
    let unknown = uuid::Uuid::new_v4().to_string();

    let get = app
        .invitee_get(&format!("/invitations/{unknown}"), &token)
        .await;
    let post = app.respond(&unknown, "true", &token).await;

    get.assert_problem(404, "not_found");
    post.assert_problem(404, "not_found");
}

#[tokio::test]
async fn someone_elses_invitation_is_404_and_stays_unchanged() {
    // Arrange
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "bob@example.test", "MEMBER")
        .await;
    let mallory = app.invitee_token("mallory@example.test").await;
    let unknown = app
        .invitee_get(&format!("/invitations/{}", uuid::Uuid::new_v4()), &mallory)
        .await;

    // Act
    let get = app
        .invitee_get(&format!("/invitations/{uuid}"), &mallory)
        .await;
    let accept = app.respond(&uuid, "true", &mallory).await;
    let decline = app.respond(&uuid, "false", &mallory).await;

    // Assert: the same answer as for an unknown invitation, and no change.
    get.assert_problem(404, "not_found");
    accept.assert_problem(404, "not_found");
    decline.assert_problem(404, "not_found");
    assert_eq!(
        get.body, unknown.body,
        "indistinguishable from an unknown id"
    );
    assert_eq!(app.admin_invitation_status(&org.key, id).await, "PENDING");
    assert_eq!(app.admin_members(&org.key).await.len(), 1);
}

#[tokio::test]
async fn accept_missing_or_not_a_boolean_is_422() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;

    let missing = app
        .bearer(Method::POST, &format!("/invitations/{uuid}"), &token)
        .await;
    let maybe = app.respond(&uuid, "maybe", &token).await;
    let empty = app.respond(&uuid, "", &token).await;

    missing.assert_problem(422, "validation_failed");
    assert_eq!(missing.body["field"], "accept");
    maybe.assert_problem(422, "validation_failed");
    assert_eq!(maybe.body["field"], "accept");
    empty.assert_problem(422, "validation_failed");
    assert_eq!(app.admin_invitation_status(&org.key, id).await, "PENDING");
}

#[tokio::test]
async fn expired_invitation_is_410() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;
    app.execute(&format!(
        "UPDATE invitations SET expires_at = 1 WHERE id = {id}"
    ));

    let accept = app.respond(&uuid, "true", &token).await;
    let decline = app.respond(&uuid, "false", &token).await;
    let get = app
        .invitee_get(&format!("/invitations/{uuid}"), &token)
        .await;

    accept.assert_problem(410, "invitation_expired");
    decline.assert_problem(410, "invitation_expired");
    get.assert_problem(410, "invitation_expired");
    assert_eq!(app.admin_members(&org.key).await.len(), 1);
    assert_eq!(app.admin_invitation_status(&org.key, id).await, "EXPIRED");
}

#[tokio::test]
async fn expired_invitation_is_410_after_the_sweep_stored_it_too() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;
    app.execute(&format!(
        "UPDATE invitations SET expires_at = 1, status = 'EXPIRED' WHERE id = {id}"
    ));

    let accept = app.respond(&uuid, "true", &token).await;

    accept.assert_problem(410, "invitation_expired");
}

async fn answered_invitation_conflicts(final_status: &str) {
    // Arrange: an invitation brought to `final_status`.
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (id, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;
    match final_status {
        "ACCEPTED" => assert_eq!(app.respond(&uuid, "true", &token).await.status, 200),
        "DECLINED" => assert_eq!(app.respond(&uuid, "false", &token).await.status, 200),
        "REVOKED" => {
            let revoked = app
                .post(
                    &format!("/v1/organization/invitations/{id}/revoke"),
                    &org.key,
                    &json!({}),
                )
                .await;
            assert_eq!(revoked.status, 200, "{}", revoked.text);
        }
        other => unreachable!("{other}"),
    }
    let members_before = app.admin_members(&org.key).await;

    // Act
    let accept = app.respond(&uuid, "true", &token).await;
    let decline = app.respond(&uuid, "false", &token).await;
    let get = app
        .invitee_get(&format!("/invitations/{uuid}"), &token)
        .await;

    // Assert: 409 naming the current status, and nothing changed.
    for reply in [&accept, &decline, &get] {
        reply.assert_problem(409, "invitation_not_pending");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains(final_status),
            "{}",
            reply.text
        );
    }
    assert_eq!(
        app.admin_invitation_status(&org.key, id).await,
        final_status
    );
    assert_eq!(app.admin_members(&org.key).await, members_before);
}

#[tokio::test]
async fn answering_an_accepted_invitation_is_409_naming_the_status() {
    answered_invitation_conflicts("ACCEPTED").await;
}

#[tokio::test]
async fn answering_a_declined_invitation_is_409_naming_the_status() {
    answered_invitation_conflicts("DECLINED").await;
}

#[tokio::test]
async fn answering_a_revoked_invitation_is_409_naming_the_status() {
    answered_invitation_conflicts("REVOKED").await;
}

#[tokio::test]
async fn accept_racing_revoke_has_exactly_one_winner_every_time() {
    // Arrange: one invitee, many organizations each inviting them.
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;
    let user_id = app.query_i64("SELECT id FROM users WHERE email_key = 'iris@example.test'");
    let mut accepted_wins = 0;
    let mut revoke_wins = 0;

    for round in 0..100 {
        let org = app.create_org(&format!("Org-{round}"), &format!("admin{round}@x.test"));
        let (id, uuid) = app
            .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
            .await;
        let revoke_path = format!("/v1/organization/invitations/{id}/revoke");
        let empty = json!({});

        // Act: both at once.
        let (accept, revoke) = tokio::join!(
            app.respond(&uuid, "true", &token),
            app.post(&revoke_path, &org.key, &empty),
        );

        // Assert
        let status = app.query_string(&format!("SELECT status FROM invitations WHERE id = {id}"));
        let memberships = app.query_i64(&format!(
            "SELECT count(*) FROM memberships WHERE org_id = {} AND user_id = {user_id}",
            org.id
        ));
        match (accept.status.as_u16(), revoke.status.as_u16()) {
            (200, 409) => {
                accepted_wins += 1;
                assert_eq!(accept.body, json!(org.uuid));
                revoke.assert_problem(409, "invitation_not_revocable");
                assert_eq!(status, "ACCEPTED");
                assert_eq!(memberships, 1);
            }
            (409, 200) => {
                revoke_wins += 1;
                accept.assert_problem(409, "invitation_not_pending");
                assert!(accept.text.contains("REVOKED"), "{}", accept.text);
                assert_eq!(status, "REVOKED");
                assert_eq!(memberships, 0, "a revoked invitation made a member");
            }
            other => panic!(
                "round {round}: accept {} / revoke {}: {other:?}",
                accept.text, revoke.text
            ),
        }
    }
    eprintln!("accept won {accepted_wins}, revoke won {revoke_wins}");
    assert_eq!(accepted_wins + revoke_wins, 100);
    assert_eq!(
        app.query_i64(&format!(
            "SELECT count(*) FROM memberships m JOIN invitations i ON i.org_id = m.org_id
             WHERE m.user_id = {user_id} AND i.status = 'REVOKED'"
        )),
        0
    );
}

#[tokio::test]
async fn accept_racing_accept_with_two_tokens_has_one_winner() {
    let app = spawn_app().await;
    app.create_user("iris@example.test", None);
    let first = app
        .client_token(&app.bound_client("iris@example.test"))
        .await;
    let second = app
        .client_token(&app.bound_client("iris@example.test"))
        .await;
    let user_id = app.query_i64("SELECT id FROM users WHERE email_key = 'iris@example.test'");

    for round in 0..25 {
        let org = app.create_org(&format!("Org-{round}"), &format!("admin{round}@x.test"));
        let (id, uuid) = app
            .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
            .await;

        let (a, b) = tokio::join!(
            app.respond(&uuid, "true", &first),
            app.respond(&uuid, "true", &second),
        );

        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
        let loser = if a.status == 409 { &a } else { &b };
        loser.assert_problem(409, "invitation_not_pending");
        assert!(loser.text.contains("ACCEPTED"), "{}", loser.text);
        assert_eq!(app.admin_invitation_status(&org.key, id).await, "ACCEPTED");
        assert_eq!(
            app.query_i64(&format!(
                "SELECT count(*) FROM memberships WHERE org_id = {} AND user_id = {user_id}",
                org.id
            )),
            1
        );
    }
}

#[tokio::test]
async fn invitee_routes_refuse_other_methods_with_405() {
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;

    let reply = app.bearer(Method::DELETE, "/invitations", &token).await;

    reply.assert_problem(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET"));
}

#[tokio::test]
async fn invitation_id_is_read_in_any_standard_uuid_spelling() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "iris@example.test", "MEMBER")
        .await;
    let token = app.invitee_token("iris@example.test").await;
    let parsed = uuid::Uuid::parse_str(&uuid).unwrap();

    let upper = app
        .invitee_get(&format!("/invitations/{}", uuid.to_uppercase()), &token)
        .await;
    let simple = app
        .invitee_get(&format!("/invitations/{}", parsed.simple()), &token)
        .await;
    let accepted = app.respond(&uuid.to_uppercase(), "True", &token).await;

    assert_eq!(upper.status, 200, "{}", upper.text);
    assert_eq!(upper.body["id"], uuid, "answered in the canonical spelling");
    assert_eq!(simple.status, 200, "{}", simple.text);
    assert_eq!(accepted.status, 200, "{}", accepted.text);
}

#[tokio::test]
async fn an_access_token_expires_when_the_servers_clock_passes_its_lifetime() {
    let app = spawn_app().await;
    let token = app.invitee_token("iris@example.test").await;
    assert_eq!(app.invitee_get("/invitations", &token).await.status, 200);

    app.clock
        .advance(app.settings.auth.access_token_lifetime.0 + Duration::from_secs(60));

    let late = app.invitee_get("/invitations", &token).await;
    assert_eq!(late.status, 401, "{}", late.text);
}
