use crate::helpers::*;
use enlist::domain::{Millis, Scope};
use serde_json::json;

const USERS: &str = "/v1/organization/users";

async fn member_count(app: &TestApp, key: &str) -> i64 {
    let reply = app.get("/v1/organization", key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["memberCount"].as_i64().unwrap()
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_has_exactly_the_documented_shape() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let reply = app.get(USERS, &org.key).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{}",
        reply.text
    );
    // The seed's fields, plus `nextCursor` (search and cursors, issue 27).
    assert_eq!(
        keys_of(&reply.body),
        ["items", "limit", "nextCursor", "offset", "totalCount"]
    );
    // The fields come in the order the API documents show.
    let positions: Vec<usize> = ["\"items\"", "\"totalCount\"", "\"offset\"", "\"limit\""]
        .iter()
        .map(|key| reply.text.find(key).unwrap())
        .collect();
    assert!(positions.is_sorted(), "{}", reply.text);
    assert_eq!(reply.body["totalCount"], 1);
    assert_eq!(reply.body["offset"], 0);
    assert_eq!(reply.body["limit"], 100);
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let admin = &items[0];
    assert_eq!(
        keys_of(admin),
        [
            "createdAt",
            "email",
            "firstName",
            "id",
            "lastName",
            "role",
            "updatedAt"
        ]
    );
    assert_eq!(admin["id"], org.admin_id);
    assert_eq!(admin["email"], "ada@acme.test");
    assert_eq!(admin["firstName"], "Ada");
    assert_eq!(admin["lastName"], "Admin");
    assert_eq!(admin["role"], "ADMIN");
    assert_timestamp(&admin["createdAt"]);
    assert_timestamp(&admin["updatedAt"]);
}

#[tokio::test]
async fn list_orders_members_by_user_id_with_their_roles() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let carol = app.add_member(org.id, "Carol@Acme.test", "ADMIN");
    let dave = app.add_member(org.id, "dave@acme.test", "MEMBER");

    let reply = app.get(USERS, &org.key).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(item_ids(&reply), [org.admin_id, bob, carol, dave]);
    assert_eq!(reply.body["totalCount"], 4);
    let roles: Vec<_> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("ada@acme.test", "ADMIN"),
            ("bob@acme.test", "MEMBER"),
            ("Carol@Acme.test", "ADMIN"),
            ("dave@acme.test", "MEMBER")
        ]
    );
}

#[tokio::test]
async fn list_shows_the_membership_timestamps_not_the_accounts() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    let joined = 1_700_000_000_000_i64;
    let changed = joined + 86_400_000;
    app.execute_sql(&format!(
        "UPDATE memberships SET created_at = {joined}, updated_at = {changed} WHERE user_id = {bob}"
    ));
    app.execute_sql(&format!(
        "UPDATE users SET created_at = 1000, updated_at = 2000 WHERE id = {bob}"
    ));

    let reply = app.get(USERS, &org.key).await;

    let item = &reply.body["items"][1];
    assert_eq!(item["id"], bob);
    assert_eq!(item["createdAt"], Millis(joined).to_rfc3339());
    assert_eq!(item["updatedAt"], Millis(changed).to_rfc3339());
}

#[tokio::test]
async fn list_pages_through_members_with_an_exact_total() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let mut all = vec![org.admin_id];
    for n in 0..4 {
        all.push(app.add_member(org.id, &format!("m{n}@acme.test"), "MEMBER"));
    }

    let mut seen = Vec::new();
    for offset in [0, 2, 4, 6] {
        let page = app
            .get(&format!("{USERS}?limit=2&offset={offset}"), &org.key)
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.body["totalCount"], 5, "offset {offset}");
        assert_eq!(page.body["limit"], 2);
        assert_eq!(page.body["offset"], offset);
        seen.extend(item_ids(&page));
    }

    assert_eq!(seen, all);
    let max = app.get(&format!("{USERS}?limit=1000"), &org.key).await;
    assert_eq!(max.status, 200, "{}", max.text);
    assert_eq!(item_ids(&max), all);
    assert_eq!(max.body["limit"], 1000);
}

#[tokio::test]
async fn list_refuses_out_of_range_or_non_integer_paging_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ] {
        let reply = app.get(&format!("{USERS}?{query}"), &org.key).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], field, "{query}: {}", reply.text);
    }
}

// ---------------------------------------------------------------- remove

#[tokio::test]
async fn remove_ends_the_membership_but_keeps_the_account() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    assert_eq!(member_count(&app, &org.key).await, 2);

    let reply = app.remove_user(&org.key, bob).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({ "id": bob }));
    let listed = app.get(USERS, &org.key).await;
    assert_eq!(item_ids(&listed), [org.admin_id]);
    assert_eq!(listed.body["totalCount"], 1);
    assert_eq!(member_count(&app, &org.key).await, 1);
    assert_eq!(
        app.query_i64(&format!("SELECT COUNT(*) FROM users WHERE id = {bob}")),
        1
    );
    assert_eq!(
        app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE user_id = {bob}"
        )),
        0
    );
}

