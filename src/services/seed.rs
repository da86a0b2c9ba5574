//! Benchmark data (`enlist dev seed`): the bulk fill, then an API key for
//! the measured organization and OAuth clients for the invitee side, made
//! by the same services the commands use.

use super::{ServiceError, ServiceResult, api_keys, oauth};
use crate::db;
use crate::db::seed::{SeedPlan, Seeded};
use crate::domain::{Email, Millis, Scope};
use rusqlite::Connection;

pub struct SeedOutcome {
    pub seeded: Seeded,
    /// A key with every scope for the first (measured) organization.
    pub api_key: api_keys::IssuedKey,
    /// A confidential client bound to the invitee (pending invitations in
    /// every organization): `(client_id, secret)`.
    pub invitee_client: (String, String),
    /// A confidential client bound to the account the accept pool is
    /// addressed to, when there is a pool.
    pub acceptor_client: Option<(String, String)>,
}

pub fn run(tx: &Connection, plan: &SeedPlan, now: Millis) -> ServiceResult<SeedOutcome> {
    if plan.orgs == 0 {
        return Err(ServiceError::invalid(
            "orgs",
            "seed at least one organization",
        ));
    }
    if !(0.0..=1.0).contains(&plan.expired_fraction) {
        return Err(ServiceError::invalid(
            "expired-fraction",
            "the expired fraction lies between 0 and 1",
        ));
    }
    let seeded = db::seed::fill(tx, plan, now)?;
    let measured = &seeded.orgs[0];
    let api_key = api_keys::create(
        tx,
        measured.id,
        measured.admin_user_id,
        "bench",
        &Scope::ALL,
        now,
    )?;
    let invitee_client = client_for(tx, "bench invitee", &seeded.invitee_email, now)?;
    let acceptor_client = match seeded.accept_pool_org_id {
        Some(_) => Some(client_for(
            tx,
            "bench acceptor",
            &seeded.acceptor_email,
            now,
        )?),
        None => None,
    };
    Ok(SeedOutcome {
        seeded,
        api_key,
        invitee_client,
        acceptor_client,
    })
}

fn client_for(
    tx: &Connection,
    name: &str,
    email: &str,
    now: Millis,
) -> ServiceResult<(String, String)> {
    let email = Email::parse(email).map_err(|e| ServiceError::invalid("user", e.to_string()))?;
    let (client, secret) = oauth::create_client(
        tx,
        &oauth::NewClient {
            name: name.into(),
            redirect_uris: Vec::new(),
            public: false,
            user: Some(email),
        },
        now,
    )?;
    let secret = secret.ok_or(ServiceError::NotFound("client secret"))?;
    Ok((client.client_id, secret))
}
