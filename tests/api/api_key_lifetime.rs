//! API keys die with their owner's admin role: removing a member revokes
//! their keys in that organization for good, with the reason stored.

use crate::helpers::*;
use enlist::domain::Scope;

const USERS: &str = "/v1/organization/users";

#[tokio::test]
async fn a_removed_admins_keys_stay_dead_when_they_are_invited_back_as_admin() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);
    let other_org = app.create_org("Globex", "gil@globex.test");
    app.add_member(other_org.id, "carol@acme.test", "ADMIN");
    let carols_other_key = app.api_key(other_org.id, carol, &Scope::ALL);
    assert_eq!(app.get(USERS, &carols_key).await.status, 200);

    let removed = app.remove_user(&org.key, carol).await;
    assert_eq!(removed.status, 200, "{}", removed.text);

    // Stored: revoked when she was removed, and why.
    assert_eq!(
        app.query_strings(&format!(
            "SELECT revoked_reason FROM api_keys WHERE org_id = {} AND user_id = {carol}",
            org.id
        )),
        ["owner_removed"]
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM api_keys WHERE org_id = {} AND user_id = {carol} \
             AND revoked_at IS NOT NULL",
            org.id
        )),
        1
    );
    // Her key in another organization is untouched.
    assert_eq!(app.get(USERS, &carols_other_key).await.status, 200);

    // Invited back as an admin, she accepts through the invitee API.
    let (_, uuid) = app
        .invite_with_uuid(&org.key, "carol@acme.test", "ADMIN")
        .await;
    let client = app.bound_client("carol@acme.test");
    let token = app.client_token(&client).await;
    let accepted = app.respond(&uuid, "true", &token).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let members = app.get(USERS, &org.key).await;
    assert!(
        members.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == carol && m["role"] == "ADMIN"),
        "{}",
        members.text
    );

    // The old key is still dead; a new one works.
    for path in ["/v1/organization", USERS] {
        app.get(path, &carols_key)
            .await
            .assert_problem(401, "invalid_api_key");
    }
    let new_key = app.api_key(org.id, carol, &Scope::ALL);
    assert_eq!(app.get(USERS, &new_key).await.status, 200);
}

#[tokio::test]
async fn a_failed_removal_revokes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    app.remove_user(&org.key, org.admin_id)
        .await
        .assert_problem(409, "last_admin");

    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NOT NULL"),
        0
    );
    assert_eq!(app.get(USERS, &org.key).await.status, 200);
}

#[tokio::test]
async fn keys_die_whatever_path_ends_the_membership_or_the_admin_role() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let dan = app.add_member(org.id, "dan@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);
    let dans_key = app.api_key(org.id, dan, &Scope::ALL);

    // As another code path would: demote Carol, drop Dan's membership.
    app.execute_sql(&format!(
        "UPDATE memberships SET role = 'MEMBER' WHERE org_id = {} AND user_id = {carol}",
        org.id
    ));
    app.execute_sql(&format!(
        "DELETE FROM memberships WHERE org_id = {} AND user_id = {dan}",
        org.id
    ));

    assert_eq!(
        app.query_strings(&format!(
            "SELECT revoked_reason FROM api_keys WHERE user_id IN ({carol}, {dan}) \
             AND revoked_at IS NOT NULL ORDER BY user_id"
        )),
        ["owner_demoted", "owner_removed"]
    );
    // Made admins again, their old keys stay dead.
    app.execute_sql(&format!(
        "UPDATE memberships SET role = 'ADMIN' WHERE org_id = {} AND user_id = {carol}",
        org.id
    ));
    app.add_member(org.id, "dan@acme.test", "ADMIN");
    for key in [&carols_key, &dans_key] {
        app.get(USERS, key)
            .await
            .assert_problem(401, "invalid_api_key");
    }
    assert_eq!(app.get(USERS, &org.key).await.status, 200);
}
