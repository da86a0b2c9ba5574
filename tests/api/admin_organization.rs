use crate::helpers::*;
use enlist::domain::Scope;

#[tokio::test]
async fn organization_reads_as_documented() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.add_member(org.id, "bob@acme.test", "MEMBER");

    let reply = app.get("/v1/organization", &org.key).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = &reply.body;
    assert_eq!(body["id"], org.id);
    assert_eq!(body["uuid"], org.uuid);
    assert_eq!(body["name"], "Acme");
    assert_eq!(body["logoUrl"], "https://cdn.example.com/Acme.png");
    assert_eq!(body["memberCount"], 2);
    assert_timestamp(&body["createdAt"]);
    assert_timestamp(&body["updatedAt"]);
    assert_eq!(body.as_object().unwrap().len(), 7, "{body}");
}

#[tokio::test]
async fn organization_needs_its_scope() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let key = app.api_key(org.id, org.admin_id, &[Scope::UsersRead]);

    let reply = app.get("/v1/organization", &key).await;

    reply.assert_problem(403, "missing_scope");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("organization:read")
    );
}

#[tokio::test]
async fn organization_member_count_follows_joins_and_removals() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    let before = app.get("/v1/organization", &org.key).await;
    assert_eq!(before.body["memberCount"], 1);
    let bob = app.add_member(org.id, "bob@acme.test", "MEMBER");
    app.add_member(org.id, "carol@acme.test", "ADMIN");
    assert_eq!(
        app.get("/v1/organization", &org.key).await.body["memberCount"],
        3
    );

    let removed = app.remove_user(&org.key, bob).await;

    assert_eq!(removed.status, 200, "{}", removed.text);
    let after = app.get("/v1/organization", &org.key).await;
    assert_eq!(after.body["memberCount"], 2);
    // Nothing else about the organization changed.
    for field in ["id", "uuid", "name", "logoUrl", "createdAt", "updatedAt"] {
        assert_eq!(after.body[field], before.body[field], "{field}");
    }
    assert_eq!(
        app.query_i64(&format!(
            "SELECT member_count FROM organizations WHERE id = {}",
            org.id
        )),
        2
    );
}

#[tokio::test]
async fn organization_is_always_the_keys_own() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme", "ada@acme.test");
    let globex = app.create_org("Globex", "gil@globex.test");

    let acme_reply = app
        .get(&format!("/v1/organization?id={}", globex.id), &acme.key)
        .await;
    let globex_reply = app.get("/v1/organization", &globex.key).await;

    assert_eq!(acme_reply.status, 200, "{}", acme_reply.text);
    assert_eq!(acme_reply.body["id"], acme.id);
    assert_eq!(acme_reply.body["name"], "Acme");
    assert_eq!(globex_reply.body["id"], globex.id);
    assert_eq!(globex_reply.body["name"], "Globex");
    assert_ne!(acme_reply.body["uuid"], globex_reply.body["uuid"]);
}

#[tokio::test]
async fn organization_without_a_logo_reads_null() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "ada@acme.test");
    app.execute_sql("UPDATE organizations SET logo_url = NULL");

    let reply = app.get("/v1/organization", &org.key).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body["logoUrl"].is_null(), "{}", reply.text);
    assert!(reply.text.contains("\"logoUrl\":null"), "{}", reply.text);
}
