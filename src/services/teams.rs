//! An organization's teams: created, renamed and deleted by admins, members
//! put in and taken out, and the teams invitations and join links name
//! (checked to be the organization's own when they are created, joined
//! when the person accepts or joins).

use super::{ServiceError, ServiceResult, events, orgs};
use crate::db;
use crate::db::Conn;
use crate::db::teams::{Holder, TeamFields};
use crate::domain::event::{EventType, Origin};
use crate::domain::team::{DESCRIPTION_MAX, NAME_MAX, TEAM_IDS_MAX, Team, name_key};
use crate::domain::{Member, Millis, OrgId, Page, Paged, UserId};
use crate::services::error_code::ErrorCode;

/// A new team as a request gave it, checked.
#[derive(Debug, Clone)]
pub struct NewTeam {
    pub name: String,
    pub description: Option<String>,
}

/// What a `PATCH` changes; `None` leaves a field as it is (a description
/// of `Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

pub fn name(raw: &str) -> ServiceResult<String> {
    super::labels::name("a team", raw, NAME_MAX)
}

pub fn description(raw: Option<&str>) -> ServiceResult<Option<String>> {
    super::labels::description("a team", raw, DESCRIPTION_MAX)
}

/// The `teamIds` a request gave: positive integers, at most
/// [`TEAM_IDS_MAX`], repeats collapsed. Whether they are the
/// organization's is checked in the write ([`check_ids`]).
pub fn ids(raw: Option<&serde_json::Value>) -> ServiceResult<Vec<i64>> {
    let bad = |detail: String| ServiceError::invalid("teamIds", detail);
    let items = match raw {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items,
        Some(_) => return Err(bad("teamIds must be an array of team ids".into())),
    };
    if items.len() > TEAM_IDS_MAX {
        return Err(bad(format!(
            "teamIds may hold at most {TEAM_IDS_MAX} team ids, got {}",
            items.len()
        )));
    }
    let mut ids = items
        .iter()
        .map(|item| {
            item.as_i64()
                .filter(|id| *id >= 1)
                .ok_or_else(|| bad(format!("teamIds holds `{item}`, not a team id")))
        })
        .collect::<ServiceResult<Vec<i64>>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Refuses (400 naming `teamIds`) any id that is not one of the
/// organization's teams: another organization's is as unknown as a made-up
/// one. In a write the teams stay locked until commit, so none is deleted
/// under what names it.
pub fn check_ids(conn: &Conn, org_id: i64, ids: &[i64]) -> ServiceResult<()> {
    let found = db::teams::existing(conn, org_id, ids)?;
    match ids.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(ServiceError::invalid(
            "teamIds",
            format!("{missing} is not a team of this organization"),
        )),
        None => Ok(()),
    }
}

