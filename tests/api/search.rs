//! Search (`email`, `q`) and cursors (`after`, `nextCursor`) on
//! `GET /v1/organization/users` and `/invitations` (issue 27, parts 3 and 4).

use crate::helpers::{Reply, TestApp, TestOrg, item_ids, spawn_app};
use enlist::domain::invitation::InvitationFilter;
use enlist::domain::search::{After, Search};
use enlist::domain::{Email, Millis, OrgId, Page, Role, UserId};
use enlist::services;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Adds an account with these names to the organization.
fn member_named(app: &TestApp, org: &TestOrg, email: &str, first: &str, last: &str) -> i64 {
    let email = Email::parse(email).unwrap();
    let (first, last) = (first.to_owned(), last.to_owned());
    let org_id = org.id;
    app.db
        .write_blocking(move |tx| -> Result<i64, services::ServiceError> {
            let user = services::users::create(
                tx,
                &services::users::NewAccount {
                    email,
                    first_name: first,
                    last_name: last,
                    password_hash: None,
                    email_verified: true,
                },
                Millis::now(),
            )?;
            enlist::db::members::insert(
                tx,
                OrgId(org_id),
                UserId(user.id),
                &Role::Member,
                Millis::now(),
            )?;
            Ok(user.id)
        })
        .unwrap()
}

fn emails_of(reply: &Reply, field: &str) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}

fn ok(reply: Reply) -> Reply {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
}

