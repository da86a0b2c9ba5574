//! The console's join links: the list with each link's state, making one
//! (its URL shown once) and revoking.

use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, FieldError, Paging, RowId, Visit};
use crate::domain::Role;
use crate::domain::join_link::{JoinLink, JoinLinkState};
use crate::services::console::Need;
use crate::services::join_links::NewJoinLink;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub struct LinkRow {
    pub id: i64,
    pub role: String,
    pub uses: String,
    pub domains: String,
    pub expires_iso: String,
    pub expires_human: String,
    pub state: &'static str,
    pub active: bool,
}

impl From<&JoinLink> for LinkRow {
    fn from(link: &JoinLink) -> Self {
        Self {
            id: link.id,
            role: link.role.label().to_owned(),
            uses: format!("{} of {}", link.uses, link.max_uses),
            domains: if link.allowed_email_domains.is_empty() {
                "any".into()
            } else {
                link.allowed_email_domains.join(", ")
            },
            expires_iso: link.expires_at.to_rfc3339(),
            expires_human: link.expires_at.to_human(),
            state: match link.state {
                JoinLinkState::Active => "Active",
                JoinLinkState::Full => "Used up",
                JoinLinkState::Expired => "Expired",
                JoinLinkState::Revoked => "Revoked",
            },
            active: link.state == JoinLinkState::Active,
        }
    }
}

#[derive(Template)]
#[template(path = "console/join_links.html")]
pub struct JoinLinksPage {
    pub chrome: Chrome,
    pub rows: Vec<LinkRow>,
    pub page: i64,
    pub pages: i64,
    pub range: String,
    pub previous_href: Option<String>,
    pub next_href: Option<String>,
}

/// `GET /admin/orgs/{uuid}/join-links`
pub async fn list(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let asked = Paging::from_query(visit.request().query_string());
    let (admin, (paging, found)) = visit
        .read(
            &state,
            "join-links",
            Need::JOIN_LINKS,
            move |conn, admin, now| {
                let paging = asked?;
                let found = services::join_links::list(conn, admin.org_id(), paging.window(), now)?;
                Ok((paging, found))
            },
        )
        .await?;
    let chrome = visit.chrome(&admin, "join-links");
    let pages = paging.pages(found.total_count);
    let base = chrome.href("/join-links");
    let link = |page: i64| format!("{base}?limit={}&page={page}", paging.limit);
    let page = JoinLinksPage {
        rows: found.items.iter().map(LinkRow::from).collect(),
        page: paging.page,
        pages,
        range: paging.range(found.items.len(), found.total_count),
        previous_href: (paging.page > 1).then(|| link(paging.page - 1)),
        next_href: (paging.page < pages).then(|| link(paging.page + 1)),
        chrome,
    };
    super::shown(&state, &page, &page.chrome)
}

/// The new-link form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub max_uses: String,
    #[serde(default)]
    pub expires_in: String,
    /// Comma- or space-separated.
    #[serde(default)]
    pub domains: String,
    /// Everything else sent: the teams ticked (`team_{id}`).
    #[serde(flatten)]
    pub rest: std::collections::BTreeMap<String, String>,
}

impl LinkForm {
    fn check(
        &self,
        state: &AppState,
        now: crate::domain::Millis,
    ) -> Result<NewJoinLink, ServiceError> {
        let role = self.role.parse::<Role>().map_err(|_| {
            let shown: String = self.role.chars().take(64).collect();
            ServiceError::invalid(
                "role",
                format!("role must be ADMIN, MEMBER or one of the organization's role keys, got `{shown}`"),
            )
        })?;
        let max_uses = match super::number("maxUses", Some(&self.max_uses)) {
            Ok(Some(uses)) => uses,
            _ => {
                return Err(ServiceError::invalid(
                    "maxUses",
                    "say how many people may use the link: a whole number from 1 to 10000",
                ));
            }
        };
        if self.expires_in.trim().is_empty() {
            return Err(ServiceError::invalid(
                "expiresIn",
                "say how long the link lasts, for example 7d or 12h",
            ));
        }
        let expires_in = Some(self.expires_in.trim())
            .filter(|raw| !raw.is_empty())
            .map(|raw| serde_json::Value::String(raw.to_owned()));
        let domains: Vec<String> = self
            .domains
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|domain| !domain.is_empty())
            .map(str::to_owned)
            .collect();
        let mut new = NewJoinLink::parse(
            role,
            Some(max_uses),
            None,
            expires_in.as_ref(),
            &domains,
            state.settings.invitations.max_lifetime.0,
            now,
        )?;
        new.team_ids = super::teams::ticked(&self.rest)?;
        Ok(new)
    }
}

