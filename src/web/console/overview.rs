//! The console's overview, `/admin/orgs/{uuid}`: the organization, its
//! members and pending invitations at a glance, and recent activity.

use super::activity::{self, ActivityRow};
use super::invitations::InvitationRow;
use super::{Chrome, ConsoleError, ForAdmin, Visit};
use crate::services::console as gate;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
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
}

/// `GET /admin/orgs/{uuid}`
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let visit = Visit::new(&req, &state, &path);
    let found = state
        .db
        .read(move |conn| {
            let admin = visit.admit(conn)?;
            let overview = gate::overview(conn, &admin, visit.now).for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, overview))
        })
        .await;
    let (admin, overview) = match found {
        Ok(found) => found,
        Err(error) => return super::error_response(&req, &state, error),
    };
    let chrome = Chrome::new(&req, &admin, "overview");
    let page = OverviewPage {
        member_count: admin.organization.member_count,
        pending_count: overview.pending.total_count,
        pending: overview
            .pending
            .items
            .iter()
            .map(InvitationRow::from)
            .collect(),
        activity: activity::rows(&overview),
        created_human: admin.organization.created_at.to_human(),
        chrome,
    };
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}
