//! An organization's roles: the built-ins ADMIN and MEMBER (fixed, listed
//! first) and its own, created, changed and deleted by admins; turning the
//! role keys requests carry into roles the organization has; and asking
//! what a member's role permits.

use super::{ServiceError, ServiceResult, events, orgs};
use crate::db;
use crate::db::Conn;
use crate::domain::event::{EventType, Origin};
use crate::domain::role::{BadPermissions, BadRoleKey, Permission, Permissions, RoleDefinition};
use crate::domain::role::{MEMBERS_MANAGE, RoleKey};
use crate::domain::{Millis, Page, Paged, Role};
use crate::services::error_code::ErrorCode;

/// A role's display name: 1 to 100 characters, no control characters.
const NAME_MAX: usize = 100;
/// A role's description: at most 1000 characters.
const DESCRIPTION_MAX: usize = 1000;

/// A new custom role as a request gave it, checked (errors name the fields).
#[derive(Debug, Clone)]
pub struct NewRole {
    pub key: RoleKey,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Permissions,
}

/// What a `PATCH` changes; `None` leaves a field as it is (a description
/// of `Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub permissions: Option<Permissions>,
}

/// The custom key a `POST` gave: a built-in's is refused like any other
/// malformed key, naming `key`.
pub fn new_key(raw: &str) -> ServiceResult<RoleKey> {
    RoleKey::parse(raw).map_err(|why| match why {
        BadRoleKey::BuiltIn(_) => ServiceError::invalid(
            "key",
            format!(
                "`{raw}` is a built-in role and cannot be created; custom role keys are lower case"
            ),
        ),
        BadRoleKey::Malformed => ServiceError::invalid("key", why.to_string()),
    })
}

pub fn name(raw: &str) -> ServiceResult<String> {
    super::labels::name("a role", raw, NAME_MAX)
}

pub fn description(raw: Option<&str>) -> ServiceResult<Option<String>> {
    super::labels::description("a role", raw, DESCRIPTION_MAX)
}

pub fn permissions<S: AsRef<str>>(raw: &[S]) -> ServiceResult<Permissions> {
    Permissions::parse(raw).map_err(|why| ServiceError::invalid("permissions", why.to_string()))
}

/// Permission names a check asks about: the same names roles hold, at most
/// [`Permissions::MAX`] of them.
pub fn asked<S: AsRef<str>>(raw: &[S]) -> ServiceResult<Vec<Permission>> {
    if raw.len() > Permissions::MAX {
        return Err(ServiceError::invalid(
            "permissions",
            BadPermissions::TooMany {
                max: Permissions::MAX,
                got: raw.len(),
            }
            .to_string(),
        ));
    }
    raw.iter()
        .map(|name| {
            Permission::parse(name.as_ref()).ok_or_else(|| {
                let shown: String = name.as_ref().chars().take(100).collect();
                ServiceError::invalid("permissions", BadPermissions::Malformed(shown).to_string())
            })
        })
        .collect()
}

fn unknown_role(field: &'static str, raw: &str) -> ServiceError {
    let shown: String = raw.chars().take(64).collect();
    ServiceError::invalid(
        field,
        format!(
            "`{shown}` is not a role of this organization (ADMIN, MEMBER or one of its own role keys)"
        ),
    )
}

/// The role a request names in its `role` field, if the organization has
/// it: a built-in, or one of its own keys (another organization's is as
/// unknown as a made-up one). In a write the role's row stays locked until
/// commit, so it cannot be deleted under what is handing it out.
pub fn resolve(conn: &Conn, org_id: i64, raw: &str) -> ServiceResult<Role> {
    resolve_with_permissions(conn, org_id, raw).map(|(role, _)| role)
}

/// [`resolve`], with what the role grants.
pub fn resolve_with_permissions(
    conn: &Conn,
    org_id: i64,
    raw: &str,
) -> ServiceResult<(Role, Permissions)> {
    let role: Role = raw.parse().map_err(|_| unknown_role("role", raw))?;
    match &role {
        Role::Custom(key) => {
            let found =
                db::roles::get(conn, org_id, key)?.ok_or_else(|| unknown_role("role", raw))?;
            Ok((role, found.permissions))
        }
        built_in => Ok((role.clone(), Permissions::of_built_in(built_in))),
    }
}

