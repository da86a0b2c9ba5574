//! Members of an organization: the paged list, role changes and removals
//! (the last admin stays; a removed or demoted admin's API keys end with
//! the change), leaving, and the memberships of one account.

use super::orgs::take_turn;
use super::{ServiceError, ServiceResult, events, orgs, roles};
use crate::db;
use crate::db::Conn;
use crate::domain::event::{EventType, Origin};
use crate::domain::search::{After, Search};
use crate::domain::{KeyRevocation, Member, Membership, Millis, Page, Paged, Role};
use crate::domain::{Listed, Window};
use crate::domain::{OrgId, UserId};
use crate::services::error_code::ErrorCode;
use crate::services::list_cursor::{self, Binding, CursorKey, List};
use uuid::Uuid;

/// One offset page of the organization's members, narrowed by `search`
/// (the console's list). The total is the organization's trigger-maintained
/// member count without a search (the matches with one), read in the same
/// snapshot as the page (every read runs in one, `Database::read`).
pub fn list(conn: &Conn, org_id: i64, search: &Search, page: Page) -> ServiceResult<Paged<Member>> {
    let searching = (!search.is_empty()).then_some(search);
    let total_count = match searching {
        None => orgs::get(conn, org_id)?.member_count,
        Some(search) => db::members::count_found(conn, org_id, None, search)?,
    };
    let narrowing = db::members::MemberNarrowing {
        search: searching,
        ..Default::default()
    };
    let items = db::members::find(conn, org_id, narrowing, page)?;
    Ok(page.of(items, total_count))
}

/// One page of the organization's members (of one team, with `team_id`;
/// another organization's team is not found), narrowed by `search`, from
/// `offset` or after a cursor. The total is the kept member count (the
/// organization's or the team's) without a search, and a count of the
/// matches with one. `nextCursor` is given whenever another page follows.
pub fn find(
    conn: &Conn,
    key: &CursorKey,
    org_id: i64,
    team_id: Option<i64>,
    search: &Search,
    window: &Window,
) -> ServiceResult<Listed<Member>> {
    let filters = format!(
        "teamId={};{}",
        team_id.map(|id| id.to_string()).unwrap_or_default(),
        search.canonical()
    );
    let binding = Binding {
        list: List::Users,
        org_id,
        filters: &filters,
    };
    let after = window
        .after
        .as_deref()
        .map(|cursor| list_cursor::open(key, &binding, cursor))
        .transpose()?;
    let kept_count = match team_id {
        Some(team_id) => super::teams::get(conn, org_id, team_id)?.member_count,
        None => orgs::get(conn, org_id)?.member_count,
    };
    let searching = (!search.is_empty()).then_some(search);
    let total_count = match searching {
        None => kept_count,
        Some(search) => db::members::count_found(conn, org_id, team_id, search)?,
    };
    let narrowing = db::members::MemberNarrowing {
        team_id,
        search: searching,
        after: after.map(|after| after.id),
    };
    let mut items = db::members::find(conn, org_id, narrowing, window.probe())?;
    let more = window.cut(&mut items);
    let next_cursor = items.last().filter(|_| more).map(|last| {
        list_cursor::seal(
            key,
            &binding,
            After {
                created_at: 0,
                id: last.user_id,
            },
        )
    });
    Ok(Listed {
        paged: window.shown().of(items, total_count),
        next_cursor,
    })
}

fn last_admin() -> ServiceError {
    ServiceError::conflict(
        ErrorCode::LastAdmin,
        "this user is the organization's last member who can manage members (ADMIN, or a role \
         with `members:manage`); give someone else such a role first",
    )
}

/// Whether holders of `role` may manage members (the last-manager rule).
fn manages_members(tx: &Conn, org_id: i64, role: &Role) -> ServiceResult<bool> {
    Ok(db::roles::of_role(tx, org_id, role)?.manages_members())
}

/// Whether taking the power to manage members from one of the
/// organization's managers would leave it with none.
fn is_last_manager(tx: &Conn, org_id: i64) -> ServiceResult<bool> {
    Ok(db::roles::manager_count_capped(tx, org_id, None, 2)? < 2)
}

