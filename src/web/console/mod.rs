//! The admin console: server-rendered pages under `/admin` for an
//! organization's administrators. People sign in with the hosted pages'
//! accounts, sessions, throttling and CSRF protection. Every action calls
//! the services the admin API calls, with the signed-in admin as the actor,
//! so rules, limits and audit events are the same. Every request checks,
//! inside its own storage call, that its person still administers the
//! organization in its URL (`/admin/orgs/{uuid}/…`).

pub mod activity;
pub mod domains;
pub mod front;
pub mod invitations;
pub mod join_links;
pub mod keys;
pub mod members;
pub mod operator;
pub mod overview;
pub mod roles;
pub mod settings;
pub mod step_up;
pub mod teams;
pub mod webhooks;

use crate::domain::Millis;
use crate::domain::event::Origin;
use crate::domain::second_factor::AdminMfa;
use crate::services::console::{self as gate, ConsoleAdmin, Denial, Need};
use crate::services::{Conn, ServiceError, StorageError};
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::render::Link;
use crate::web::render::MessagePage;
use crate::web::render::Scripts;
use crate::web::sign_in;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use std::time::Duration;
use uuid::Uuid;

/// The console's routes: its front door, then one organization's pages
/// under `/admin/orgs/{uuid}`, and its own "not found" for the rest of `/admin`.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    use crate::http::routes::{self, Endpoint};
    routes::register(
        cfg,
        [
            Endpoint::at("/admin").get(front::show).post(front::sign_in),
            Endpoint::at("/admin/sign-out").post(front::sign_out),
            Endpoint::at("/admin/second-factor").post(front::second_factor),
            Endpoint::at("/admin/organizations").post(front::create_organization),
            Endpoint::at("/admin/operator")
                .get(operator::show)
                .post(operator::create),
            Endpoint::at("/admin/operator/{id}/delete").post(operator::delete),
            Endpoint::at("/admin/orgs/{org}").get(overview::show),
            Endpoint::at("/admin/orgs/{org}/invitations")
                .get(invitations::list)
                .post(invitations::create),
            Endpoint::at("/admin/orgs/{org}/invitations/new").get(invitations::new),
            Endpoint::at("/admin/orgs/{org}/invitations/{id}/revoke").post(invitations::revoke),
            Endpoint::at("/admin/orgs/{org}/invitations/{id}/resend").post(invitations::resend),
            Endpoint::at("/admin/orgs/{org}/members").get(members::list),
            Endpoint::at("/admin/orgs/{org}/members/{user}/remove").post(members::remove),
            Endpoint::at("/admin/orgs/{org}/members/{user}/role").post(members::set_role),
            Endpoint::at("/admin/orgs/{org}/api-keys")
                .get(keys::list)
                .post(keys::create),
            Endpoint::at("/admin/orgs/{org}/api-keys/new").get(keys::new),
            Endpoint::at("/admin/orgs/{org}/api-keys/{id}/revoke").post(keys::revoke),
            Endpoint::at("/admin/orgs/{org}/join-links")
                .get(join_links::list)
                .post(join_links::create),
            Endpoint::at("/admin/orgs/{org}/join-links/new").get(join_links::new),
            Endpoint::at("/admin/orgs/{org}/join-links/{id}/revoke").post(join_links::revoke),
            Endpoint::at("/admin/orgs/{org}/roles")
                .get(roles::list)
                .post(roles::create),
            Endpoint::at("/admin/orgs/{org}/roles/{key}")
                .get(roles::edit)
                .post(roles::update),
            Endpoint::at("/admin/orgs/{org}/roles/{key}/delete").post(roles::delete),
            Endpoint::at("/admin/orgs/{org}/teams")
                .get(teams::list)
                .post(teams::create),
            Endpoint::at("/admin/orgs/{org}/teams/{id}")
                .get(teams::show)
                .post(teams::update),
            Endpoint::at("/admin/orgs/{org}/teams/{id}/delete").post(teams::delete),
            Endpoint::at("/admin/orgs/{org}/teams/{id}/members").post(teams::add_member),
            Endpoint::at("/admin/orgs/{org}/teams/{id}/members/{user}/remove")
                .post(teams::remove_member),
            Endpoint::at("/admin/orgs/{org}/domains")
                .get(domains::list)
                .post(domains::create),
            Endpoint::at("/admin/orgs/{org}/domains/{id}/verify").post(domains::verify),
            Endpoint::at("/admin/orgs/{org}/domains/{id}/delete").post(domains::delete),
            Endpoint::at("/admin/orgs/{org}/webhooks")
                .get(webhooks::list)
                .post(webhooks::create),
            Endpoint::at("/admin/orgs/{org}/webhooks/new").get(webhooks::new),
            Endpoint::at("/admin/orgs/{org}/webhooks/{id}/{action}").post(webhooks::act),
            Endpoint::at("/admin/orgs/{org}/activity").get(activity::show),
            Endpoint::at("/admin/orgs/{org}/settings")
                .get(settings::show)
                .post(settings::update),
            Endpoint::at("/admin/orgs/{org}/settings/delete").post(settings::delete),
        ],
    );
    cfg.service(actix_web::web::resource("/admin/{rest:.*}").to(not_found));
}

