use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn invite_list_and_revoke() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");

    let created = app.invite(&org.key, "  Bob@Example.COM ", "MEMBER").await;
    assert_eq!(created.status, 200, "{}", created.text);
    let invitation = &created.body;
    assert_eq!(invitation["status"], "PENDING");
    assert_eq!(invitation["role"], "MEMBER");
    assert_eq!(invitation["inviteeEmail"], "Bob@Example.COM");
    assert_eq!(invitation["inviterUserId"], org.admin_id);
    assert_eq!(invitation["organizationId"], org.id);
    for field in ["createdAt", "updatedAt", "expiresAt"] {
        assert_timestamp(&invitation[field]);
    }
    let id = invitation["id"].as_i64().unwrap();

    let listed = app.get("/v1/organization/invitations", &org.key).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["totalCount"], 1);
    assert_eq!(listed.body["limit"], 100);
    assert_eq!(listed.body["offset"], 0);
    assert_eq!(listed.body["items"][0], *invitation);

    let revoked = app
        .post(
            &format!("/v1/organization/invitations/{id}/revoke"),
            &org.key,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.body, json!({ "id": id }));

    let listed = app
        .get("/v1/organization/invitations?status=REVOKED", &org.key)
        .await;
    assert_eq!(listed.body["items"][0]["status"], "REVOKED");
    assert_eq!(listed.body["totalCount"], 1);
}
