//! One organization's key never reaches another organization's data.

use crate::helpers::*;
use enlist::domain::Scope;
use serde_json::Value;

struct Fixture {
    app: TestApp,
    a: TestOrg,
    b: TestOrg,
    a_invitations: Vec<i64>,
    b_invitations: Vec<i64>,
    a_members: Vec<i64>,
    b_members: Vec<i64>,
}

/// Two organizations, each with invitations in several statuses and members.
async fn two_organizations() -> Fixture {
    let app = spawn_app().await;
    let a = app.create_org("Acme", "ada@acme.test");
    let b = app.create_org("Globex", "gil@globex.test");
    let mut a_invitations = Vec::new();
    let mut b_invitations = Vec::new();
    for n in 0..3 {
        a_invitations.push(
            app.invite_ok(&a.key, &format!("a{n}@example.com"), "MEMBER")
                .await,
        );
        b_invitations.push(
            app.invite_ok(&b.key, &format!("b{n}@example.com"), "ADMIN")
                .await,
        );
    }
    // The same person invited by both: not a duplicate across organizations.
    a_invitations.push(app.invite_ok(&a.key, "shared@example.com", "MEMBER").await);
    b_invitations.push(app.invite_ok(&b.key, "Shared@Example.com", "MEMBER").await);
    app.expire_in_place(b_invitations[1]);
    assert_eq!(app.revoke(&b.key, b_invitations[2]).await.status, 200);
    let a_members = vec![a.admin_id, app.add_member(a.id, "amy@acme.test", "MEMBER")];
    let b_members = vec![
        b.admin_id,
        app.add_member(b.id, "bo@globex.test", "MEMBER"),
        app.add_member(b.id, "bea@globex.test", "ADMIN"),
    ];
    Fixture {
        app,
        a,
        b,
        a_invitations,
        b_invitations,
        a_members,
        b_members,
    }
}

/// Everything B's own key can read, to compare before and after.
async fn view(app: &TestApp, org: &TestOrg) -> Vec<Value> {
    let mut bodies = Vec::new();
    for path in [
        "/v1/organization",
        "/v1/organization/invitations?includeExpired=true",
        "/v1/organization/users",
    ] {
        let reply = app.get(path, &org.key).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        bodies.push(reply.body);
    }
    bodies
}

#[tokio::test]
async fn revoking_another_organizations_invitation_answers_404_and_changes_nothing() {
    let f = two_organizations().await;
    let before = view(&f.app, &f.b).await;

    for id in &f.b_invitations {
        let reply = f.app.revoke(&f.a.key, id).await;

        reply.assert_problem(404, "not_found");
        assert_eq!(reply.body["detail"], "invitation not found");
    }

    assert_eq!(view(&f.app, &f.b).await, before);
    assert_eq!(f.app.stored_status(f.b_invitations[0]), "PENDING");
}

#[tokio::test]
async fn an_unknown_and_a_foreign_invitation_get_the_same_answer() {
    let f = two_organizations().await;

    let foreign = f.app.revoke(&f.a.key, f.b_invitations[0]).await;
    let unknown = f.app.revoke(&f.a.key, 987_654).await;

    assert_eq!(foreign.status, unknown.status);
    assert_eq!(foreign.body, unknown.body);
}

#[tokio::test]
async fn removing_another_organizations_member_answers_404_and_changes_nothing() {
    let f = two_organizations().await;
    let before = view(&f.app, &f.b).await;

    for id in &f.b_members {
        let reply = f.app.remove_user(&f.a.key, id).await;

        reply.assert_problem(404, "not_found");
        assert_eq!(reply.body["detail"], "user not found");
    }

    assert_eq!(view(&f.app, &f.b).await, before);
    assert_eq!(
        f.app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {}",
            f.b.id
        )),
        3
    );
}