/// What admits a console request, inside its storage call: the session
/// token, the organization named in the URL, the time and the request id.
/// `Send`, so it can go into the storage call; not `Debug`: it holds the
/// session token.
struct Admission {
    token: Option<String>,
    org: Option<Uuid>,
    /// `auth.admin_mfa`.
    policy: AdminMfa,
    now: Millis,
    request_id: Option<String>,
}

impl Admission {
    /// The admin, if the session's person manages the URL's organization
    /// now and may use what needs `need` (a 403 refusal inside the console
    /// otherwise). Runs inside the storage call of the request's read or
    /// change, so there is no gap between the check and the use.
    fn admit(&self, conn: &Conn, need: Need) -> Result<ConsoleAdmin, ConsoleError> {
        admitted(
            gate::authorize(conn, self.token.as_deref(), self.org, self.policy, self.now),
            need,
        )
    }

    /// [`Admission::admit`] inside the write transaction of a change,
    /// taking its turn with the organization's membership changes first.
    fn admit_change(&self, tx: &Conn, need: Need) -> Result<ConsoleAdmin, ConsoleError> {
        admitted(
            gate::authorize_change(tx, self.token.as_deref(), self.org, self.policy, self.now),
            need,
        )
    }

    /// The admin as the actor of a change.
    fn origin(&self, admin: &ConsoleAdmin) -> Origin {
        admin.origin(self.request_id.clone())
    }
}

fn admitted(
    answer: Result<Result<ConsoleAdmin, Denial>, ServiceError>,
    need: Need,
) -> Result<ConsoleAdmin, ConsoleError> {
    match answer {
        Ok(Ok(admin)) => {
            admin.require(need).for_admin(&admin)?;
            Ok(admin)
        }
        Ok(Err(denial)) => Err(ConsoleError::Denied(denial)),
        Err(error) => Err(ConsoleError::Failed(error)),
    }
}

/// One request to an organization's console (`/admin/orgs/{org}/…`), as
/// its handler receives it. Extracting it checks nothing: the person is
/// admitted inside the storage call that reads or changes what they asked
/// for ([`Visit::read`], [`Visit::change`]), so there is no gap between
/// the check and the use.
pub struct Visit {
    token: Option<String>,
    org: Option<Uuid>,
    policy: AdminMfa,
    request_id: Option<String>,
    clock: crate::domain::Clock,
    /// Read from the clock when first asked (once the form has arrived and
    /// any password was checked), then the same for the whole request.
    now: std::cell::OnceCell<Millis>,
    /// For the pages: the CSRF token their forms carry, the notice asked
    /// for, and whether a refused request asked for a change.
    req: HttpRequest,
    /// Whether cookies are Secure (the server is reached over https).
    secure: bool,
}

impl actix_web::FromRequest for Visit {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(crate::web::app_state(req).map_err(Into::into).map(|state| {
            Visit {
                token: sign_in::session_token(req, &state),
                // Not a UUID: no organization.
                org: req
                    .match_info()
                    .get("org")
                    .and_then(|org| Uuid::parse_str(org).ok()),
                policy: state.settings.auth.admin_mfa,
                request_id: crate::http::request_log::request_id(req),
                clock: state.clock.clone(),
                now: std::cell::OnceCell::new(),
                req: req.clone(),
                secure: crate::web::render::secure(&state),
            }
        }))
    }
}

