//! The console's join links: the list with each link's state, making one
//! (its URL shown once) and revoking.

use super::{Chrome, ConsoleError, FieldError, ForAdmin, Paging, Visit};
use crate::domain::Role;
use crate::domain::join_link::{JoinLink, JoinLinkState};
use crate::services::join_links::NewJoinLink;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub struct LinkRow {
    pub id: i64,
    pub role: &'static str,
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
            role: link.role.label(),
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

#[derive(Debug, Default, serde::Deserialize)]
struct LinksQuery {
    limit: Option<String>,
    page: Option<String>,
}

/// `GET /admin/orgs/{uuid}/join-links`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let visit = Visit::new(&req, &state, &path);
    let asked = serde_urlencoded::from_str::<LinksQuery>(req.query_string())
        .map_err(|e| ServiceError::invalid("query", format!("the query string is malformed: {e}")))
        .and_then(|query| Paging::parse(query.limit.as_deref(), query.page.as_deref()));
    let found = state
        .db
        .read(move |conn| {
            let admin = visit.admit(conn)?;
            let paging = asked.for_admin(&admin)?;
            let found =
                services::join_links::list(conn, admin.org_id(), paging.window(), visit.now)
                    .for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, paging, found))
        })
        .await;
    let (admin, paging, found) = match found {
        Ok(found) => found,
        Err(error) => return super::failure(&req, &state, "join-links", error),
    };
    let chrome = Chrome::new(&req, &admin, "join-links");
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
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
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
                format!("role must be ADMIN or MEMBER, got `{shown}`"),
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
        NewJoinLink::parse(
            role,
            Some(max_uses),
            None,
            expires_in.as_ref(),
            &domains,
            state.settings.invitations.max_lifetime.0,
            now,
        )
    }
}

#[derive(Template)]
#[template(path = "console/join_link_new.html")]
pub struct NewLinkPage {
    pub chrome: Chrome,
    pub form: LinkForm,
    pub roles: [(&'static str, &'static str); 2],
    /// The form field an error is about and what is wrong.
    pub field_error: FieldError,
}

fn new_page(chrome: Chrome, form: LinkForm) -> NewLinkPage {
    NewLinkPage {
        chrome,
        form,
        roles: [Role::Member, Role::Admin].map(|role| (role.as_str(), role.label())),
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
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let admin = match super::admit(&req, &state, &path).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let form = LinkForm {
        role: Role::Member.as_str().into(),
        max_uses: "10".into(),
        expires_in: "7d".into(),
        domains: String::new(),
    };
    let page = new_page(Chrome::new(&req, &admin, "join-links"), form);
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}

/// The form field an admin API field's error is about.
fn form_field(api_field: &str) -> Option<&'static str> {
    match api_field {
        "role" => Some("role"),
        "maxUses" => Some("max_uses"),
        "expiresIn" | "expiresAt" => Some("expires_in"),
        "allowedEmailDomains" => Some("domains"),
        _ => None,
    }
}

/// `POST /admin/orgs/{uuid}/join-links`
pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form: LinkForm = match super::read_form(&req, &state, &body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let visit = Visit::new(&req, &state, &path);
    let checked = form.check(&state, visit.now);
    let created = state
        .db
        .write(move |tx| {
            let admin = visit.admit_change(tx)?;
            let new = checked.for_admin(&admin)?;
            let made =
                services::join_links::create(tx, admin.org_id(), admin.user_id, &new, visit.now)
                    .for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, made))
        })
        .await;
    match created {
        Ok((admin, (link, token))) => {
            let page = LinkCreatedPage {
                chrome: Chrome::new(&req, &admin, "join-links"),
                row: LinkRow::from(&link),
                url: format!("{}/join/{token}", state.public_url.trim_end_matches('/')),
            };
            super::page(&state, StatusCode::CREATED, &page, &page.chrome, None)
        }
        Err(ConsoleError::Refused(admin, ServiceError::Invalid { field, detail }))
            if form_field(field).is_some() =>
        {
            let mut page = new_page(Chrome::new(&req, &admin, "join-links"), form);
            if let Some(field) = form_field(field) {
                page.field_error = FieldError::new(field, detail);
            }
            super::page(&state, StatusCode::BAD_REQUEST, &page, &page.chrome, None)
        }
        Err(error) => super::failure(&req, &state, "join-links", error),
    }
}

/// `POST /admin/orgs/{uuid}/join-links/{id}/revoke`
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = super::read_form::<serde::de::IgnoredAny>(&req, &state, &body).await {
        return page;
    }
    let done = super::change_row(
        &req,
        &state,
        path.into_inner(),
        "join link",
        |tx, admin, _, id, now| services::join_links::revoke(tx, admin.org_id(), id, now),
    )
    .await;
    super::after_change(
        &req,
        &state,
        done.map(|(admin, _)| admin),
        "join-links",
        "link-revoked",
    )
}
