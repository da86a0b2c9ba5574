//! The organization admin API, called with API keys.

pub mod domains;
pub mod events;
pub mod invitations;
pub mod join_links;
pub mod organization;
pub mod roles;
pub mod teams;
pub mod users;
pub mod webhooks;

use crate::http::routes::{self, Endpoint};
use actix_web::web;

/// The admin API's routes, relative to `/v1` (the caller mounts them under
/// the scope that authenticates the key, limits its rate and replays
/// idempotent requests).
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::register(
        cfg,
        [
            Endpoint::at("/organization")
                .get(organization::get)
                .patch(organization::update)
                .delete(organization::delete),
            Endpoint::at("/organization/export").get(organization::export),
            Endpoint::at("/organization/invitations")
                .get(invitations::list)
                .post(invitations::create),
            Endpoint::at("/organization/invitations/bulk").post(invitations::bulk),
            Endpoint::at("/organization/invitations/{id}").get(invitations::get),
            Endpoint::at("/organization/invitations/{id}/revoke").post(invitations::revoke),
            Endpoint::at("/organization/invitations/{id}/resend").post(invitations::resend),
            Endpoint::at("/organization/join-links")
                .get(join_links::list)
                .post(join_links::create),
            Endpoint::at("/organization/join-links/{id}/revoke").post(join_links::revoke),
            Endpoint::at("/organization/events").get(events::list),
            Endpoint::at("/organization/webhooks")
                .get(webhooks::list)
                .post(webhooks::create),
            Endpoint::at("/organization/webhooks/{id}")
                .get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
            Endpoint::at("/organization/webhooks/{id}/rotate-secret").post(webhooks::rotate_secret),
            Endpoint::at("/organization/webhooks/{id}/test").post(webhooks::test),
            Endpoint::at("/organization/webhooks/{id}/deliveries").get(webhooks::deliveries),
            Endpoint::at("/organization/roles")
                .get(roles::list)
                .post(roles::create),
            Endpoint::at("/organization/roles/{key}")
                .get(roles::get)
                .patch(roles::update)
                .delete(roles::delete),
            Endpoint::at("/organization/permissions/check").post(roles::check_permissions),
            Endpoint::at("/organization/teams")
                .get(teams::list)
                .post(teams::create),
            Endpoint::at("/organization/teams/{id}")
                .get(teams::get)
                .patch(teams::update)
                .delete(teams::delete),
            Endpoint::at("/organization/teams/{id}/members").get(teams::members),
            Endpoint::at("/organization/teams/{id}/members/{userId}")
                .put(teams::add_member)
                .delete(teams::remove_member),
            Endpoint::at("/organization/domains")
                .get(domains::list)
                .post(domains::create),
            Endpoint::at("/organization/domains/{id}")
                .get(domains::get)
                .delete(domains::delete),
            Endpoint::at("/organization/domains/{id}/verify").post(domains::verify),
            Endpoint::at("/organization/users").get(users::list),
            Endpoint::at("/organization/users/{id}")
                .delete(users::remove)
                .patch(users::update),
        ],
    );
}