impl Visit {
    /// The time this request is served at.
    pub fn now(&self) -> Millis {
        *self.now.get_or_init(|| self.clock.now())
    }

    /// What admits this request, for its storage call.
    fn admission(&self) -> Admission {
        Admission {
            token: self.token.clone(),
            org: self.org,
            policy: self.policy,
            now: self.now(),
            request_id: self.request_id.clone(),
        }
    }

    pub fn request(&self) -> &HttpRequest {
        &self.req
    }

    /// `admin` as the actor of a change this request makes outside
    /// [`Visit::change`] (a domain's verify, whose DNS lookup must not run
    /// inside a transaction).
    pub fn origin(&self, admin: &ConsoleAdmin) -> crate::domain::event::Origin {
        admin.origin(self.request_id.clone())
    }

    /// The layout around a page of `section` for `admin`.
    pub fn chrome(&self, admin: &ConsoleAdmin, section: &'static str) -> Chrome {
        Chrome::new(&self.req, admin, section)
    }

    /// The page for this request's `error`, from `section`.
    pub fn failure(&self, section: &'static str, error: ConsoleError) -> ConsolePageError {
        ConsolePageError::new(&self.req, self.secure, section, error)
    }

    /// The page for `admin`'s request refused with `error`, from `section`.
    pub fn refused(
        &self,
        section: &'static str,
        admin: ConsoleAdmin,
        error: ServiceError,
    ) -> ConsolePageError {
        self.failure(section, ConsoleError::Refused(Box::new(admin), error))
    }

    /// The admin, for a page that reads nothing else (the new-item forms),
    /// if they may use what needs `need`.
    pub async fn admitted(
        &self,
        state: &AppState,
        need: Need,
    ) -> Result<ConsoleAdmin, ConsolePageError> {
        let admission = self.admission();
        state
            .db
            .read(move |conn| admission.admit(conn, need))
            .await
            .map_err(|error| self.failure("", error))
    }

    /// Reads for the admin: in one storage call the person is admitted
    /// (if they may use what needs `need`), then `work` runs with the
    /// admin and the time. What `work` refuses is refused to the admin
    /// (its page shows the console, in `section`).
    pub async fn read<T: Send + 'static>(
        &self,
        state: &AppState,
        section: &'static str,
        need: Need,
        work: impl FnOnce(&Conn, &ConsoleAdmin, Millis) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<(ConsoleAdmin, T), ConsolePageError> {
        let admission = self.admission();
        state
            .db
            .read(move |conn| {
                let admin = admission.admit(conn, need)?;
                let found = work(conn, &admin, admission.now).for_admin(&admin)?;
                Ok((admin, found))
            })
            .await
            .map_err(|error| self.failure(section, error))
    }

    /// Changes for the admin: in one write transaction the person is
    /// admitted (if they may use what needs `need`), then `work` runs with
    /// the admin as the actor. A refusal rolls the change back; its page
    /// shows the console, in `section`.
    pub async fn change<T: Send + 'static>(
        &self,
        state: &AppState,
        section: &'static str,
        need: Need,
        work: impl FnOnce(&Conn, &ConsoleAdmin, &Origin, Millis) -> Result<T, ServiceError>
        + Send
        + 'static,
    ) -> Result<(ConsoleAdmin, T), ConsolePageError> {
        let admission = self.admission();
        state
            .db
            .write(move |tx| {
                let admin = admission.admit_change(tx, need)?;
                let origin = admission.origin(&admin);
                let done = work(tx, &admin, &origin, admission.now).for_admin(&admin)?;
                Ok((admin, done))
            })
            .await
            .map_err(|error| self.failure(section, error))
    }
}

/// The answer to a change: back to the section's list (`section` is its
/// path segment) with `notice`, or the page saying why not.
pub fn after_change<T>(
    done: Result<(ConsoleAdmin, T), ConsolePageError>,
    section: &'static str,
    notice: &str,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, _) = done?;
    Ok(crate::web::render::see_other(&format!(
        "/admin/orgs/{}/{section}?notice={notice}",
        admin.organization.uuid
    )))
}

