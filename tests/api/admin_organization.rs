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
