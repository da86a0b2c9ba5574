//! An organization's export: one JSON document (version 1) holding its
//! members, roles, teams, invitations, join links, webhooks and events,
//! read in pages inside one storage call (one snapshot), so every part
//! agrees. The API, the command line and a deletion all take it from
//! [`read`]; a deletion writes it to a file first ([`write_file`]).

use super::{ServiceError, ServiceResult};
use crate::db;
use crate::db::Conn;
use crate::db::events::EventQuery;
use crate::db::teams::Holder;
use crate::domain::{Millis, Organization, Page};
use crate::views::{
    ExportCountsBody, ExportedTeamBody, InvitationDetailBody, JoinLinkBody, MemberBody,
    OrganizationBody, OrganizationExportBody, RoleBody, TeamBody, WebhookBody,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The document as the services hand it to the edges.
pub type Export = OrganizationExportBody;

/// The format of the document [`read`] makes.
pub const VERSION: u32 = 1;

/// Rows per read: each page is one short query, so a large organization
/// never holds one query's result for long.
const CHUNK: i64 = 500;

/// Reads every page `page_of` answers until a short one.
fn all_pages<T>(mut page_of: impl FnMut(Page) -> ServiceResult<Vec<T>>) -> ServiceResult<Vec<T>> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let found = page_of(Page {
            limit: CHUNK,
            offset,
        })?;
        let short = (found.len() as i64) < CHUNK;
        all.extend(found);
        if short {
            return Ok(all);
        }
        offset += CHUNK;
    }
}

/// The export of the organization `org`, by the id of the organization's
/// API key (or the command line's `--org`).
pub fn of(conn: &Conn, org_id: i64, now: Millis) -> ServiceResult<Export> {
    let org = super::orgs::get(conn, org_id)?;
    read(conn, &org, now)
}

/// The export of `org` as it stands in `conn`'s snapshot (or transaction).
pub fn read(conn: &Conn, org: &Organization, now: Millis) -> ServiceResult<Export> {
    let org_id = org.id;
    let members: Vec<MemberBody> = all_pages(|page| Ok(db::members::list(conn, org_id, page)?))?
        .into_iter()
        .map(Into::into)
        .collect();
    let roles: Vec<RoleBody> = all_pages(|page| Ok(super::roles::list(conn, org_id, page)?.items))?
        .into_iter()
        .map(Into::into)
        .collect();
    let mut in_teams: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (team_id, user_id) in all_pages(|page| Ok(db::teams::memberships(conn, org_id, page)?))? {
        in_teams.entry(team_id).or_default().push(user_id);
    }
    let teams: Vec<ExportedTeamBody> = all_pages(|page| Ok(db::teams::list(conn, org_id, page)?))?
        .into_iter()
        .map(|team| ExportedTeamBody {
            member_ids: in_teams.remove(&team.id).unwrap_or_default(),
            team: TeamBody::from(team),
        })
        .collect();
    // Each page's teams in one read, as the admin lists read them.
    let invitations: Vec<InvitationDetailBody> = all_pages(|page| {
        let mut found = db::invitations::page_with_extras(conn, org_id, page, now)?;
        super::teams::fill(
            conn,
            org_id,
            Holder::Invitation,
            &mut found,
            |(invitation, _)| invitation.id,
            |(invitation, _)| &mut invitation.team_ids,
        )?;
        Ok(found)
    })?
    .into_iter()
    .map(Into::into)
    .collect();
    let join_links: Vec<JoinLinkBody> = all_pages(|page| {
        let mut found = db::join_links::list(conn, org_id, page, now)?;
        super::teams::fill(
            conn,
            org_id,
            Holder::JoinLink,
            &mut found,
            |l| l.id,
            |l| &mut l.team_ids,
        )?;
        Ok(found)
    })?
    .into_iter()
    .map(Into::into)
    .collect();
    let webhooks: Vec<WebhookBody> =
        all_pages(|page| Ok(db::webhooks::list(conn, org_id, page.limit, page.offset)?))?
            .into_iter()
            .map(Into::into)
            .collect();
    let events = events(conn, org_id)?;
    Ok(OrganizationExportBody {
        version: VERSION,
        exported_at: now,
        organization: OrganizationBody::from(org.clone()),
        counts: ExportCountsBody {
            members: members.len(),
            roles: roles.len(),
            teams: teams.len(),
            invitations: invitations.len(),
            join_links: join_links.len(),
            webhooks: webhooks.len(),
            events: events.len(),
        },
        members,
        roles,
        teams,
        invitations,
        join_links,
        webhooks,
        events,
    })
}

/// The whole audit log, newest first, a cursor page at a time.
fn events(conn: &Conn, org_id: i64) -> ServiceResult<Vec<serde_json::Value>> {
    let mut all = Vec::new();
    let mut query = EventQuery::default();
    loop {
        let found = db::events::list(conn, org_id, &query, CHUNK)?;
        let short = (found.len() as i64) < CHUNK;
        query.before_id = found.last().map(|event| event.id);
        for event in found {
            all.push(
                serde_json::from_str(&event.body).map_err(|e| {
                    ServiceError::Internal(format!("stored event {}: {e}", event.id))
                })?,
            );
        }
        if short {
            return Ok(all);
        }
    }
}

/// Writes `export` to a new file in `dir` (created owner-only when
/// missing), readable by the server's user only, synced to disk before
/// this returns: `org-<id>-<uuid>-<exportedAt ms>.json`. Answers its path.
pub fn write_file(dir: &Path, export: &Export, now: Millis) -> ServiceResult<PathBuf> {
    let failed = |what: &str, path: &Path, error: std::io::Error| {
        ServiceError::Internal(format!("{what} {}: {error}", path.display()))
    };
    crate::private_files::create_dir_all(dir)
        .map_err(|e| failed("creating the export folder", dir, e))?;
    let org = &export.organization;
    let path = dir.join(format!("org-{}-{}-{}.json", org.id, org.uuid, now.0));
    let file = crate::private_files::create_new_file(&path)
        .map_err(|e| failed("creating the export", &path, e))?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, export).map_err(|e| {
        ServiceError::Internal(format!("writing the export {}: {e}", path.display()))
    })?;
    out.write_all(b"\n")
        .map_err(|e| failed("writing the export", &path, e))?;
    let file = out
        .into_inner()
        .map_err(|e| failed("writing the export", &path, e.into_error()))?;
    file.sync_all()
        .map_err(|e| failed("syncing the export", &path, e))?;
    Ok(path)
}