/// Changes one row of the organization, named by the id in the URL
/// (`id`): in one write transaction the admin is admitted (for `need`), the id read
/// (not a number: no such `what`) and `change` run with the admin as the
/// actor. A refusal's page shows the console, in `section`.
pub async fn change_row<T: Send + 'static>(
    visit: &Visit,
    state: &AppState,
    section: &'static str,
    need: Need,
    (what, id): (&'static str, &str),
    change: impl FnOnce(&Conn, &ConsoleAdmin, &Origin, i64, Millis) -> Result<T, ServiceError>
    + Send
    + 'static,
) -> Result<(ConsoleAdmin, T), ConsolePageError> {
    let id = path_id(id).ok_or(ServiceError::NotFound(what));
    visit
        .change(state, section, need, move |tx, admin, origin, now| {
            change(tx, admin, origin, id?, now)
        })
        .await
}

/// Why a console request did not get its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// The person may not see this organization's console.
    Denied(Denial),
    /// What the admin asked was refused (or failed), with who asked.
    Refused(Box<ConsoleAdmin>, ServiceError),
    /// Failed before it was known who asked.
    Failed(ServiceError),
}

impl From<StorageError> for ConsoleError {
    fn from(error: StorageError) -> Self {
        ConsoleError::Failed(error.into())
    }
}

/// A service's answer, its refusal tied to the admin who asked (so the
/// refusal page can show the console around it).
pub trait ForAdmin<T> {
    fn for_admin(self, admin: &ConsoleAdmin) -> Result<T, ConsoleError>;
}

impl<T> ForAdmin<T> for Result<T, ServiceError> {
    fn for_admin(self, admin: &ConsoleAdmin) -> Result<T, ConsoleError> {
        self.map_err(|error| ConsoleError::Refused(Box::new(admin.clone()), error))
    }
}

/// A fixed message shown above a page after an action (post/redirect/get
/// carries its code in `?notice=`; nothing typed is ever echoed from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub text: &'static str,
    pub warning: bool,
}

const NOTICES: &[(&str, &str, bool)] = &[
    ("invited", "Invitation sent.", false),
    ("revoked", "Invitation revoked.", false),
    ("resent", "Invitation sent again.", false),
    (
        "resend-too-soon",
        "An invitation can be resent once a minute. Wait a moment and try again.",
        true,
    ),
    ("removed", "Member removed from the organization.", false),
    ("role-changed", "Role changed.", false),
    (
        "last-admin",
        "That member is the organization's last admin. Make someone else an admin first.",
        true,
    ),
    ("key-revoked", "API key revoked. It no longer works.", false),
    (
        "link-revoked",
        "Join link revoked. Nobody else can join through it.",
        false,
    ),
    ("role-created", "Role made.", false),
    ("role-updated", "Role changed.", false),
    ("role-deleted", "Role deleted.", false),
    ("team-created", "Team made.", false),
    ("team-updated", "Team changed.", false),
    ("org-updated", "Organization settings saved.", false),
    (
        "org-name-invalid",
        "An organization's name is 1 to 200 characters, without line breaks.",
        true,
    ),
    (
        "org-limit",
        "You administer as many organizations as you may create (organizations.per_user_limit).",
        true,
    ),
    (
        "self-serve-off",
        "Creating organizations yourself is turned off on this server.",
        true,
    ),
    (
        "team-deleted",
        "Team deleted. Its members stay in the organization.",
        false,
    ),
    ("team-member-added", "Member put in the team.", false),
    (
        "team-member-removed",
        "Member taken out of the team. They stay in the organization.",
        false,
    ),
    ("webhook-enabled", "Webhook turned on.", false),
    (
        "webhook-disabled",
        "Webhook turned off. Events are no longer sent to it.",
        false,
    ),
    (
        "webhook-test",
        "Test event queued. The admin API lists each endpoint's deliveries.",
        false,
    ),
    ("webhook-deleted", "Webhook deleted.", false),
    ("signed-out", "You are signed out.", false),
    (
        "session-ended",
        "Your session has ended. Sign in again to continue.",
        true,
    ),
    (
        "not-admin",
        "You are no longer an administrator of that organization.",
        true,
    ),
];

impl Notice {
    pub fn from_code(code: &str) -> Option<Notice> {
        NOTICES
            .iter()
            .find(|(known, _, _)| *known == code)
            .map(|(_, text, warning)| Notice {
                text,
                warning: *warning,
            })
    }

