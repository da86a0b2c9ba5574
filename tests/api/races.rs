//! Races, each run hundreds of times over the real HTTP stack: concurrent
//! invitations of one email, and concurrent removal of an organization's
//! last two admins. No answer may be a 500, and the invariants are checked
//! in the database afterwards. (Accept versus revoke and accept versus
//! accept run in invitee.rs.)

use crate::helpers::*;
use enlist::domain::Scope;

const ROUNDS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invitations_of_one_email_create_exactly_one() {
    // 800 admin requests with one key: not a test of limits.admin_per_minute.
    let app = spawn_app_with(|s| s.limits.admin_per_minute = 0).await;
    let org = app.create_org("Acme", "ada@acme.test");
    for round in 0..ROUNDS {
        let email = format!("racer{round}@example.com");
        let shouting = email.to_uppercase();
        let padded = format!("  {email} ");
        let (a, b, c, d) = tokio::join!(
            app.invite(&org.key, &email, "MEMBER"),
            app.invite(&org.key, &shouting, "MEMBER"),
            app.invite(&org.key, &email, "ADMIN"),
            app.invite(&org.key, &padded, "MEMBER"),
        );
        let replies = [a, b, c, d];
        let created = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(created, 1, "round {round}: {replies:?}");
        for reply in replies.iter().filter(|r| r.status != 200) {
            reply.assert_problem(409, "invitation_pending");
        }
    }
    let duplicates = app.query_i64(
        "SELECT COUNT(*) FROM (SELECT invitee_email_key FROM invitations
                               GROUP BY org_id, invitee_email_key HAVING COUNT(*) > 1) AS d",
    );
    assert_eq!(duplicates, 0);
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM invitations"),
        ROUNDS as i64
    );
    assert_eq!(app.query_i64("SELECT COUNT(*) FROM outbox"), ROUNDS as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_removal_of_the_last_two_admins_leaves_one() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let org = app.create_org(&format!("Org{round}"), &format!("first{round}@example.com"));
        let second = app.add_member(org.id, &format!("second{round}@example.com"), "ADMIN");
        let second_key = app.api_key(org.id, second, &Scope::ALL);
        let (remove_second, remove_first) = (
            format!("/v1/organization/users/{second}"),
            format!("/v1/organization/users/{}", org.admin_id),
        );
        let (first_removes_second, second_removes_first) = tokio::join!(
            app.delete(&remove_second, &org.key),
            app.delete(&remove_first, &second_key),
        );
        let answers = [&first_removes_second, &second_removes_first];
        let succeeded = answers.iter().filter(|r| r.status == 200).count();
        assert!(
            succeeded <= 1,
            "round {round}: both admins removed each other: {answers:?}"
        );
        for reply in answers {
            // The loser either hits the last-admin rule or finds its own key
            // dead because its owner was just removed.
            assert!(
                [200, 401, 409].contains(&reply.status.as_u16()),
                "round {round}: {reply:?}"
            );
        }
        let admins = app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {} AND role = 'ADMIN'",
            org.id
        ));
        assert!(
            admins >= 1,
            "round {round}: the organization lost every admin"
        );
        let member_count = app.query_i64(&format!(
            "SELECT member_count FROM organizations WHERE id = {}",
            org.id
        ));
        let members = app.query_i64(&format!(
            "SELECT COUNT(*) FROM memberships WHERE org_id = {}",
            org.id
        ));
        assert_eq!(
            member_count, members,
            "round {round}: the member counter drifted"
        );
    }
}
