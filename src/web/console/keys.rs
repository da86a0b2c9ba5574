//! The console's API keys: the list with each key's state, creating one
//! with chosen scopes (its secret shown once), and revoking.

use super::{Chrome, ConsoleError, FieldError, ForAdmin, Visit};
use crate::domain::{ApiKey, KeyRevocation, Scope};
use crate::domain::{OrgId, UserId};
use crate::services::accounts::StepUp;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created_human: String,
    pub owner: String,
    pub active: bool,
    pub state: &'static str,
}

fn state_label(key: &ApiKey) -> &'static str {
    match key.revoked_reason {
        None if key.revoked_at.is_none() => "Active",
        Some(KeyRevocation::OwnerRemoved) => "Revoked: its owner left the organization",
        Some(KeyRevocation::OwnerDemoted) => "Revoked: its owner is no longer an admin",
        Some(KeyRevocation::PasswordReset) => "Revoked: its owner's password was reset",
        Some(KeyRevocation::AccountClaimed) => {
            "Revoked: the owner of its address took the account back"
        }
        _ => "Revoked",
    }
}

impl KeyRow {
    fn new(key: &ApiKey, you: i64) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            scopes: Scope::join(&key.scopes),
            created_human: key.created_at.to_human(),
            owner: if key.user_id == you {
                "you".into()
            } else {
                format!("user #{}", key.user_id)
            },
            active: key.revoked_at.is_none(),
            state: state_label(key),
        }
    }
}

#[derive(Template)]
#[template(path = "console/keys.html")]
pub struct KeysPage {
    pub chrome: Chrome,
    pub rows: Vec<KeyRow>,
}

/// `GET /admin/orgs/{uuid}/api-keys`
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let visit = Visit::new(&req, &state, &path);
    let found = state
        .db
        .read(move |conn| {
            let admin = visit.admit(conn)?;
            let keys = services::api_keys::list(conn, admin.org_id()).for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, keys))
        })
        .await;
    let (admin, keys) = match found {
        Ok(found) => found,
        Err(error) => return super::error_response(&req, &state, error),
    };
    let chrome = Chrome::new(&req, &admin, "api-keys");
    let page = KeysPage {
        rows: keys
            .iter()
            .rev()
            .map(|key| KeyRow::new(key, admin.user_id))
            .collect(),
        chrome,
    };
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}

/// One scope's checkbox.
pub struct ScopeChoice {
    pub name: &'static str,
    pub checked: bool,
}

/// The new-key form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyForm {
    pub name: String,
    pub scopes: Vec<String>,
    /// The admin's password, asked again unless typed in the last minutes.
    pub password: Option<String>,
}