    /// The notice a redirect asked for in the query string.
    pub fn requested(req: &HttpRequest) -> Option<Notice> {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(name, _)| name == "notice")
            .and_then(|(_, code)| Notice::from_code(&code))
    }

    pub const FORM_EXPIRED: Notice = Notice {
        text: "That form had expired, so nothing was changed. Reload the page and try again.",
        warning: true,
    };
}

/// What the console's layout shows around every page: the organization,
/// its sections, who is signed in, and the notice of the last action.
#[derive(Clone)]
pub struct Chrome {
    pub org_uuid: String,
    pub org_name: String,
    pub org_logo: Option<String>,
    pub email: String,
    pub csrf_token: String,
    /// `overview`, `invitations`, `members`, `join-links`, `roles`, `teams`,
    /// `api-keys`, `webhooks`, `activity` or `settings`.
    pub section: &'static str,
    pub notice: Option<Notice>,
    /// The sections the admin may use (the nav shows only these).
    pub sections: Vec<&'static str>,
}

/// Each section of the console by its path segment, and what it needs.
/// The nav shows a link only to whom may use it; the section's handlers
/// state the same need when they admit.
pub const SECTIONS: [(&str, Need); 11] = [
    ("overview", Need::OVERVIEW),
    ("invitations", Need::INVITATIONS),
    ("members", Need::MEMBERS),
    ("join-links", Need::JOIN_LINKS),
    ("roles", Need::ROLES),
    ("teams", Need::TEAMS),
    ("domains", Need::DOMAINS),
    ("api-keys", Need::API_KEYS),
    ("webhooks", Need::WEBHOOKS),
    ("activity", Need::ACTIVITY),
    ("settings", Need::SETTINGS),
];

impl Chrome {
    pub fn new(req: &HttpRequest, admin: &ConsoleAdmin, section: &'static str) -> Self {
        Self {
            org_uuid: admin.organization.uuid.to_string(),
            org_name: admin.organization.name.clone(),
            org_logo: admin.organization.logo_url.clone(),
            email: admin.email.clone(),
            csrf_token: crate::web::csrf::csrf_token(req),
            section,
            notice: Notice::requested(req),
            sections: SECTIONS
                .iter()
                .filter(|(_, need)| admin.may(*need))
                .map(|(section, _)| *section)
                .collect(),
        }
    }

    /// Whether the admin may use `section` (the nav and pages link to it).
    pub fn shows(&self, section: &str) -> bool {
        self.sections.contains(&section)
    }

    /// This organization's console path for `rest` (`""` is the overview).
    pub fn href(&self, rest: &str) -> String {
        format!("/admin/orgs/{}{rest}", self.org_uuid)
    }
}

/// Renders a console page: the security headers, the CSRF cookie its
/// forms pair with, and the console's one script.
pub fn page(
    state: &AppState,
    status: StatusCode,
    template: &impl Template,
    chrome: &Chrome,
    retry_after: Option<Duration>,
) -> HttpResponse {
    page_with(
        state,
        status,
        template,
        chrome,
        retry_after,
        Scripts::OwnFiles,
    )
}

/// [`page`] for a page that may run `scripts` (a step-up form offering a
/// passkey).
pub fn page_with(
    state: &AppState,
    status: StatusCode,
    template: &impl Template,
    chrome: &Chrome,
    retry_after: Option<Duration>,
    scripts: Scripts,
) -> HttpResponse {
    crate::web::csrf::form_page_with(
        status,
        template,
        &[],
        &chrome.csrf_token,
        crate::web::render::secure(state),
        retry_after,
        scripts,
    )
}

/// A console page answered `200 OK`, as a handler returns it.
pub fn shown(
    state: &AppState,
    template: &impl Template,
    chrome: &Chrome,
) -> Result<HttpResponse, ConsolePageError> {
    Ok(page(state, StatusCode::OK, template, chrome, None))
}

/// The console's page for a refusal: the layout around a heading and the
/// reason, naming the field when one was wrong.
#[derive(Template)]
#[template(path = "console/problem.html")]
pub struct ProblemPage {
    pub chrome: Chrome,
    pub heading: String,
    pub message: String,
    /// The field as the admin API names it (`data-field`), for the label.
    pub field: Option<&'static str>,
    pub back_href: String,
    /// Whether the request asked for a change (which was not made).
    pub was_change: bool,
}

