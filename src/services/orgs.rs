//! Organizations: creating one with its first admin (the operator's
//! command and page, or a person for themselves when self-serve is on),
//! reading, changing and deleting one (after writing its export), and
//! listing them for the command line and the operators' page.

use super::{ServiceError, ServiceResult, events, users};
use crate::db;
use crate::db::Conn;
use crate::domain::event::Origin;
use crate::domain::organization::{self as rules, Refused};
use crate::domain::role::Permissions;
use crate::domain::{Email, Membership, Millis, Organization, Page, Paged, Role, User, name};
use crate::domain::{OrgId, UserId};
use crate::services::error_code::ErrorCode;
use serde_json::{Map, Value};
use std::path::Path;
use uuid::Uuid;

impl From<Refused> for ServiceError {
    fn from(refused: Refused) -> Self {
        ServiceError::invalid(refused.field, refused.detail)
    }
}

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
    create_as(tx, &Origin::cli(), new, now)
}

/// [`create`] with `origin` as the actor of its events (an operator in the
/// console, or the command line).
pub fn create_as(
    tx: &Conn,
    origin: &Origin,
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
            super::accounts::claim(tx, origin, user.id, None, now)?;
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
    super::events::member_added(
        tx,
        origin,
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
    Ok(rules::url(field, url)?)
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

/// The organization by its public UUID.
pub fn get_by_uuid(conn: &Conn, uuid: Uuid) -> ServiceResult<Organization> {
    db::orgs::get_by_uuid(conn, uuid)?.ok_or(ServiceError::NotFound("organization"))
}

/// One page of every organization, by id, with the total (the operators' page).
pub fn page(conn: &Conn, page: Page) -> ServiceResult<Paged<Organization>> {
    let total = db::orgs::count(conn)?;
    Ok(page.of(db::orgs::page(conn, page)?, total))
}

/// A text field of a request body: absent, null or not a string answers
/// 400 naming it.
pub fn text_field(field: &'static str, raw: Option<&Value>) -> ServiceResult<String> {
    raw.and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ServiceError::invalid(field, format!("{field} must be a string")))
}

/// What a `PATCH` changes, checked: `None` leaves a field as it is;
/// `logo_url` and `metadata` of `Some(None)` clear it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub logo_url: Option<Option<String>>,
    pub metadata: Option<Option<Map<String, Value>>>,
}

impl OrgPatch {
    /// Checks a request's fields as given: absent (`None`), `null`
    /// (`Some(None)`) or a value. A bad one answers 400 naming it.
    pub fn parse(
        name: Option<Option<&Value>>,
        logo_url: Option<Option<&Value>>,
        metadata: Option<Option<&Value>>,
    ) -> ServiceResult<Self> {
        let text = |field: &'static str, value: &Value| text_field(field, Some(value));
        let name = match name {
            None => None,
            Some(None) => {
                return Err(ServiceError::invalid(
                    "name",
                    "an organization always has a name",
                ));
            }
            Some(Some(value)) => Some(rules::name(&text("name", value)?)?),
        };
        let logo_url = match logo_url {
            None => None,
            Some(None) => Some(None),
            Some(Some(value)) => {
                let url = text("logoUrl", value)?;
                rules::url("logoUrl", &url)?;
                Some(Some(url))
            }
        };
        let metadata = match metadata {
            None => None,
            Some(None) => Some(None),
            Some(Some(value)) => Some(Some(rules::metadata(value)?)),
        };
        Ok(Self {
            name,
            logo_url,
            metadata,
        })
    }
}

/// Applies a `PATCH` to the organization; one `organization.updated`
/// event names the fields whose value changed (none changed: no event, and
/// `updatedAt` stays). Answers the organization as it is now.
pub fn update(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    patch: OrgPatch,
    now: Millis,
) -> ServiceResult<Organization> {
    let before = db::orgs::get_locked(tx, org_id)?.ok_or(ServiceError::NotFound("organization"))?;
    let name = patch.name.unwrap_or_else(|| before.name.clone());
    let logo_url = patch.logo_url.unwrap_or_else(|| before.logo_url.clone());
    let metadata = patch.metadata.unwrap_or_else(|| before.metadata.clone());
    let changed: Vec<&str> = [
        ("name", name != before.name),
        ("logoUrl", logo_url != before.logo_url),
        ("metadata", metadata != before.metadata),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect();
    if changed.is_empty() {
        return Ok(before);
    }
    let stored = metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| ServiceError::Internal(format!("organization metadata: {e}")))?;
    let fields = db::orgs::OrgFields {
        name: &name,
        logo_url: logo_url.as_deref(),
        metadata: stored.as_deref(),
    };
    let after = db::orgs::update(tx, org_id, &fields, now)?
        .ok_or(ServiceError::NotFound("organization"))?;
    events::organization_updated(tx, origin, &after, &changed, now)?;
    Ok(after)
}

