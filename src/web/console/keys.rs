//! The console's API keys: the list with each key's state, creating one
//! with chosen scopes (its secret shown once), and revoking.

use super::step_up::{Asked, Carried};
use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, FieldError, RowId, Visit};
use crate::domain::{ApiKey, KeyRevocation, Scope};
use crate::domain::{OrgId, UserId};
use crate::services::accounts::{Factors, StepUp, StepUpAnswer};
use crate::services::console::Need;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
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
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, keys) = visit
        .read(&state, "", Need::API_KEYS, |conn, admin, _| {
            services::api_keys::list(conn, admin.org_id())
        })
        .await?;
    let page = KeysPage {
        rows: keys
            .iter()
            .rev()
            .map(|key| KeyRow::new(key, admin.user_id))
            .collect(),
        chrome: visit.chrome(&admin, "api-keys"),
    };
    super::shown(&state, &page, &page.chrome)
}

/// One scope's checkbox.
pub struct ScopeChoice {
    pub name: &'static str,
    pub checked: bool,
}

/// The new-key form as typed (`scope` repeats, one per box ticked).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct KeyForm {
    pub name: String,
    pub scopes: Vec<String>,
    /// The admin's password, asked again unless typed in the last minutes;
    /// or, when they have a second factor, a code from it or a passkey.
    pub step_up: Carried,
}

impl From<Vec<(String, String)>> for KeyForm {
    /// The fields of a posted form, in the order sent.
    fn from(fields: Vec<(String, String)>) -> Self {
        let mut form = KeyForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "name" => form.name = value,
                "scope" => form.scopes.push(value),
                other => {
                    form.step_up.take(other, value);
                }
            }
        }
        form
    }
}

impl KeyForm {
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
    /// Whether the form asks for the admin's password, or their second
    /// factor (step-up).
    pub ask_password: bool,
    pub factors: Factors,
    /// The field an error is about (`name`, `scopes`, `password`, `code`
    /// or `passkey`) and what is wrong.
    pub field_error: FieldError,
}

impl NewKeyPage {
    /// The form with `form`'s name and scopes, asking what `asked` says.
    fn new(chrome: Chrome, form: &KeyForm, asked: &Asked) -> Self {
        Self {
            chrome,
            name: form.name.clone(),
            scopes: form.choices(),
            ask_password: asked.password,
            factors: asked.factors,
            field_error: asked.field_error.clone(),
        }
    }
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
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let admin = visit.admitted(&state, Need::API_KEYS).await?;
    let step = step_up(&visit, &state, StepUpAnswer::default())
        .await
        .map_err(|error| visit.refused("api-keys", admin.clone(), error))?;
    let asked = Asked::first(step);
    let page = NewKeyPage::new(
        visit.chrome(&admin, "api-keys"),
        &KeyForm::default(),
        &asked,
    );
    Ok(super::page_with(
        &state,
        StatusCode::OK,
        &page,
        &page.chrome,
        None,
        asked.scripts(),
    ))
}

/// Whether the signed-in admin proved their second factor (or, without
/// one, typed their password) recently enough to mint a key, or does now.
pub(super) async fn step_up(
    visit: &Visit,
    state: &AppState,
    answer: StepUpAnswer<'_>,
) -> Result<StepUp, ServiceError> {
    let req = visit.request();
    let session = crate::web::sign_in::session_token(req, state).unwrap_or_default();
    let address = crate::http::client_address::client_address(req, state);
    state.accounts.step_up(&session, answer, &address).await
}

/// `POST /admin/orgs/{uuid}/api-keys`: creates the key for the signed-in
/// admin and shows its secret. No redirect: the secret is never stored,
/// so no later page could show it again.
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<KeyForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    // Whoever holds the session must know the password to mint a key: a
    // borrowed or stolen session cannot make itself a lasting credential.
    let step = step_up(&visit, &state, form.step_up.answer()).await;
    if !matches!(step, Ok(StepUp::Fresh)) {
        return password_again(&visit, &state, &form, step).await;
    }
    let checked = form.check();
    let created = visit
        .change(
            &state,
            "api-keys",
            Need::API_KEYS,
            move |tx, admin, origin, now| {
                let (name, scopes) = checked?;
                services::api_keys::create(
                    tx,
                    origin,
                    OrgId(admin.org_id()),
                    UserId(admin.user_id),
                    &name,
                    &scopes,
                    now,
                )
            },
        )
        .await;
    match created {
        Ok((admin, issued)) => {
            let page = KeyCreatedPage {
                chrome: visit.chrome(&admin, "api-keys"),
                name: issued.key.name.clone(),
                scopes: Scope::join(&issued.key.scopes),
                secret: issued.plaintext,
            };
            Ok(super::page(
                &state,
                StatusCode::CREATED,
                &page,
                &page.chrome,
                None,
            ))
        }
        Err(failure) => failure.or_form(|admin, error| match error {
            ServiceError::Invalid { field, detail } if matches!(*field, "name" | "scopes") => {
                let asked = Asked {
                    field_error: FieldError::new(field, detail.clone()),
                    ..Asked::default()
                };
                let chrome = visit.chrome(admin, "api-keys");
                let page = NewKeyPage::new(chrome, &form, &asked);
                Some(super::page(
                    &state,
                    StatusCode::BAD_REQUEST,
                    &page,
                    &page.chrome,
                    None,
                ))
            }
            _ => None,
        }),
    }
}

/// The new-key form again, asking for the password: it was not typed
/// recently and is missing or wrong now. Admission is otherwise checked
/// inside the write; only this refusal needs the admin first, to show the
/// form around them.
async fn password_again(
    visit: &Visit,
    state: &AppState,
    form: &KeyForm,
    step: Result<StepUp, ServiceError>,
) -> Result<HttpResponse, ConsolePageError> {
    let admin = visit.admitted(state, Need::API_KEYS).await?;
    let asked = super::step_up::asked(visit, state, step, &form.step_up, "create a key").await;
    let asked = match asked {
        Ok(asked) => asked,
        Err(error) => return Err(visit.refused("api-keys", admin, error)),
    };
    let page = NewKeyPage::new(visit.chrome(&admin, "api-keys"), form, &asked);
    Ok(super::page_with(
        state,
        asked.status,
        &page,
        &page.chrome,
        asked.retry_after,
        asked.scripts(),
    ))
}

/// `POST /admin/orgs/{uuid}/api-keys/{id}/revoke`
pub async fn revoke(
    visit: Visit,
    key: web::Path<RowId>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let done = super::change_row(
        &visit,
        &state,
        "api-keys",
        Need::API_KEYS,
        ("API key", &key.id),
        |tx, admin, origin, id, now| {
            services::api_keys::revoke_in_organization(tx, origin, admin.org_id(), id, now)
        },
    )
    .await;
    super::after_change(done, "api-keys", "key-revoked")
}