/// What a page calls the input a service error names (the admin API's
/// field names, as services report them).
pub fn field_label(field: &str) -> &'static str {
    match field {
        "status" => "Status filter",
        "includeExpired" => "Include expired filter",
        "limit" => "page size",
        "page" => "page number",
        "type" => "event type",
        "after" => "Older link",
        "role" => "role",
        "query" => "address (its query string)",
        _ => "input",
    }
}

/// A console request that did not get its own page, and the page it
/// gets instead, as the console's handlers return it (`?`). A refusal of
/// what an admin asked is shown inside the console, so it carries the
/// console around it, read from the request when it was refused. Denials
/// and failures answer as [`denied`] and [`failed`] say.
pub struct ConsolePageError {
    error: ConsoleError,
    /// For a refusal: what its page shows around it.
    around: Option<Box<Around>>,
}

/// The console around a refusal's page.
struct Around {
    chrome: Chrome,
    /// Whether the request asked for a change (which was not made).
    was_change: bool,
    /// Whether the page's CSRF cookie is Secure.
    secure: bool,
}

impl ConsolePageError {
    /// `section` is the one the request came from (its page is where the
    /// refusal's "Go back" leads).
    pub fn new(
        req: &HttpRequest,
        secure: bool,
        section: &'static str,
        error: ConsoleError,
    ) -> Self {
        let around = match &error {
            ConsoleError::Refused(admin, _) => Some(Box::new(Around {
                chrome: Chrome::new(req, admin, section),
                was_change: req.method() == actix_web::http::Method::POST,
                secure,
            })),
            ConsoleError::Denied(_) | ConsoleError::Failed(_) => None,
        };
        Self { error, around }
    }

    /// The admin and what was refused them, if that is what this is.
    pub fn refusal(&self) -> Option<(&ConsoleAdmin, &ServiceError)> {
        match &self.error {
            ConsoleError::Refused(admin, error) => Some((admin, error)),
            ConsoleError::Denied(_) | ConsoleError::Failed(_) => None,
        }
    }

    /// The form again, when `again` answers this refusal with it (saying
    /// what is wrong); this page otherwise.
    pub fn or_form(
        self,
        again: impl FnOnce(&ConsoleAdmin, &ServiceError) -> Option<HttpResponse>,
    ) -> Result<HttpResponse, Self> {
        match self
            .refusal()
            .and_then(|(admin, error)| again(admin, error))
        {
            Some(form) => Ok(form),
            None => Err(self),
        }
    }

    /// The admin, when they were refused for a reason their list says in
    /// a notice (`expected`) rather than on a page of its own; this page
    /// otherwise.
    pub fn unless_refused_for(
        self,
        expected: impl Fn(&ServiceError) -> bool,
    ) -> Result<ConsoleAdmin, Self> {
        match self.error {
            ConsoleError::Refused(admin, error) if expected(&error) => Ok(*admin),
            error => Err(Self { error, ..self }),
        }
    }
}

impl std::fmt::Debug for ConsolePageError {
    // Not the chrome: it holds the page's CSRF token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsolePageError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for ConsolePageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            ConsoleError::Denied(denial) => write!(f, "not admitted to the console: {denial:?}"),
            ConsoleError::Refused(_, error) | ConsoleError::Failed(error) => {
                std::fmt::Display::fmt(error, f)
            }
        }
    }
}

