//! Organizations: creating one with its first admin (the operator's
//! command), reading one, and listing them for the command line.

use super::{ServiceError, ServiceResult, users};
use crate::db;
use crate::db::Conn;
use crate::domain::event::Origin;
use crate::domain::{Email, Millis, Organization, Role, User, name};
use crate::domain::{OrgId, UserId};
use crate::services::error_code::ErrorCode;
use uuid::Uuid;

pub struct NewOrganization {
    pub name: String,
    pub logo_url: Option<String>,
    pub admin_email: Email,
    pub admin_first_name: String,
    pub admin_last_name: String,
    /// Take over an existing account whose email was never proven (its
    /// password, sessions, tokens and links end) instead of refusing it.
    pub claim_unverified: bool,
}

/// Creates an organization and makes its first admin a member. An existing
/// account with that email is reused only when its address is proven: an
/// unverified one may be a stranger's who registered the address first, so
/// it is refused unless the operator explicitly claims it. A new account is
/// verified (the operator vouches for the address).
pub fn create(
    tx: &Conn,
    new: &NewOrganization,
    now: Millis,
) -> ServiceResult<(Organization, User)> {
    name::check("name", &new.name)?;
    name::check("adminFirstName", &new.admin_first_name)?;
    name::check("adminLastName", &new.admin_last_name)?;
    let name = new.name.trim();
    if name.is_empty() {
        return Err(ServiceError::invalid(
            "name",
            "the organization needs a name",
        ));
    }
    if let Some(url) = &new.logo_url {
        validate_url("logoUrl", url)?;
    }
    let org = db::orgs::insert(tx, Uuid::new_v4(), name, new.logo_url.as_deref(), now)?;
    let admin = match db::users::find_by_email(tx, &new.admin_email)? {
        Some(user) if user.email_verified() => user,
        Some(user) if new.claim_unverified => {
            super::accounts::claim(tx, &Origin::cli(), user.id, None, now)?;
            db::users::get(tx, user.id)?.ok_or(ServiceError::NotFound("account"))?
        }
        Some(_) => {
            return Err(ServiceError::conflict(
                ErrorCode::UnverifiedAccount,
                format!(
                    "an account for {} exists but its email was never verified, so it may be \
                     someone else's; pass --claim-unverified to take it over (its password, \
                     sessions and tokens end) or verify it first",
                    new.admin_email
                ),
            ));
        }
        None => users::create(
            tx,
            &users::NewAccount {
                email: new.admin_email.clone(),
                first_name: new.admin_first_name.clone(),
                last_name: new.admin_last_name.clone(),
                password_hash: None,
                email_verified: true,
            },
            now,
        )?,
    };
    db::members::insert(tx, OrgId(org.id), UserId(admin.id), &Role::Admin, now)?;
    // Only the command line makes organizations.
    super::events::member_added(
        tx,
        &crate::domain::event::Origin::cli(),
        OrgId(org.id),
        UserId(admin.id),
        serde_json::Map::new(),
        now,
    )?;
    let org = get(tx, org.id)?;
    Ok((org, admin))
}

pub fn get(conn: &Conn, org_id: i64) -> ServiceResult<Organization> {
    db::orgs::get(conn, org_id)?.ok_or(ServiceError::NotFound("organization"))
}

pub(crate) fn validate_url(field: &'static str, url: &str) -> ServiceResult<()> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            field,
            format!("{field} must be an http(s) URL"),
        ))
    }
}

pub fn list(conn: &Conn) -> ServiceResult<Vec<Organization>> {
    Ok(db::orgs::list(conn)?)
}

/// Ids of the organizations already called `name` (trimmed, as stored):
/// names need not be unique, but a second "Acme" is worth a word.
pub fn others_named(conn: &Conn, name: &str) -> ServiceResult<Vec<i64>> {
    Ok(db::orgs::ids_named(conn, name.trim())?)
}

/// Role changes, removals and changes to what roles grant in one
/// organization take turns (on PostgreSQL, where several nodes write at
/// once): two at once see each other's outcome, so one person is not
/// removed, or promoted, twice over (with two events), the organization
/// cannot lose its last member manager to two changes that each thought
/// another was left, and locks are always taken in one order.
pub(super) fn take_turn(tx: &Conn, org_id: i64) -> ServiceResult<()> {
    Ok(tx.lock_key(&format!("members/{org_id}"))?)
}