#[tokio::test]
async fn search_finds_members_and_invitations_by_address_and_prefix_in_the_organization_only() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "admin@acme.test");
    let other = app.create_org("Other", "admin@other.test");
    let ann = member_named(&app, &org, "Ann@Acme.test", "Ann", "Lee");
    let anna = member_named(&app, &org, "berg@acme.test", "Anna", "Berg");
    let bob = member_named(&app, &org, "bob@acme.test", "Bob", "Annis");
    member_named(&app, &org, "cy@acme.test", "Émile", "Öztürk");
    member_named(&app, &other, "annette@other.test", "Annette", "Anders");

    let users = |query: &str| {
        let (app, key) = (&app, org.key.clone());
        let path = format!("/v1/organization/users?{query}");
        async move { ok(app.get(&path, &key).await) }
    };
    // Exact, by the normalised key: case and outer spaces do not matter.
    let found = users("email=%20ANN@acme.TEST%20").await;
    assert_eq!(item_ids(&found), vec![ann]);
    assert_eq!(found.body["totalCount"], 1);
    assert_eq!(found.body["nextCursor"], serde_json::Value::Null);
    assert_eq!(found.body["items"][0]["firstName"], "Ann");
    // A prefix of the address, the full name or the last name.
    let found = users("q=ANN").await;
    assert_eq!(item_ids(&found), vec![ann, anna, bob]);
    assert_eq!(found.body["totalCount"], 3);
    assert_eq!(item_ids(&users("q=anna%20b").await), vec![anna]);
    assert_eq!(item_ids(&users("q=berg").await), vec![anna]);
    // Case folds beyond ASCII.
    assert_eq!(users("q=%C3%B6zt").await.body["totalCount"], 1);
    assert_eq!(users("q=%C3%A9MILE").await.body["totalCount"], 1);
    // Both together: the address that also matches the prefix.
    assert_eq!(
        item_ids(&users("email=ann@acme.test&q=an").await),
        vec![ann]
    );
    assert_eq!(
        users("email=ann@acme.test&q=bo").await.body["totalCount"],
        0
    );
    // Another organization's members never match.
    let none = users("q=annette").await;
    assert_eq!(item_ids(&none), Vec::<i64>::new());
    assert_eq!(none.body["totalCount"], 0);
    assert_eq!(
        users("email=annette@other.test").await.body["totalCount"],
        0
    );
    // With a team: only its members.
    let team = ok(app
        .post(
            "/v1/organization/teams",
            &org.key,
            &serde_json::json!({"name": "Core"}),
        )
        .await);
    let team_id = team.body["id"].as_i64().unwrap();
    ok(app
        .request(
            reqwest::Method::PUT,
            &format!("/v1/organization/teams/{team_id}/members/{bob}"),
            Some(&org.key),
            None,
        )
        .await);
    let in_team = users(&format!("teamId={team_id}&q=ann")).await;
    assert_eq!(item_ids(&in_team), vec![bob]);
    assert_eq!(in_team.body["totalCount"], 1);

    // Invitations: by the invitee's address.
    let zed = app.invite_ok(&org.key, "Zed@Example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(1));
    let zelda = app.invite_ok(&org.key, "zelda@example.com", "MEMBER").await;
    app.clock.advance(Duration::from_secs(1));
    app.invite_ok(&org.key, "amy@example.com", "MEMBER").await;
    app.invite_ok(&other.key, "zed@example.com", "MEMBER").await;
    let invitations = |query: &str| {
        let (app, key) = (&app, org.key.clone());
        let path = format!("/v1/organization/invitations?{query}");
        async move { ok(app.get(&path, &key).await) }
    };
    let found = invitations("email=ZED@example.com").await;
    assert_eq!(item_ids(&found), vec![zed]);
    assert_eq!(found.body["totalCount"], 1);
    assert_eq!(emails_of(&found, "inviteeEmail"), vec!["Zed@Example.com"]);
    let found = invitations("q=Ze").await;
    assert_eq!(item_ids(&found), vec![zelda, zed]);
    assert_eq!(found.body["totalCount"], 2);
    // Combined with the status filter.
    assert_eq!(app.revoke(&org.key, zelda).await.status, 200);
    let pending = invitations("q=ze&status=PENDING").await;
    assert_eq!(item_ids(&pending), vec![zed]);
    assert_eq!(pending.body["totalCount"], 1);
    assert_eq!(
        item_ids(&invitations("q=ze&status=REVOKED").await),
        vec![zelda]
    );
    // Page by page, by cursor, within the search.
    let first = invitations("q=ze&limit=1").await;
    assert_eq!(item_ids(&first), vec![zelda]);
    assert_eq!(first.body["totalCount"], 2);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = invitations(&format!("q=ze&limit=1&after={cursor}")).await;
    assert_eq!(item_ids(&second), vec![zed]);
    assert_eq!(second.body["offset"], 0);
    assert_eq!(second.body["nextCursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn offset_pages_keep_the_seed_shape_and_offer_a_cursor_that_continues_them() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "admin@acme.test");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
                .await,
        );
    }
    ids.reverse(); // newest first (equal times: the id breaks the tie)
    let page = ok(app
        .get("/v1/organization/invitations?limit=2&offset=1", &org.key)
        .await);
    assert_eq!(item_ids(&page), ids[1..3].to_vec());
    assert_eq!(page.body["offset"], 1);
    assert_eq!(page.body["limit"], 2);
    assert_eq!(page.body["totalCount"], 5);
    let cursor = page.body["nextCursor"].as_str().unwrap();
    let next = ok(app
        .get(
            &format!("/v1/organization/invitations?limit=2&after={cursor}"),
            &org.key,
        )
        .await);
    assert_eq!(item_ids(&next), ids[3..5].to_vec());
    assert_eq!(next.body["nextCursor"], serde_json::Value::Null);
    // The last offset page has no cursor either.
    let last = ok(app
        .get("/v1/organization/invitations?limit=2&offset=3", &org.key)
        .await);
    assert_eq!(last.body["nextCursor"], serde_json::Value::Null);

    // The users list: the seed's fields, in the seed's order, plus nextCursor.
    for n in 0..3 {
        app.add_member(org.id, &format!("m{n}@example.com"), "MEMBER");
    }
    let users = ok(app.get("/v1/organization/users?limit=2", &org.key).await);
    assert_eq!(
        crate::helpers::keys_of(&users.body),
        vec!["items", "limit", "nextCursor", "offset", "totalCount"]
    );
    let all = ok(app.get("/v1/organization/users", &org.key).await);
    let cursor = users.body["nextCursor"].as_str().unwrap();
    let rest = ok(app
        .get(
            &format!("/v1/organization/users?limit=2&after={cursor}"),
            &org.key,
        )
        .await);
    let mut walked = item_ids(&users);
    walked.extend(item_ids(&rest));
    assert_eq!(walked, item_ids(&all));
    assert_eq!(rest.body["nextCursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn bad_searches_and_foreign_or_altered_cursors_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "admin@acme.test");
    let other = app.create_org("Other", "admin@other.test");
    for n in 0..3 {
        app.invite_ok(&org.key, &format!("ze{n}@example.com"), "MEMBER")
            .await;
        app.invite_ok(&other.key, &format!("ze{n}@example.com"), "MEMBER")
            .await;
        app.add_member(org.id, &format!("m{n}@example.com"), "MEMBER");
        app.add_member(other.id, &format!("m{n}@example.com"), "MEMBER");
    }
    let cursor_of = |reply: Reply| reply.body["nextCursor"].as_str().unwrap().to_owned();
    let ours = cursor_of(ok(app
        .get("/v1/organization/invitations?limit=1&q=ze", &org.key)
        .await));
    let theirs = cursor_of(ok(app
        .get("/v1/organization/invitations?limit=1&q=ze", &other.key)
        .await));
    let users_cursor = cursor_of(ok(app
        .get("/v1/organization/users?limit=1", &org.key)
        .await));
    let mut tampered = ours.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let refused = |path: String, status: u16, code: &'static str, field: &'static str| {
        let app = &app;
        let key = org.key.clone();
        async move {
            let reply = app.get(&path, &key).await;
            reply.assert_problem(status, code);
            assert_eq!(reply.body["field"], field, "{path}: {}", reply.text);
        }
    };
    let base = "/v1/organization/invitations?limit=1";
    for cursor in [
        &tampered,
        &theirs,
        &users_cursor,
        &"bm90LWEtY3Vyc29y".to_owned(),
    ] {
        refused(
            format!("{base}&q=ze&after={cursor}"),
            400,
            "invalid_cursor",
            "after",
        )
        .await;
    }
    // Another filter than the cursor was made under.
    refused(
        format!("{base}&q=z&after={ours}"),
        400,
        "invalid_cursor",
        "after",
    )
    .await;
    refused(
        format!("{base}&q=ze&status=PENDING&after={ours}"),
        400,
        "invalid_cursor",
        "after",
    )
    .await;
    // The invitations cursor on the users list.
    refused(
        format!("/v1/organization/users?after={ours}"),
        400,
        "invalid_cursor",
        "after",
    )
    .await;
    // after with offset, even 0.
    for list in ["users", "invitations"] {
        refused(
            format!("/v1/organization/{list}?offset=0&after={users_cursor}"),
            400,
            "validation_failed",
            "after",
        )
        .await;
        refused(
            format!("/v1/organization/{list}?email=not-an-address"),
            400,
            "validation_failed",
            "email",
        )
        .await;
        refused(
            format!("/v1/organization/{list}?q={}", "a".repeat(101)),
            400,
            "validation_failed",
            "q",
        )
        .await;
    }
    // The good cursor still works after all that.
    let next = ok(app
        .get(&format!("{base}&q=ze&after={ours}"), &org.key)
        .await);
    assert_eq!(next.body["items"].as_array().unwrap().len(), 1);
}

/// Walks `path` page by page with `limit=3` while `between` changes the
/// list after each page; answers how often each id was seen.
async fn walk(
    app: &TestApp,
    key: &str,
    path: &str,
    mut between: impl AsyncFnMut(usize),
) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    let path = format!(
        "{path}{}limit=3",
        if path.contains('?') { '&' } else { '?' }
    );
    let mut url = path.clone();
    for step in 0.. {
        let page = ok(app.get(&url, key).await);
        for id in item_ids(&page) {
            *seen.entry(id).or_insert(0) += 1;
        }
        match page.body["nextCursor"].as_str() {
            Some(cursor) => url = format!("{path}&after={cursor}"),
            None => break,
        }
        between(step).await;
    }
    seen
}

#[tokio::test]
async fn a_cursor_walk_under_concurrent_writes_returns_every_lasting_row_once() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "admin@acme.test");
    let mut lasting = BTreeSet::new();
    let mut doomed = Vec::new();
    for n in 0..24 {
        // Several rows per instant: ties on created_at, broken by the id.
        if n % 4 == 0 {
            app.clock.advance(Duration::from_secs(1));
        }
        let id = app
            .invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
            .await;
        if n % 3 == 1 {
            doomed.push(id);
        } else {
            lasting.insert(id);
        }
    }
    // Between pages, and in a task running beside the walk: new
    // invitations arrive and doomed ones are revoked (leaving the PENDING list).
    let writer = {
        let (address, key) = (app.address.clone(), org.key.clone());
        let client = app.client.clone();
        let doomed = doomed.split_off(doomed.len() / 2);
        tokio::spawn(async move {
            for (n, id) in doomed.into_iter().enumerate() {
                let invited = client
                    .post(format!("{address}/v1/organization/invitations"))
                    .header("X-API-Key", &key)
                    .json(&serde_json::json!({"inviteeEmail": format!("late{n}@example.com"), "role": "MEMBER"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(invited.status(), 200);
                let revoked = client
                    .post(format!("{address}/v1/organization/invitations/{id}/revoke"))
                    .header("X-API-Key", &key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(revoked.status(), 200);
            }
        })
    };
    let mut remaining = doomed.into_iter();
    let seen = walk(
        &app,
        &org.key,
        "/v1/organization/invitations?status=PENDING",
        async |step| {
            app.invite_ok(&org.key, &format!("new{step}@example.com"), "MEMBER")
                .await;
            if let Some(id) = remaining.next() {
                assert_eq!(app.revoke(&org.key, id).await.status, 200);
            }
        },
    )
    .await;
    writer.await.unwrap();
    for id in &lasting {
        assert_eq!(seen.get(id), Some(&1), "invitation {id} in {seen:?}");
    }
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");

    // Members: added and removed between pages.
    let mut lasting = BTreeSet::from([org.admin_id]);
    let mut doomed = Vec::new();
    for n in 0..14 {
        let id = app.add_member(org.id, &format!("m{n}@example.com"), "MEMBER");
        if n % 3 == 0 {
            doomed.push(id);
        } else {
            lasting.insert(id);
        }
    }
    let mut remaining = doomed.into_iter();
    let seen = walk(&app, &org.key, "/v1/organization/users", async |step| {
        app.add_member(org.id, &format!("late{step}@example.com"), "MEMBER");
        if let Some(id) = remaining.next() {
            assert_eq!(app.remove_user(&org.key, id).await.status, 200);
        }
    })
    .await;
    for id in &lasting {
        assert_eq!(seen.get(id), Some(&1), "member {id} in {seen:?}");
    }
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
}

/// The plans, on either backend: a search and a deep cursor page come from
/// indexes (on PostgreSQL with sequential scans priced out, as a small
/// test table would otherwise be read whole).
#[tokio::test]
async fn searches_and_cursor_pages_are_planned_on_indexes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme", "admin@acme.test");
    for n in 0..5 {
        app.invite_ok(&org.key, &format!("p{n}@example.com"), "MEMBER")
            .await;
    }
    let postgres = crate::test_postgres::enabled();
    let org_id = org.id;
    let plans = app
        .db
        .read_blocking(
            move |conn| -> Result<Vec<(String, String)>, enlist::db::StorageError> {
                if postgres {
                    conn.execute("SET LOCAL enable_seqscan = off", &[])?;
                }
                let email = Search::parse(Some("p1@example.com"), None).unwrap();
                let prefix = Search::parse(None, Some("p")).unwrap();
                let after = Some(After {
                    created_at: Millis::now().0,
                    id: 3,
                });
                let page = Page {
                    limit: 100,
                    offset: 0,
                };
                let now = Millis::now();
                let mut plans = Vec::new();
                for filter in [
                    InvitationFilter::Any {
                        include_expired: false,
                    },
                    InvitationFilter::Status(enlist::domain::InvitationStatus::Pending),
                ] {
                    for (what, narrowing) in [
                        (
                            "email",
                            enlist::db::invitations::Narrowing {
                                search: Some(&email),
                                after: None,
                            },
                        ),
                        (
                            "prefix",
                            enlist::db::invitations::Narrowing {
                                search: Some(&prefix),
                                after,
                            },
                        ),
                        (
                            "cursor",
                            enlist::db::invitations::Narrowing {
                                search: None,
                                after,
                            },
                        ),
                    ] {
                        let plan = enlist::db::invitations::page_plan(
                            conn, org_id, filter, narrowing, page, now,
                        )?;
                        plans.push((format!("invitations {what} {filter:?}"), plan));
                    }
                }
                for (what, narrowing) in [
                    (
                        "email",
                        enlist::db::members::MemberNarrowing {
                            search: Some(&email),
                            ..Default::default()
                        },
                    ),
                    (
                        "prefix",
                        enlist::db::members::MemberNarrowing {
                            search: Some(&prefix),
                            after: Some(2),
                            ..Default::default()
                        },
                    ),
                    (
                        "cursor",
                        enlist::db::members::MemberNarrowing {
                            after: Some(2),
                            ..Default::default()
                        },
                    ),
                ] {
                    let plan = enlist::db::members::page_plan(conn, org_id, narrowing, page)?;
                    plans.push((format!("users {what}"), plan));
                }
                Ok(plans)
            },
        )
        .unwrap();
    for (what, plan) in plans {
        let case = format!("{what}:\n{plan}");
        if postgres {
            assert!(!plan.contains("Seq Scan"), "{case}");
            assert!(plan.contains("Index"), "{case}");
        } else {
            assert!(!plan.contains("SCAN invitations"), "{case}");
            assert!(!plan.contains("SCAN users"), "{case}");
            assert!(!plan.contains("SCAN memberships"), "{case}");
        }
        // An exact address always starts at it. A prefix does on SQLite
        // (named there); PostgreSQL weighs its statistics, and for a prefix
        // matching most of an organization (as `p` does here) walking the
        // page order with a filter is the cheaper index plan.
        if what.starts_with("invitations email")
            || (!postgres && what.starts_with("invitations prefix"))
        {
            assert!(plan.contains("invitations_org_email"), "{case}");
        }
        // A cursor's position is a seek, not rows skipped.
        if postgres && what.starts_with("invitations cursor") {
            assert!(plan.contains("ROW(created_at, id) < ROW("), "{case}");
        }
        if what == "users prefix" && !postgres {
            assert!(plan.contains("users_name_key"), "{case}");
            assert!(plan.contains("users_last_name_key"), "{case}");
        }
    }
}