/// The ids of the organization's teams with these names (compared as the
/// unique names are, case-insensitively); a name that is not one of them
/// is refused naming `teams`.
pub fn ids_named(conn: &Conn, org_id: i64, names: &[String]) -> ServiceResult<Vec<i64>> {
    let mut ids = names
        .iter()
        .map(|name| {
            db::teams::id_by_name_key(conn, org_id, &name_key(name))?.ok_or_else(|| {
                ServiceError::invalid(
                    "teams",
                    format!("`{name}` is not a team of this organization"),
                )
            })
        })
        .collect::<ServiceResult<Vec<i64>>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Records the (checked) teams an invitation or a join link puts people in.
pub fn attach(conn: &Conn, holder: Holder, ids: &[i64]) -> ServiceResult<()> {
    Ok(db::teams::set_for(conn, holder, ids)?)
}

/// The ids of the teams one invitation, join link or domain names.
pub fn ids_of(conn: &Conn, holder: Holder) -> ServiceResult<Vec<i64>> {
    let (kind, id): (fn(i64) -> Holder, i64) = match holder {
        Holder::Invitation(id) => (Holder::Invitation, id),
        Holder::JoinLink(id) => (Holder::JoinLink, id),
        Holder::Domain(id) => (Holder::Domain, id),
    };
    Ok(db::teams::ids_of_holders(conn, kind, &[id])?
        .into_iter()
        .map(|(_, team)| team)
        .collect())
}

/// Fills in the teams of each of `holders` (the organization's invitations,
/// join links or domains, as `kind` says) with one read for all of them.
/// The ids come from the organization's own rows, and a deleted team's link
/// row went with it, so every id is a live team there.
pub fn fill<T>(
    conn: &Conn,
    org_id: i64,
    kind: fn(i64) -> Holder,
    holders: &mut [T],
    id: impl Fn(&T) -> i64,
    team_ids: impl Fn(&mut T) -> &mut Vec<i64>,
) -> ServiceResult<()> {
    // Most organizations have no teams: one probe of `teams_org` spares
    // the page's lookup (measured: an eighth of a first page's cost).
    if holders.is_empty() || !db::teams::any(conn, org_id)? {
        return Ok(());
    }
    let ids: Vec<i64> = holders.iter().map(&id).collect();
    let pairs = db::teams::ids_of_holders(conn, kind, &ids)?;
    for holder in holders.iter_mut() {
        let of = id(holder);
        *team_ids(holder) = pairs
            .iter()
            .filter(|(holder_id, _)| *holder_id == of)
            .map(|(_, team)| *team)
            .collect();
    }
    Ok(())
}

/// Puts someone who just accepted or joined in the teams `holder` names
/// and that still exist (a team deleted meanwhile is passed over), each a
/// `team.member_added` event.
pub fn join_named(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    holder: Holder,
    user_id: i64,
    now: Millis,
) -> ServiceResult<()> {
    let teams = db::teams::of_holder(tx, org_id, holder)?;
    if teams.is_empty() {
        return Ok(());
    }
    let member = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    for mut team in teams {
        if db::teams::add_member(tx, org_id, team.id, user_id, now)? {
            // The trigger counted them in; the event says the count after.
            team.member_count += 1;
            events::team_member(tx, origin, EventType::TeamMemberAdded, &team, &member, now)?;
        }
    }
    Ok(())
}

/// Takes someone being removed from the organization out of its teams,
/// each a `team.member_removed` event (the memberships' foreign key would
/// take them out anyway; this says so).
pub fn leave_all(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    member: &Member,
    now: Millis,
) -> ServiceResult<()> {
    for mut team in db::teams::of_member(tx, org_id, member.user_id)? {
        if db::teams::remove_member(tx, org_id, team.id, member.user_id)? {
            team.member_count -= 1;
            events::team_member(tx, origin, EventType::TeamMemberRemoved, &team, member, now)?;
        }
    }
    Ok(())
}

/// One page of the organization's teams, oldest first.
pub fn list(conn: &Conn, org_id: i64, page: Page) -> ServiceResult<Paged<Team>> {
    let items = db::teams::list(conn, org_id, page)?;
    let total_count = db::teams::count(conn, org_id)?;
    Ok(page.of(items, total_count))
}

pub fn get(conn: &Conn, org_id: i64, id: i64) -> ServiceResult<Team> {
    db::teams::get(conn, org_id, id)?.ok_or(ServiceError::NotFound("team"))
}

fn name_taken(name: &str) -> ServiceError {
    ServiceError::conflict(
        ErrorCode::TeamNameTaken,
        format!("the organization has a team named `{name}` already"),
    )
}

pub fn create(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    new: NewTeam,
    max_per_organization: u32,
    now: Millis,
) -> ServiceResult<Team> {
    // Two creates at once must not both pass the cap or take one name.
    tx.lock_key(&format!("teams/{org_id}"))?;
    let key = name_key(&new.name);
    if db::teams::id_by_name_key(tx, org_id, &key)?.is_some() {
        return Err(name_taken(&new.name));
    }
    if db::teams::count(tx, org_id)? >= i64::from(max_per_organization) {
        return Err(ServiceError::conflict(
            ErrorCode::TeamLimit,
            format!("an organization has at most {max_per_organization} teams"),
        ));
    }
    let fields = TeamFields {
        name: &new.name,
        name_key: &key,
        description: new.description.as_deref(),
    };
    let team = db::teams::insert(tx, org_id, &fields, now)?;
    events::team(tx, origin, EventType::TeamCreated, &team, None, now)?;
    Ok(team)
}

pub fn update(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    id: i64,
    patch: TeamPatch,
    now: Millis,
) -> ServiceResult<Team> {
    tx.lock_key(&format!("teams/{org_id}"))?;
    let before = get(tx, org_id, id)?;
    let name = patch.name.unwrap_or_else(|| before.name.clone());
    let description = patch
        .description
        .unwrap_or_else(|| before.description.clone());
    if name == before.name && description == before.description {
        return Ok(before);
    }
    let key = name_key(&name);
    if db::teams::id_by_name_key(tx, org_id, &key)?.is_some_and(|other| other != id) {
        return Err(name_taken(&name));
    }
    let fields = TeamFields {
        name: &name,
        name_key: &key,
        description: description.as_deref(),
    };
    let after =
        db::teams::update(tx, org_id, id, &fields, now)?.ok_or(ServiceError::NotFound("team"))?;
    events::team(
        tx,
        origin,
        EventType::TeamUpdated,
        &after,
        Some(&before),
        now,
    )?;
    Ok(after)
}

/// Deletes the team: its members stay in the organization, and invitations
/// and join links naming it no longer put anyone in it. One `team.deleted`
/// event (no `team.member_removed` per member). Answers its id.
pub fn delete(tx: &Conn, origin: &Origin, org_id: i64, id: i64, now: Millis) -> ServiceResult<i64> {
    let team = get(tx, org_id, id)?;
    db::teams::delete(tx, org_id, id)?;
    events::team(tx, origin, EventType::TeamDeleted, &team, None, now)?;
    Ok(id)
}

/// One page of the team's members, in the users-list shape. The total is
/// the team's kept member count.
pub fn members(conn: &Conn, org_id: i64, team_id: i64, page: Page) -> ServiceResult<Paged<Member>> {
    let team = get(conn, org_id, team_id)?;
    let items = db::members::list_in_team(conn, org_id, team_id, page)?;
    Ok(page.of(items, team.member_count))
}

/// Puts a member of the organization in the team; putting someone already
/// in it changes nothing. Answers the member.
pub fn add_member(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    team_id: i64,
    user_id: i64,
    now: Millis,
) -> ServiceResult<Member> {
    // Taking turns with removals from the organization: a member being
    // removed is not put in a team in the same breath.
    orgs::take_turn(tx, org_id)?;
    get(tx, org_id, team_id)?;
    let member = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    if db::teams::add_member(tx, org_id, team_id, user_id, now)? {
        let team = get(tx, org_id, team_id)?;
        events::team_member(tx, origin, EventType::TeamMemberAdded, &team, &member, now)?;
    }
    Ok(member)
}

/// [`add_member`] for the member with `email` (the console's form): an
/// address no member of the organization has answers 400 naming `email`.
pub fn add_member_by_email(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    team_id: i64,
    email: &str,
    now: Millis,
) -> ServiceResult<Member> {
    let not_member = || {
        ServiceError::invalid(
            "email",
            "no member of this organization has this email address",
        )
    };
    let email = crate::domain::Email::parse(email)
        .map_err(|e| ServiceError::invalid("email", e.to_string()))?;
    let user = db::users::find_by_email(tx, &email)?.ok_or_else(not_member)?;
    if db::members::role(tx, OrgId(org_id), UserId(user.id))?.is_none() {
        get(tx, org_id, team_id)?;
        return Err(not_member());
    }
    add_member(tx, origin, org_id, team_id, user.id, now)
}

/// Takes a member out of the team (they stay in the organization); someone
/// not in the team is not found. Answers their user id.
pub fn remove_member(
    tx: &Conn,
    origin: &Origin,
    org_id: i64,
    team_id: i64,
    user_id: i64,
    now: Millis,
) -> ServiceResult<i64> {
    get(tx, org_id, team_id)?;
    let member = db::members::get(tx, OrgId(org_id), UserId(user_id))?
        .ok_or(ServiceError::NotFound("user"))?;
    if !db::teams::remove_member(tx, org_id, team_id, user_id)? {
        return Err(ServiceError::NotFound("user"));
    }
    let team = get(tx, org_id, team_id)?;
    events::team_member(
        tx,
        origin,
        EventType::TeamMemberRemoved,
        &team,
        &member,
        now,
    )?;
    Ok(user_id)
}

/// Every team of the organization as `(id, name)`, for forms (at most
/// `teams.max_per_organization` exist, so this is one short read).
pub fn choices(conn: &Conn, org_id: i64) -> ServiceResult<Vec<(i64, String)>> {
    let all = Page {
        limit: crate::domain::page::MAX_LIMIT,
        offset: 0,
    };
    Ok(db::teams::list(conn, org_id, all)?
        .into_iter()
        .map(|team| (team.id, team.name))
        .collect())
}