/// The role as the organization names it on pages and in messages: the
/// built-ins' labels, a custom role's display name (its key if the role
/// was deleted since).
pub fn shown_name(conn: &Conn, org_id: i64, role: &Role) -> ServiceResult<String> {
    Ok(match role {
        Role::Custom(key) => db::roles::get(conn, org_id, key)?
            .map(|custom| custom.name)
            .unwrap_or_else(|| key.as_str().to_owned()),
        built_in => built_in.label().to_owned(),
    })
}

/// One page of the organization's roles: ADMIN and MEMBER, then its own by key.
pub fn list(conn: &Conn, org_id: i64, page: Page) -> ServiceResult<Paged<RoleDefinition>> {
    let built_ins: Vec<RoleDefinition> = Role::BUILT_IN
        .into_iter()
        .map(RoleDefinition::built_in)
        .collect();
    let built_in_count = built_ins.len() as i64;
    let mut items: Vec<RoleDefinition> = built_ins
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect();
    let room = page.limit - items.len() as i64;
    if room > 0 {
        let custom = Page {
            limit: room,
            offset: (page.offset - built_in_count).max(0),
        };
        items.extend(db::roles::list(conn, org_id, custom)?);
    }
    let total_count = built_in_count + db::roles::count(conn, org_id)?;
    Ok(page.of(items, total_count))
}

/// One role by key: a built-in, or one of the organization's own.
pub fn get(conn: &Conn, org_id: i64, raw_key: &str) -> ServiceResult<RoleDefinition> {
    match raw_key.parse::<Role>() {
        Ok(Role::Custom(key)) => {
            db::roles::get(conn, org_id, &key)?.ok_or(ServiceError::NotFound("role"))
        }
        Ok(built_in) => Ok(RoleDefinition::built_in(built_in)),
        Err(_) => Err(ServiceError::NotFound("role")),
    }
}

fn built_in_refused(role: &Role) -> ServiceError {
    ServiceError::conflict(
        ErrorCode::BuiltInRole,
        format!(
            "{} is a built-in role and cannot be changed or deleted",
            role.as_str()
        ),
    )
}

/// The custom role a `PATCH` or `DELETE` path names, locked in a write.
fn custom_for_change(tx: &Conn, org_id: i64, raw_key: &str) -> ServiceResult<RoleDefinition> {
    match raw_key.parse::<Role>() {
        Ok(Role::Custom(key)) => {
            db::roles::get(tx, org_id, &key)?.ok_or(ServiceError::NotFound("role"))
        }
        Ok(built_in) => Err(built_in_refused(&built_in)),
        Err(_) => Err(ServiceError::NotFound("role")),
    }
}

pub fn create(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    new: NewRole,
    max_per_organization: u32,
    now: Millis,
) -> ServiceResult<RoleDefinition> {
    // Two creates at once must not both pass the cap.
    tx.lock_key(&format!("roles/{org_id}"))?;
    if db::roles::get(tx, org_id, &new.key)?.is_some() {
        return Err(ServiceError::conflict(
            ErrorCode::RoleExists,
            format!("the organization has a role `{}` already", new.key.as_str()),
        ));
    }
    if db::roles::count(tx, org_id)? >= i64::from(max_per_organization) {
        return Err(ServiceError::conflict(
            ErrorCode::RoleLimit,
            format!("an organization has at most {max_per_organization} custom roles"),
        ));
    }
    let role = RoleDefinition {
        role: Role::Custom(new.key),
        name: new.name,
        description: new.description,
        permissions: new.permissions,
        created_at: Some(now),
        updated_at: Some(now),
    };
    db::roles::insert(tx, org_id, &role, now)?;
    events::role(tx, origin, EventType::RoleCreated, org_id, &role, None, now)?;
    Ok(role)
}

