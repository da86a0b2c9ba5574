//! `enlist demo`: a small organization with something of every kind, for
//! trying enlist out. Only ever run on an empty database.

use crate::db;
use crate::db::Conn;
use crate::delivery::Composer;
use crate::domain::event::Origin;
use crate::domain::invitation_options::InvitationOptions;
use crate::domain::{Email, Invitation, InvitationStatus, Millis, Organization, Role, Scope};
use crate::domain::{OrgId, UserId};
use crate::services::error_code::ErrorCode;
use crate::services::{self, invitations::SendRules};
use crate::services::{ServiceError, ServiceResult};
use std::time::Duration;

/// Where the demo organization's logo is served (`{public_url}` + this).
pub const LOGO_PATH: &str = "/assets/demo-logo.svg";
pub const ADMIN_EMAIL: &str = "ada@demo.test";

pub struct Demo {
    pub organization: Organization,
    pub admin_id: i64,
    pub members: Vec<String>,
    pub invitations: Vec<Invitation>,
    pub api_key: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub join_link_token: String,
}

fn email(raw: &str) -> ServiceResult<Email> {
    Email::parse(raw).map_err(|e| ServiceError::invalid("email", e.to_string()))
}

/// Fills an empty database. `password_hash` is the admin's (argon2id, made
/// before the transaction).
#[expect(
    clippy::too_many_lines,
    reason = "the demo organization is built in one transaction, one step per kind of row, as the walk-through shows it"
)]
pub fn build(
    tx: &Conn,
    password_hash: &str,
    public_url: &str,
    composer: &Composer,
    now: Millis,
) -> ServiceResult<Demo> {
    if db::orgs::any(tx)? {
        // `--reset` deletes the SQLite file; it cannot empty a PostgreSQL database.
        let start_over = match tx.dialect() {
            db::Dialect::Sqlite => "run `enlist demo --reset` to start over",
            db::Dialect::Postgres => {
                "drop and create the database (dropdb, createdb) to start over"
            }
        };
        return Err(ServiceError::conflict(
            ErrorCode::NotEmpty,
            format!("the database already holds organizations; {start_over}"),
        ));
    }
    let admin_email = email(ADMIN_EMAIL)?;
    let (organization, admin) = services::orgs::create(
        tx,
        &services::orgs::NewOrganization {
            name: "Acme Demo".into(),
            logo_url: Some(format!("{public_url}{LOGO_PATH}")),
            admin_email: admin_email.clone(),
            admin_first_name: "Ada".into(),
            admin_last_name: "Admin".into(),
            claim_unverified: false,
        },
        now,
    )?;
    services::users::set_password(tx, &Origin::cli(), &admin_email, password_hash, now)?;
    let mut members = Vec::new();
    for (address, first) in [("bob@demo.test", "Bob"), ("carol@demo.test", "Carol")] {
        let user = services::users::create(
            tx,
            &services::users::NewAccount {
                email: email(address)?,
                first_name: first.into(),
                last_name: "Member".into(),
                password_hash: None,
                email_verified: true,
            },
            now,
        )?;
        db::members::insert(
            tx,
            OrgId(organization.id),
            UserId(user.id),
            &Role::Member,
            now,
        )?;
        members.push(address.to_owned());
    }
    let rules = SendRules::with_lifetime(Duration::from_secs(7 * 86_400));
    let mut invitations = Vec::new();
    for (address, status) in [
        ("pending@demo.test", InvitationStatus::Pending),
        ("accepted@demo.test", InvitationStatus::Accepted),
        ("declined@demo.test", InvitationStatus::Declined),
        ("revoked@demo.test", InvitationStatus::Revoked),
        ("expired@demo.test", InvitationStatus::Expired),
    ] {
        let invitation = services::invitations::create(
            tx,
            &Origin::cli(),
            organization.id,
            admin.id,
            &services::invitations::NewInvitation {
                invitee: email(address)?,
                role: Role::Member,
                options: InvitationOptions {
                    message: Some("Welcome to the Acme demo!".into()),
                    ..InvitationOptions::default()
                },
                team_ids: Vec::new(),
            },
            rules,
            composer,
            now,
        )?;
        if status != InvitationStatus::Pending {
            db::invitations::set_status(tx, invitation.id, status, now)?;
        }
        invitations.push(
            db::invitations::get_in_org(tx, organization.id, invitation.id, now)?
                .ok_or(ServiceError::NotFound("invitation"))?,
        );
    }
    let (_, join_link_token) = services::join_links::create(
        tx,
        organization.id,
        admin.id,
        &services::join_links::NewJoinLink {
            role: Role::Member,
            max_uses: 25,
            expires_at: now.plus(Duration::from_secs(7 * 86_400)),
            allowed_email_domains: Vec::new(),
            team_ids: Vec::new(),
        },
        now,
    )?;
    let api_key = services::api_keys::create(
        tx,
        &Origin::cli(),
        OrgId(organization.id),
        UserId(admin.id),
        "demo",
        &Scope::ALL,
        now,
    )?
    .plaintext;
    let (client, client_secret) = services::oauth::create_client(
        tx,
        &services::oauth::NewClient {
            name: "Demo app".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            public: false,
            user: Some(admin_email),
            ..Default::default()
        },
        now,
    )?;
    let organization = services::orgs::get(tx, organization.id)?;
    Ok(Demo {
        organization,
        admin_id: admin.id,
        members,
        invitations,
        api_key,
        client_id: client.client_id,
        client_secret,
        join_link_token,
    })
}