#[tokio::test]
async fn a_person_in_both_organizations_is_removed_only_from_the_callers() {
    let f = two_organizations().await;
    let both = f.app.add_member(f.b.id, "amy@acme.test", "MEMBER");
    assert_eq!(both, f.a_members[1]);

    let reply = f.app.remove_user(&f.a.key, both).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let a_users = f.app.get("/v1/organization/users", &f.a.key).await;
    let b_users = f.app.get("/v1/organization/users", &f.b.key).await;
    assert!(!item_ids(&a_users).contains(&both));
    assert!(item_ids(&b_users).contains(&both));
    assert_eq!(b_users.body["totalCount"], 4);
}

#[tokio::test]
async fn lists_show_only_the_callers_rows_and_counts() {
    let f = two_organizations().await;

    for query in [
        "",
        "?includeExpired=true",
        "?status=PENDING",
        "?status=EXPIRED",
        "?status=REVOKED",
        "?limit=1&offset=1",
    ] {
        let reply = f
            .app
            .get(&format!("/v1/organization/invitations{query}"), &f.a.key)
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        for item in reply.body["items"].as_array().unwrap() {
            assert_eq!(item["organizationId"], f.a.id, "{query}: {item}");
            assert!(f.a_invitations.contains(&item["id"].as_i64().unwrap()));
        }
    }
    let all = f
        .app
        .get("/v1/organization/invitations?includeExpired=true", &f.a.key)
        .await;
    let mut expected = f.a_invitations.clone();
    expected.reverse();
    assert_eq!(item_ids(&all), expected);
    assert_eq!(all.body["totalCount"], 4);
    let expired = f
        .app
        .get("/v1/organization/invitations?status=EXPIRED", &f.a.key)
        .await;
    assert_eq!(expired.body["totalCount"], 0, "B's expired one is not A's");
    let revoked = f
        .app
        .get("/v1/organization/invitations?status=REVOKED", &f.a.key)
        .await;
    assert_eq!(revoked.body["totalCount"], 0, "B's revoked one is not A's");

    let users = f.app.get("/v1/organization/users", &f.a.key).await;
    assert_eq!(item_ids(&users), f.a_members);
    assert_eq!(users.body["totalCount"], 2);
    let org = f.app.get("/v1/organization", &f.a.key).await;
    assert_eq!(org.body["id"], f.a.id);
    assert_eq!(org.body["memberCount"], 2);
}

#[tokio::test]
async fn an_admin_of_both_organizations_holds_keys_bound_to_one_each() {
    let f = two_organizations().await;
    // Ada also becomes an admin of Globex and gets a Globex key.
    f.app.add_member(f.b.id, "ada@acme.test", "ADMIN");
    let ada_globex_key = f.app.api_key(f.b.id, f.a.admin_id, &Scope::ALL);

    let with_acme_key = f.app.get("/v1/organization/users", &f.a.key).await;
    let with_globex_key = f.app.get("/v1/organization/users", &ada_globex_key).await;
    let invited = f
        .app
        .invite(&ada_globex_key, "new@example.com", "MEMBER")
        .await;

    assert_eq!(with_acme_key.body["totalCount"], 2);
    assert_eq!(with_globex_key.body["totalCount"], 4);
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert_eq!(invited.body["organizationId"], f.b.id);
    assert_eq!(invited.body["inviterUserId"], f.a.admin_id);
    // Removing her from Globex ends the Globex key, not the Acme one.
    let removed = f.app.remove_user(&f.b.key, f.a.admin_id).await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    f.app
        .get("/v1/organization", &ada_globex_key)
        .await
        .assert_problem(401, "invalid_api_key");
    assert_eq!(f.app.get("/v1/organization", &f.a.key).await.status, 200);
}

#[tokio::test]
async fn membership_in_another_organization_does_not_block_an_invitation() {
    let f = two_organizations().await;

    let reply = f.app.invite(&f.a.key, "gil@globex.test", "MEMBER").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["organizationId"], f.a.id);
}