/// Changes a custom role. Taking `members:manage` away is refused when
/// only this role's holders could still manage members; it takes its turn
/// with role changes and removals (see `orgs::take_turn`) so the
/// check and the change they race against are decided one after the other.
pub fn update(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    raw_key: &str,
    patch: RolePatch,
    now: Millis,
) -> ServiceResult<RoleDefinition> {
    orgs::take_turn(tx, org_id)?;
    let before = custom_for_change(tx, org_id, raw_key)?;
    let mut after = before.clone();
    if let Some(name) = patch.name {
        after.name = name;
    }
    if let Some(description) = patch.description {
        after.description = description;
    }
    if let Some(permissions) = patch.permissions {
        after.permissions = permissions;
    }
    if after == before {
        return Ok(before);
    }
    let loses_management =
        before.permissions.manages_members() && !after.permissions.manages_members();
    if let (true, Role::Custom(key)) = (loses_management, &before.role)
        && db::roles::manager_count_capped(tx, org_id, Some(key), 1)? < 1
        && db::roles::usage(tx, org_id, key, now)?.members > 0
    {
        return Err(ServiceError::conflict(
            ErrorCode::LastAdmin,
            format!(
                "only holders of `{}` can manage members: give someone ADMIN or another role \
                 with `{MEMBERS_MANAGE}` first",
                key.as_str()
            ),
        ));
    }
    after.updated_at = Some(now);
    db::roles::update(tx, org_id, &after, now)?;
    events::role(
        tx,
        origin,
        EventType::RoleUpdated,
        org_id,
        &after,
        Some(&before),
        now,
    )?;
    Ok(after)
}

/// Deletes a custom role nobody holds (members, pending invitations,
/// usable join links); answers its key.
pub fn delete(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    raw_key: &str,
    now: Millis,
) -> ServiceResult<String> {
    orgs::take_turn(tx, org_id)?;
    let role = custom_for_change(tx, org_id, raw_key)?;
    let Role::Custom(key) = &role.role else {
        return Err(built_in_refused(&role.role));
    };
    let usage = db::roles::usage(tx, org_id, key, now)?;
    if usage.is_in_use() {
        return Err(ServiceError::conflict(
            ErrorCode::RoleInUse,
            format!(
                "role `{}` is held by {} member(s), {} pending invitation(s), {} usable join \
                 link(s) and {} domain(s); give them another role (or revoke them) first",
                key.as_str(),
                usage.members,
                usage.pending_invitations,
                usage.join_links,
                usage.domains
            ),
        ));
    }
    db::roles::delete(tx, org_id, key)?;
    events::role(tx, origin, EventType::RoleDeleted, org_id, &role, None, now)?;
    Ok(key.as_str().to_owned())
}

/// What a permission check answers: `allowed` when nothing is `missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    pub allowed: bool,
    pub missing: Vec<String>,
}

/// Whether the member holds every permission asked: one read of their
/// membership with their role's row. Not a member: not found.
pub fn check(
    conn: &Conn,
    org_id: i64,
    user_id: i64,
    wanted: &[Permission],
) -> ServiceResult<PermissionCheck> {
    let (_, held) =
        db::roles::of_member(conn, org_id, user_id)?.ok_or(ServiceError::NotFound("user"))?;
    let missing: Vec<String> = held
        .missing(wanted)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(PermissionCheck {
        allowed: missing.is_empty(),
        missing,
    })
}

/// The roles a form offers, as `(key, label)`: MEMBER and ADMIN, then the
/// organization's own by key (labelled with their names). At most
/// `roles.max_per_organization` custom roles exist, so this is one short read.
pub fn choices(conn: &Conn, org_id: i64) -> ServiceResult<Vec<(String, String)>> {
    choices_where(conn, org_id, |_, _| true)
}

/// [`choices`], only the roles `keep` keeps (given what each grants).
pub fn choices_where(
    conn: &Conn,
    org_id: i64,
    keep: impl Fn(&Role, &Permissions) -> bool,
) -> ServiceResult<Vec<(String, String)>> {
    let all = Page {
        limit: crate::domain::page::MAX_LIMIT,
        offset: 0,
    };
    let mut offered: Vec<(String, String)> = [Role::Member, Role::Admin]
        .iter()
        .filter(|role| keep(role, &Permissions::of_built_in(role)))
        .map(|role| (role.as_str().to_owned(), role.label().to_owned()))
        .collect();
    offered.extend(
        db::roles::list(conn, org_id, all)?
            .into_iter()
            .filter(|custom| keep(&custom.role, &custom.permissions))
            .map(|custom| (custom.role.as_str().to_owned(), custom.name)),
    );
    Ok(offered)
}

/// The built-ins alone, for a form shown when the organization's roles
/// could not be read.
pub fn built_in_choices() -> Vec<(String, String)> {
    [Role::Member, Role::Admin]
        .iter()
        .map(|role| (role.as_str().to_owned(), role.label().to_owned()))
        .collect()
}