/// `organizations.self_serve` and `organizations.per_user_limit`.
#[derive(Debug, Clone, Copy)]
pub struct SelfServe {
    pub enabled: bool,
    pub per_user_limit: u32,
}

/// A signed-in person creates an organization for themselves and becomes
/// its first admin, when self-serve is on (403 `self_serve_disabled`
/// otherwise), their address is proven (403 `email_unverified`), and they
/// are ADMIN of fewer than `per_user_limit` organizations (409
/// `organization_limit`). Answers the new membership as the invitee API
/// lists memberships.
pub fn create_for_self(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    name: &str,
    rules_in_force: SelfServe,
    now: Millis,
) -> ServiceResult<Membership> {
    if !rules_in_force.enabled {
        return Err(ServiceError::Forbidden {
            code: ErrorCode::SelfServeDisabled,
            detail: "creating organizations yourself is turned off on this server \
                     (organizations.self_serve)"
                .into(),
        });
    }
    let name = rules::name(name)?;
    // One person's creations take turns, so two at once cannot both pass the limit.
    tx.lock_key(&format!("self-serve/{user_id}"))?;
    let user = db::users::get(tx, user_id)?.ok_or(ServiceError::NotFound("account"))?;
    if !user.email_verified() {
        return Err(ServiceError::Forbidden {
            code: ErrorCode::EmailUnverified,
            detail: "verify your email address before creating an organization".into(),
        });
    }
    let limit = rules_in_force.per_user_limit;
    if db::orgs::count_administered_by(tx, user_id)? >= i64::from(limit) {
        return Err(ServiceError::conflict(
            ErrorCode::OrganizationLimit,
            format!("you are ADMIN of {limit} organizations, as many as you may create"),
        ));
    }
    let org = db::orgs::insert(tx, Uuid::new_v4(), &name, None, now)?;
    db::members::insert(tx, OrgId(org.id), UserId(user_id), &Role::Admin, now)?;
    events::member_added(
        tx,
        origin,
        OrgId(org.id),
        UserId(user_id),
        serde_json::Map::new(),
        now,
    )?;
    Ok(Membership {
        organization_uuid: org.uuid,
        organization_name: org.name,
        organization_logo_url: org.logo_url,
        permissions: Permissions::of_built_in(&Role::Admin),
        role: Role::Admin,
        joined_at: now,
    })
}

/// An organization that is gone, and where its export went.
#[derive(Debug)]
pub struct Deleted {
    pub organization: Organization,
    /// The export's file name, inside `organizations.export_dir`.
    pub export_file: String,
    pub export: super::org_export::Export,
}

/// Deletes the organization once `confirm` is its name exactly (400
/// naming `confirm` otherwise, and nothing changes). In one transaction:
/// its export is read and written to a new owner-only file in
/// `export_dir` (a failure to write it stops the deletion), then every API
/// key, webhook endpoint (with its queued deliveries), join link and
/// invitation of it goes, and the organization with its members, roles,
/// teams and events. No `organization.deleted` event is recorded: the
/// log it would join is deleted with it; the export holds the log, and
/// the server's log a line naming who deleted what.
pub fn delete(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    confirm: &str,
    export_dir: &Path,
    now: Millis,
) -> ServiceResult<Deleted> {
    let org = db::orgs::get_locked(tx, org_id)?.ok_or(ServiceError::NotFound("organization"))?;
    rules::confirm_deletion(&org.name, confirm)?;
    take_turn(tx, org_id)?;
    let export = super::org_export::read(tx, &org, now)?;
    let path = super::org_export::write_file(export_dir, &export, now)?;
    db::orgs::delete(tx, org_id)?;
    tracing::info!(
        organization = org.id,
        uuid = %org.uuid,
        actor = ?origin.actor,
        export = %path.display(),
        "organization deleted"
    );
    Ok(Deleted {
        organization: org,
        export_file: file_name(&path),
        export,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
