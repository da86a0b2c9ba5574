//! The console's overview, `/admin/orgs/{uuid}`: the organization, its
//! members and pending invitations at a glance, and recent activity.

use super::activity::{self, ActivityRow};
use super::invitations::InvitationRow;
use super::{Chrome, ConsolePageError, Visit};
use crate::services::console::{self as gate, Need};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "console/overview.html")]
pub struct OverviewPage {
    pub chrome: Chrome,
    pub member_count: i64,
    pub pending_count: i64,
    pub pending: Vec<InvitationRow>,
    pub activity: Vec<ActivityRow>,
    pub created_human: String,
    /// Whether the admin may see the invitations and the audit log.
    pub shows_invitations: bool,
    pub shows_activity: bool,
}

/// `GET /admin/orgs/{uuid}`
pub async fn show(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, overview) = visit
        .read(&state, "", Need::OVERVIEW, |conn, admin, now| {
            gate::overview(conn, admin, now)
        })
        .await?;
    let page = OverviewPage {
        member_count: admin.organization.member_count,
        pending_count: overview
            .pending
            .as_ref()
            .map_or(0, |pending| pending.total_count),
        pending: overview
            .pending
            .iter()
            .flat_map(|pending| pending.items.iter())
            .map(InvitationRow::from)
            .collect(),
        shows_invitations: overview.pending.is_some(),
        shows_activity: overview.recent_events.is_some(),
        activity: activity::rows(&overview),
        created_human: admin.organization.created_at.to_human(),
        chrome: visit.chrome(&admin, "overview"),
    };
    super::shown(&state, &page, &page.chrome)
}