#[tokio::test]
async fn a_removed_member_can_be_invited_again() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    app.invite(&org.key, "bob@acme.test", "MEMBER")
        .await
        .assert_problem(409, "already_member");
    assert_eq!(app.remove_user(&org.key, bob).await.status, 200);

    let reply = app.invite(&org.key, "bob@acme.test", "MEMBER").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn removing_twice_answers_404_the_second_time() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    assert_eq!(app.remove_user(&org.key, bob).await.status, 200);

    let reply = app.remove_user(&org.key, bob).await;

    reply.assert_problem(404, "not_found");
    assert_eq!(reply.body["detail"], "user not found");
    assert_eq!(member_count(&app, &org.key).await, 1);
}

#[tokio::test]
async fn remove_answers_404_for_unknown_users_and_accounts_that_are_not_members() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let other = app.create_org("Other", "olga@other.test");
    let outsider = other.admin_id;

    for id in [outsider, 999_999, i64::MAX] {
        let reply = app.remove_user(&org.key, id).await;

        reply.assert_problem(404, "not_found");
        assert_eq!(reply.body["detail"], "user not found");
    }
    assert_eq!(member_count(&app, &org.key).await, 1);
    assert_eq!(member_count(&app, &other.key).await, 1);
}

#[tokio::test]
async fn remove_refuses_ids_that_are_not_positive_integers() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    for bad in ["0", "-3", "abc", "1.0", "99999999999999999999"] {
        let reply = app.remove_user(&org.key, bad).await;

        reply.assert_problem(400, "validation_failed");
        assert_eq!(reply.body["field"], "id", "{bad}: {}", reply.text);
    }
    assert_eq!(member_count(&app, &org.key).await, 1);
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "bob@acme.test", "MEMBER");

    let reply = app.remove_user(&org.key, org.admin_id).await;

    reply.assert_problem(409, "last_admin");
    assert_eq!(member_count(&app, &org.key).await, 2);
    let listed = app.get(USERS, &org.key).await;
    assert_eq!(listed.body["items"][0]["id"], org.admin_id);
    assert_eq!(listed.body["items"][0]["role"], "ADMIN");
}

#[tokio::test]
async fn with_two_admins_one_can_be_removed_but_not_the_second() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");

    let first = app.remove_user(&org.key, carol).await;
    let second = app.remove_user(&org.key, org.admin_id).await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body, json!({ "id": carol }));
    second.assert_problem(409, "last_admin");
    assert_eq!(member_count(&app, &org.key).await, 1);
}

#[tokio::test]
async fn an_admin_can_remove_themselves_when_another_admin_remains() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);

    let reply = app.remove_user(&org.key, org.admin_id).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    // Ada's own key went with her membership.
    app.get("/v1/organization", &org.key)
        .await
        .assert_problem(401, "invalid_api_key");
    let listed = app.get(USERS, &carols_key).await;
    assert_eq!(item_ids(&listed), [carol]);
}

#[tokio::test]
async fn a_key_stops_working_as_soon_as_its_owner_is_removed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);
    assert_eq!(app.get(USERS, &carols_key).await.status, 200);

    let reply = app.remove_user(&org.key, carol).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    for path in ["/v1/organization", USERS, "/v1/organization/invitations"] {
        app.get(path, &carols_key)
            .await
            .assert_problem(401, "invalid_api_key");
    }
    // Re-adding her as a plain member does not revive an admin's key.
    app.add_member(org.id, "carol@acme.test", "MEMBER");
    app.get(USERS, &carols_key)
        .await
        .assert_problem(401, "invalid_api_key");
}

#[tokio::test]
async fn removing_a_member_keeps_the_invitations_they_sent() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);
    let sent = app
        .invite_ok(&carols_key, "dan@example.com", "MEMBER")
        .await;

    assert_eq!(app.remove_user(&org.key, carol).await.status, 200);

    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(item_ids(&listed), [sent]);
    assert_eq!(listed.body["items"][0]["inviterUserId"], carol);
    assert_eq!(listed.body["items"][0]["status"], "PENDING");
}

#[tokio::test]
async fn two_admins_removing_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let carol = app.add_member(org.id, "carol@acme.test", "ADMIN");
    let carols_key = app.api_key(org.id, carol, &Scope::ALL);

    let (ada_removes_carol, carol_removes_ada) = tokio::join!(
        app.remove_user(&org.key, carol),
        app.remove_user(&carols_key, org.admin_id),
    );

    let replies = [&ada_removes_carol, &carol_removes_ada];
    assert_eq!(
        replies.iter().filter(|r| r.status == 200).count(),
        1,
        "{replies:#?}"
    );
    // The loser either lost its key with its membership or met the last-admin rule.
    for reply in replies.iter().filter(|r| r.status != 200) {
        let code = reply.body["code"].as_str().unwrap();
        assert!(
            ["invalid_api_key", "last_admin"].contains(&code),
            "{}",
            reply.text
        );
    }
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM memberships WHERE role = 'ADMIN'"),
        1
    );
}