/// Gives a member another role of the organization (a custom key it does
/// not have answers 400 naming `role`). Taking the last member manager's
/// power away is refused; a demoted ADMIN's API keys in the organization
/// are revoked in the same transaction (with the service clock; the
/// migration-0005 trigger catches any other path). Setting the role a
/// member already has changes nothing.
pub fn change_role(
    tx: &Conn,
    origin: &Origin,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    role: Role,
    now: Millis,
) -> ServiceResult<Member> {
    take_turn(tx, org_id)?;
    let (role, granted) = roles::resolve_with_permissions(tx, org_id, role.as_str())?;
    let member = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    let current = member.role.clone();
    if current == role {
        return Ok(member);
    }
    if !granted.manages_members()
        && manages_members(tx, org_id, &current)?
        && is_last_manager(tx, org_id)?
    {
        return Err(last_admin());
    }
    if current == Role::Admin {
        revoke_keys_of(
            tx,
            origin,
            org_id,
            user_id,
            KeyRevocation::OwnerDemoted,
            now,
        )?;
    }
    db::members::set_role(tx, OrgId(org_id), UserId(user_id), &role, now)?;
    let changed = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    let mut more = serde_json::Map::new();
    more.insert("previousRole".into(), current.as_str().into());
    more.insert("role".into(), role.as_str().into());
    events::member(
        tx,
        origin,
        EventType::MemberRoleChanged,
        org_id,
        &changed,
        more,
        now,
    )?;
    Ok(changed)
}

/// Revokes every key the person holds in the organization, each with its
/// `api_key.revoked` event.
fn revoke_keys_of(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    user_id: i64,
    why: KeyRevocation,
    now: Millis,
) -> ServiceResult<()> {
    for key in db::api_keys::revoke_owned(tx, org_id, user_id, why, now)? {
        events::api_key(tx, origin, EventType::ApiKeyRevoked, &key, now)?;
    }
    Ok(())
}

/// Who invites on the command line: the admin with `email`, or the
/// organization's first admin. The organization must exist.
pub fn inviter(tx: &Conn, org_id: i64, email: Option<&crate::domain::Email>) -> ServiceResult<i64> {
    orgs::get(tx, org_id)?;
    let found = match email {
        Some(email) => db::users::find_by_email(tx, email)?
            .map(|user| user.id)
            .filter(|id| {
                matches!(
                    db::members::role(tx, OrgId(org_id), UserId(*id)),
                    Ok(Some(Role::Admin))
                )
            }),
        None => db::members::first_admin(tx, org_id)?,
    };
    found.ok_or_else(|| {
        ServiceError::invalid(
            "inviter",
            "the inviter must be an admin of the organization",
        )
    })
}

/// The organizations the person belongs to.
pub fn memberships(conn: &Conn, user_id: i64) -> ServiceResult<Vec<Membership>> {
    Ok(db::members::organizations_of(conn, user_id)?)
}

/// The person leaves the organization (by its UUID) on their own; the
/// last admin cannot. Answers the organization's UUID.
pub fn leave(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    org_uuid: Uuid,
    now: Millis,
) -> ServiceResult<Uuid> {
    let (org_id, _) = db::members::find_by_org_uuid(tx, org_uuid, user_id)?
        .ok_or(ServiceError::NotFound("membership"))?;
    remove(tx, origin, OrgId(org_id), UserId(user_id), now)?;
    Ok(org_uuid)
}

/// Removes the person from the organization (their account stays) and, in
/// the same transaction, revokes every API key they hold in it for good.
/// The organization's last member manager cannot be removed.
pub fn remove(
    tx: &Conn,
    origin: &Origin,
    OrgId(org_id): OrgId,
    UserId(user_id): UserId,
    now: Millis,
) -> ServiceResult<i64> {
    take_turn(tx, org_id)?;
    let member = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    if manages_members(tx, org_id, &member.role)? && is_last_manager(tx, org_id)? {
        return Err(last_admin());
    }
    revoke_keys_of(
        tx,
        origin,
        org_id,
        user_id,
        KeyRevocation::OwnerRemoved,
        now,
    )?;
    super::teams::leave_all(tx, origin, org_id, &member, now)?;
    if !db::members::delete(tx, OrgId(org_id), UserId(user_id))? {
        return Err(ServiceError::NotFound("user"));
    }
    events::member(
        tx,
        origin,
        EventType::MemberRemoved,
        org_id,
        &member,
        serde_json::Map::new(),
        now,
    )?;
    Ok(user_id)
}