impl KeyForm {
    /// The fields of a posted form (`scope` repeats, one per box ticked).
    fn from_body(body: &[u8]) -> Self {
        let mut form = KeyForm::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "name" => form.name = value.into_owned(),
                "scope" => form.scopes.push(value.into_owned()),
                "password" => form.password = Some(value.into_owned()),
                _ => {}
            }
        }
        form
    }

    fn check(&self) -> Result<(String, Vec<Scope>), ServiceError> {
        // The form asks for a name (the command line lets it be empty);
        // its other rules are the service's.
        let name = self.name.trim();
        if name.is_empty() {
            return Err(ServiceError::invalid(
                "name",
                "give the key a name, so you can tell it from the others later",
            ));
        }
        let scopes = self
            .scopes
            .iter()
            .map(|raw| {
                raw.parse::<Scope>().map_err(|_| {
                    let shown: String = raw.chars().take(64).collect();
                    ServiceError::invalid("scopes", format!("unknown scope `{shown}`"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((name.to_owned(), scopes))
    }

    fn choices(&self) -> Vec<ScopeChoice> {
        Scope::ALL
            .iter()
            .map(|scope| ScopeChoice {
                name: scope.as_str(),
                checked: self.scopes.iter().any(|chosen| chosen == scope.as_str()),
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "console/key_new.html")]
pub struct NewKeyPage {
    pub chrome: Chrome,
    pub name: String,
    pub scopes: Vec<ScopeChoice>,
    /// Whether the form asks for the admin's password (step-up).
    pub ask_password: bool,
    /// The field an error is about (`name`, `scopes` or `password`) and what is wrong.
    pub field_error: FieldError,
}

/// The page that shows a new key's secret, once.
#[derive(Template)]
#[template(path = "console/key_created.html")]
pub struct KeyCreatedPage {
    pub chrome: Chrome,
    pub name: String,
    pub scopes: String,
    pub secret: String,
}

/// `GET /admin/orgs/{uuid}/api-keys/new`
pub async fn new(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let admin = match super::admit(&req, &state, &path).await {
        Ok(admin) => admin,
        Err(page) => return page,
    };
    let ask_password = match step_up(&req, &state, None).await {
        Ok(step) => step == StepUp::PasswordNeeded,
        Err(error) => {
            let error = ConsoleError::Refused(Box::new(admin), error);
            return super::failure(&req, &state, "api-keys", error);
        }
    };
    let page = NewKeyPage {
        chrome: Chrome::new(&req, &admin, "api-keys"),
        name: String::new(),
        scopes: KeyForm::default().choices(),
        ask_password,
        field_error: FieldError::default(),
    };
    super::page(&state, StatusCode::OK, &page, &page.chrome, None)
}

/// Whether the signed-in admin typed their password recently enough to mint
/// a key, or does now (`password`).
async fn step_up(
    req: &HttpRequest,
    state: &AppState,
    password: Option<&str>,
) -> Result<StepUp, ServiceError> {
    let session = super::session_token(req, state).unwrap_or_default();
    let address = crate::http::client_address::client_address(req, state);
    state.accounts.step_up(&session, password, &address).await
}

/// `POST /admin/orgs/{uuid}/api-keys`: creates the key for the signed-in
/// admin and shows its secret. No redirect: the secret is never stored,
/// so no later page could show it again.
pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(page) = super::read_form::<serde::de::IgnoredAny>(&req, &state, &body).await {
        return page;
    }
    let form = KeyForm::from_body(&body);
    // Whoever holds the session must know the password to mint a key: a
    // borrowed or stolen session cannot make itself a lasting credential.
    // Admission is checked inside the write below; only a refusal here
    // needs the admin first, to show the form again.
    let step = step_up(&req, &state, form.password.as_deref()).await;
    if !matches!(step, Ok(StepUp::Fresh)) {
        let admin = match super::admit(&req, &state, &path).await {
            Ok(admin) => admin,
            Err(page) => return page,
        };
        let field_error = match step {
            Err(ServiceError::Invalid { field, detail }) if field == "password" => {
                FieldError::new(field, detail)
            }
            Err(error) => {
                let error = ConsoleError::Refused(Box::new(admin), error);
                return super::failure(&req, &state, "api-keys", error);
            }
            Ok(_) => FieldError::new("password", "Enter your password to create a key."),
        };
        let page = NewKeyPage {
            chrome: Chrome::new(&req, &admin, "api-keys"),
            name: form.name.clone(),
            scopes: form.choices(),
            ask_password: true,
            field_error,
        };
        return super::page(&state, StatusCode::BAD_REQUEST, &page, &page.chrome, None);
    }
    let checked = form.check();
    let visit = Visit::new(&req, &state, &path);
    let created = state
        .db
        .write(move |tx| {
            let admin = visit.admit_change(tx)?;
            let (name, scopes) = checked.for_admin(&admin)?;
            let issued = services::api_keys::create(
                tx,
                &visit.origin(&admin),
                OrgId(admin.org_id()),
                UserId(admin.user_id),
                &name,
                &scopes,
                visit.now,
            )
            .for_admin(&admin)?;
            Ok::<_, ConsoleError>((admin, issued))
        })
        .await;
    match created {
        Ok((admin, issued)) => {
            let page = KeyCreatedPage {
                chrome: Chrome::new(&req, &admin, "api-keys"),
                name: issued.key.name.clone(),
                scopes: Scope::join(&issued.key.scopes),
                secret: issued.plaintext,
            };
            super::page(&state, StatusCode::CREATED, &page, &page.chrome, None)
        }
        Err(ConsoleError::Refused(admin, ServiceError::Invalid { field, detail }))
            if field == "name" || field == "scopes" =>
        {
            let page = NewKeyPage {
                chrome: Chrome::new(&req, &admin, "api-keys"),
                name: form.name.clone(),
                scopes: form.choices(),
                ask_password: false,
                field_error: FieldError::new(field, detail),
            };
            super::page(&state, StatusCode::BAD_REQUEST, &page, &page.chrome, None)
        }
        Err(error) => super::failure(&req, &state, "api-keys", error),
    }
}

/// `POST /admin/orgs/{uuid}/api-keys/{id}/revoke`
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
        "API key",
        |tx, admin, origin, id, now| {
            services::api_keys::revoke_in_organization(tx, origin, admin.org_id(), id, now)
        },
    )
    .await;
    super::after_change(
        &req,
        &state,
        done.map(|(admin, _)| admin),
        "api-keys",
        "key-revoked",
    )
}