impl actix_web::ResponseError for ConsolePageError {
    fn status_code(&self) -> StatusCode {
        match (&self.error, &self.around) {
            (ConsoleError::Denied(denial), _) => denied_status(denial),
            (ConsoleError::Refused(_, error), Some(_)) => match Refusal::of(error) {
                Some(refusal) => refusal.status,
                None => PageError::failed_status(error),
            },
            (ConsoleError::Refused(_, error) | ConsoleError::Failed(error), _) => {
                PageError::failed_status(error)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        match (&self.error, &self.around) {
            (ConsoleError::Denied(denial), _) => denied(denial),
            (ConsoleError::Refused(admin, error), Some(around)) => refused(admin, around, error),
            (ConsoleError::Refused(_, error) | ConsoleError::Failed(error), _) => failed(error),
        }
    }
}

/// A person the console does not admit here: signed out (or their session
/// ended) and former admins go to the front door with a message; someone
/// who administers other organizations hears that this one is not found.
pub fn denied(denial: &Denial) -> HttpResponse {
    match denial {
        Denial::NotSignedIn | Denial::Unverified => crate::web::render::see_other("/admin"),
        Denial::SessionEnded => crate::web::render::see_other("/admin?notice=session-ended"),
        Denial::NotAdminHere {
            administers_any: true,
        } => {
            let mut page = MessagePage::new(
                "Organization not found",
                "It does not exist, or you are not one of its administrators.",
            );
            page.link = Some(Link {
                href: "/admin".into(),
                label: "Your organizations".into(),
            });
            crate::web::render::render(StatusCode::NOT_FOUND, &page, &[])
        }
        Denial::NotAdminHere {
            administers_any: false,
        } => crate::web::render::see_other("/admin?notice=not-admin"),
        // The front door asks for the factor (or to enrol one).
        Denial::SecondFactor { .. } => crate::web::render::see_other("/admin"),
    }
}

fn denied_status(denial: &Denial) -> StatusCode {
    match denial {
        Denial::NotAdminHere {
            administers_any: true,
        } => StatusCode::NOT_FOUND,
        _ => StatusCode::SEE_OTHER,
    }
}

/// A failure on our side (or of storage), as an HTML error page.
pub fn failed(error: &ServiceError) -> HttpResponse {
    PageError::failed(error).response()
}

/// How the console shows a refusal: its status, heading, the field it is
/// about and how long to wait. `None`: not a refusal but a failure.
struct Refusal {
    status: StatusCode,
    heading: String,
    field: Option<&'static str>,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn of(error: &ServiceError) -> Option<Self> {
        let refusal = |status, heading: String| Refusal {
            status,
            heading,
            field: None,
            retry_after: None,
        };
        Some(match error {
            ServiceError::Invalid { field, .. } => Refusal {
                field: Some(*field),
                ..refusal(
                    StatusCode::BAD_REQUEST,
                    format!("Check the {}", field_label(field)),
                )
            },
            ServiceError::NotFound(what) => refusal(
                StatusCode::NOT_FOUND,
                format!("{} not found", capitalized(what)),
            ),
            ServiceError::Conflict { .. } => refusal(StatusCode::CONFLICT, "Not done".into()),
            ServiceError::Gone { .. } => refusal(StatusCode::GONE, "No longer possible".into()),
            ServiceError::Forbidden { .. } | ServiceError::Unauthorized(_) => {
                refusal(StatusCode::FORBIDDEN, "Not allowed".into())
            }
            ServiceError::TooSoon {
                retry_after_secs, ..
            } => Refusal {
                retry_after: Some(Duration::from_secs(*retry_after_secs)),
                ..refusal(StatusCode::TOO_MANY_REQUESTS, "Not yet".into())
            },
            _ => return None,
        })
    }
}

/// The refusal page for `error`, inside the console; "Go back" leads to
/// the page of the section the request came from.
fn refused(admin: &ConsoleAdmin, around: &Around, error: &ServiceError) -> HttpResponse {
    let Some(refusal) = Refusal::of(error) else {
        return failed(error);
    };
    let message = match error {
        ServiceError::NotFound(what) => {
            format!("There is no such {what} in {}.", admin.organization.name)
        }
        other => other.to_string(),
    };
    let chrome = around.chrome.clone();
    // A section refused whole leads back to the overview.
    let section = if chrome.shows(chrome.section) {
        chrome.section
    } else {
        ""
    };
    let back_href = chrome.href(match section {
        "" | "overview" => "",
        "invitations" => "/invitations",
        "members" => "/members",
        "api-keys" => "/api-keys",
        "join-links" => "/join-links",
        "roles" => "/roles",
        "teams" => "/teams",
        "webhooks" => "/webhooks",
        _ => "/activity",
    });
    let problem = ProblemPage {
        chrome,
        heading: refusal.heading,
        message,
        field: refusal.field,
        back_href,
        was_change: around.was_change,
    };
    crate::web::csrf::form_page_with(
        refusal.status,
        &problem,
        &[],
        &problem.chrome.csrf_token,
        around.secure,
        refusal.retry_after,
        Scripts::OwnFiles,
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A posted console form (the front door's too) as its handler receives
/// it: read, within the same size limit and deadline as any other body,
/// only when it is genuine. A forged or stale one lands on the front door
/// saying so (403); an unreadable one gets the "could not be read" page;
/// either way the handler never runs and nothing changes.
pub struct ConsoleForm<T>(pub T);

/// A row's button: a posted form with nothing but its CSRF token.
pub type ButtonForm = ConsoleForm<serde::de::IgnoredAny>;

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for ConsoleForm<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let form = crate::web::csrf::read_posted_form(req, payload, front::refuse);
        Box::pin(async move { form.await.map(ConsoleForm) })
    }
}

/// Any other path under `/admin`: the console's own "not found" page.
pub async fn not_found() -> HttpResponse {
    let mut page = MessagePage::new(
        "Page not found",
        "There is no such page in the admin console.",
    );
    page.link = Some(Link {
        href: "/admin".into(),
        label: "Your organizations".into(),
    });
    crate::web::render::render(StatusCode::NOT_FOUND, &page, &[])
}

/// The one field a refused form is sent back about, and what is wrong
/// with it; templates ask `field_error.on("email")` beside each field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldError(Option<(&'static str, String)>);

impl FieldError {
    pub fn new(field: &'static str, detail: impl Into<String>) -> Self {
        Self(Some((field, detail.into())))
    }

    /// What is wrong with `field`, if it is the wrong one.
    pub fn on(&self, field: &str) -> Option<&str> {
        match &self.0 {
            Some((wrong, detail)) if *wrong == field => Some(detail),
            _ => None,
        }
    }
}

/// A row's `{id}` in the URL, as typed ([`change_row`] reads it).
#[derive(Debug, serde::Deserialize)]
pub struct RowId {
    pub id: String,
}

/// A number from a URL path (`/members/{id}`): positive, or nothing.
pub fn path_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// One number from a form or query string, with its field named when it
/// is not one.
pub fn number(field: &'static str, raw: Option<&str>) -> Result<Option<i64>, ServiceError> {
    match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
            let shown: String = raw.chars().take(64).collect();
            ServiceError::invalid(
                field,
                format!("{field} must be a whole number, got `{shown}`"),
            )
        }),
    }
}