#[derive(Template)]
#[template(path = "console/join_link_new.html")]
pub struct NewLinkPage {
    pub chrome: Chrome,
    pub form: LinkForm,
    pub roles: Vec<(String, String)>,
    /// The organization's teams, to tick the ones people join.
    pub teams: Vec<super::teams::TeamChoice>,
    /// The form field an error is about and what is wrong.
    pub field_error: FieldError,
}

/// What the form offers: the organization's roles and teams.
type Offered = (Vec<(String, String)>, Vec<(i64, String)>);

/// The roles this admin may hand out, and the organization's teams.
fn offered(
    conn: &crate::db::Conn,
    admin: &services::console::ConsoleAdmin,
) -> Result<Offered, ServiceError> {
    Ok((
        admin.role_choices(conn)?,
        services::teams::choices(conn, admin.org_id())?,
    ))
}

fn new_page(chrome: Chrome, form: LinkForm, (roles, teams): Offered) -> NewLinkPage {
    NewLinkPage {
        chrome,
        teams: super::teams::choices(teams, &form.rest),
        form,
        roles,
        field_error: FieldError::default(),
    }
}

/// The page that shows a new link's URL, once (only its digest is kept).
#[derive(Template)]
#[template(path = "console/join_link_created.html")]
pub struct LinkCreatedPage {
    pub chrome: Chrome,
    pub row: LinkRow,
    pub url: String,
}

/// `GET /admin/orgs/{uuid}/join-links/new`
pub async fn new(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, roles) = visit
        .read(&state, "join-links", Need::JOIN_LINKS, |conn, admin, _| {
            offered(conn, admin)
        })
        .await?;
    let form = LinkForm {
        role: Role::Member.as_str().into(),
        max_uses: "10".into(),
        expires_in: "7d".into(),
        domains: String::new(),
        rest: std::collections::BTreeMap::new(),
    };
    let page = new_page(visit.chrome(&admin, "join-links"), form, roles);
    super::shown(&state, &page, &page.chrome)
}

/// The form field an admin API field's error is about.
fn form_field(api_field: &str) -> Option<&'static str> {
    match api_field {
        "role" => Some("role"),
        "maxUses" => Some("max_uses"),
        "expiresIn" | "expiresAt" => Some("expires_in"),
        "allowedEmailDomains" => Some("domains"),
        "teamIds" => Some("teams"),
        _ => None,
    }
}

/// `POST /admin/orgs/{uuid}/join-links`
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<LinkForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let checked = form.check(&state, visit.now());
    let created = visit
        .change(
            &state,
            "join-links",
            Need::JOIN_LINKS,
            move |tx, admin, _, now| {
                let new = checked?;
                admin.may_hand_out(tx, &new.role)?;
                services::join_links::create(tx, admin.org_id(), admin.user_id, &new, now)
            },
        )
        .await;
    match created {
        Ok((admin, (link, token))) => {
            let page = LinkCreatedPage {
                chrome: visit.chrome(&admin, "join-links"),
                row: LinkRow::from(&link),
                url: format!("{}/join/{token}", state.public_url.trim_end_matches('/')),
            };
            Ok(super::page(
                &state,
                StatusCode::CREATED,
                &page,
                &page.chrome,
                None,
            ))
        }
        Err(failure) => {
            // The form comes back with the organization's roles to choose from.
            let roles = visit
                .read(&state, "join-links", Need::JOIN_LINKS, |conn, admin, _| {
                    offered(conn, admin)
                })
                .await
                .map_or_else(
                    |_| (services::roles::built_in_choices(), Vec::new()),
                    |(_, offered)| offered,
                );
            failure.or_form(|admin, error| match error {
                ServiceError::Invalid { field, detail } => {
                    let field = form_field(field)?;
                    let mut page = new_page(visit.chrome(admin, "join-links"), form, roles);
                    page.field_error = FieldError::new(field, detail.clone());
                    Some(super::page(
                        &state,
                        StatusCode::BAD_REQUEST,
                        &page,
                        &page.chrome,
                        None,
                    ))
                }
                _ => None,
            })
        }
    }
}

/// `POST /admin/orgs/{uuid}/join-links/{id}/revoke`
pub async fn revoke(
    visit: Visit,
    link: web::Path<RowId>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let done = super::change_row(
        &visit,
        &state,
        "join-links",
        Need::JOIN_LINKS,
        ("join link", &link.id),
        |tx, admin, _, id, now| services::join_links::revoke(tx, admin.org_id(), id, now),
    )
    .await;
    super::after_change(done, "join-links", "link-revoked")
}