/// One page of a console list: 1-based `page` of `limit` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub limit: i64,
}

/// Page sizes the lists offer.
pub const PAGE_SIZES: [i64; 4] = [10, 25, 50, 100];
pub const DEFAULT_PAGE_SIZE: i64 = 25;

impl Paging {
    /// The page a list's query string asks for (`limit`, `page`).
    pub fn from_query(raw: &str) -> Result<Self, ServiceError> {
        #[derive(serde::Deserialize)]
        struct Asked {
            limit: Option<String>,
            page: Option<String>,
        }
        let asked: Asked = serde_urlencoded::from_str(raw).map_err(|e| {
            ServiceError::invalid("query", format!("the query string is malformed: {e}"))
        })?;
        Self::parse(asked.limit.as_deref(), asked.page.as_deref())
    }

    pub fn parse(limit: Option<&str>, page: Option<&str>) -> Result<Self, ServiceError> {
        let limit = number("limit", limit)?.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=crate::domain::page::MAX_LIMIT).contains(&limit) {
            return Err(ServiceError::invalid(
                "limit",
                format!(
                    "limit must be between 1 and {}, got {limit}",
                    crate::domain::page::MAX_LIMIT
                ),
            ));
        }
        let page = number("page", page)?.unwrap_or(1);
        if !(1..=1_000_000).contains(&page) {
            return Err(ServiceError::invalid(
                "page",
                format!("page must be between 1 and 1000000, got {page}"),
            ));
        }
        Ok(Self { page, limit })
    }

    pub fn window(self) -> crate::domain::Page {
        crate::domain::Page {
            limit: self.limit,
            offset: (self.page - 1) * self.limit,
        }
    }

    /// How many pages `total` rows fill (at least one, empty).
    pub fn pages(self, total: i64) -> i64 {
        ((total + self.limit - 1) / self.limit).max(1)
    }

    /// "11–20 of 42" for this page of `shown` rows.
    pub fn range(self, shown: usize, total: i64) -> String {
        if shown == 0 {
            return format!("0 of {total}");
        }
        let first = self.window().offset + 1;
        format!("{first}–{} of {total}", first + shown as i64 - 1)
    }
}
