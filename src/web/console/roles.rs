//! The console's roles: the organization's roles with what each grants,
//! making one, changing or deleting one of its own (ADMIN and MEMBER are
//! shown, read-only). The same services as `/v1/organization/roles`.

use super::{ButtonForm, Chrome, ConsoleForm, ConsolePageError, FieldError, Visit};
use crate::domain::role::RoleDefinition;
use crate::domain::{Page, Role};
use crate::services::console::Need;
use crate::services::roles::{NewRole, RolePatch};
use crate::services::{self, ServiceError};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub struct RoleRow {
    pub key: String,
    pub name: String,
    pub description: String,
    pub permissions: String,
    pub built_in: bool,
}

impl From<&RoleDefinition> for RoleRow {
    fn from(role: &RoleDefinition) -> Self {
        Self {
            key: role.role.as_str().to_owned(),
            name: role.name.clone(),
            description: role.description.clone().unwrap_or_default(),
            permissions: role.permissions.names().collect::<Vec<_>>().join(", "),
            built_in: role.role.is_built_in(),
        }
    }
}

/// The role form as typed (the new-role form has `key` too).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Separated by commas, spaces or lines.
    #[serde(default)]
    pub permissions: String,
}

impl RoleForm {
    fn permission_names(&self) -> Vec<&str> {
        self.permissions
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|name| !name.is_empty())
            .collect()
    }

    fn new_role(&self) -> Result<NewRole, ServiceError> {
        Ok(NewRole {
            key: services::roles::new_key(self.key.trim())?,
            name: services::roles::name(&self.name)?,
            description: services::roles::description(Some(&self.description))?,
            permissions: services::roles::permissions(&self.permission_names())?,
        })
    }

    fn patch(&self) -> Result<RolePatch, ServiceError> {
        Ok(RolePatch {
            name: Some(services::roles::name(&self.name)?),
            description: Some(services::roles::description(Some(&self.description))?),
            permissions: Some(services::roles::permissions(&self.permission_names())?),
        })
    }
}

#[derive(Template)]
#[template(path = "console/roles.html")]
pub struct RolesPage {
    pub chrome: Chrome,
    pub rows: Vec<RoleRow>,
    pub form: RoleForm,
    pub field_error: FieldError,
    pub management: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "console/role_edit.html")]
pub struct RoleEditPage {
    pub chrome: Chrome,
    pub key: String,
    pub form: RoleForm,
    pub field_error: FieldError,
    pub management: Vec<&'static str>,
}

/// Every role (the built-ins and at most `roles.max_per_organization` of
/// its own): one short page, no pager.
fn all_roles(conn: &crate::db::Conn, org_id: i64) -> Result<Vec<RoleDefinition>, ServiceError> {
    let everything = Page {
        limit: crate::domain::page::MAX_LIMIT,
        offset: 0,
    };
    Ok(services::roles::list(conn, org_id, everything)?.items)
}

fn roles_page(chrome: Chrome, roles: &[RoleDefinition], form: RoleForm) -> RolesPage {
    RolesPage {
        chrome,
        rows: roles.iter().map(RoleRow::from).collect(),
        form,
        field_error: FieldError::default(),
        management: crate::domain::role::MANAGEMENT_PERMISSIONS.to_vec(),
    }
}

/// The form field an admin API field's error is about.
fn form_field(api_field: &str) -> Option<&'static str> {
    match api_field {
        "key" => Some("key"),
        "name" => Some("name"),
        "description" => Some("description"),
        "permissions" => Some("permissions"),
        _ => None,
    }
}

/// `GET /admin/orgs/{uuid}/roles`
pub async fn list(
    visit: Visit,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let (admin, roles) = visit
        .read(&state, "roles", Need::ROLES, |conn, admin, _| {
            all_roles(conn, admin.org_id())
        })
        .await?;
    let page = roles_page(visit.chrome(&admin, "roles"), &roles, RoleForm::default());
    super::shown(&state, &page, &page.chrome)
}

/// `POST /admin/orgs/{uuid}/roles`: a new role, then back to the list.
pub async fn create(
    visit: Visit,
    ConsoleForm(form): ConsoleForm<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let checked = form.new_role();
    let max = state.settings.roles.max_per_organization;
    let created = visit
        .change(
            &state,
            "roles",
            Need::ROLES,
            move |tx, admin, origin, now| {
                let new = checked?;
                admin.within_powers(&new.permissions, "the role")?;
                services::roles::create(tx, origin, admin.org_id(), new, max, now).map(|_| ())
            },
        )
        .await;
    let failure = match created {
        Ok(done) => return super::after_change(Ok(done), "roles", "role-created"),
        Err(failure) => failure,
    };
    // The list and the form again, as typed, saying what is wrong.
    let roles = visit
        .read(&state, "roles", Need::ROLES, |conn, admin, _| {
            all_roles(conn, admin.org_id())
        })
        .await
        .map_or_else(|_| Vec::new(), |(_, roles)| roles);
    failure.or_form(|admin, error| {
        let (field, detail) = match error {
            ServiceError::Invalid { field, detail } => (form_field(field)?, detail),
            ServiceError::Conflict { detail, .. } => ("key", detail),
            _ => return None,
        };
        let mut page = roles_page(visit.chrome(admin, "roles"), &roles, form);
        page.field_error = FieldError::new(field, detail.clone());
        Some(super::page(
            &state,
            StatusCode::BAD_REQUEST,
            &page,
            &page.chrome,
            None,
        ))
    })
}

#[derive(Debug, serde::Deserialize)]
pub struct RoleKeyPath {
    pub key: String,
}

/// `GET /admin/orgs/{uuid}/roles/{key}`: the form for one of its own roles.
pub async fn edit(
    visit: Visit,
    path: web::Path<RoleKeyPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let key = path.into_inner().key;
    let asked = key.clone();
    let (admin, role) = visit
        .read(&state, "roles", Need::ROLES, move |conn, admin, _| {
            let role = services::roles::get(conn, admin.org_id(), &asked)?;
            if role.role.is_built_in() {
                return Err(ServiceError::conflict(
                    crate::services::ErrorCode::BuiltInRole,
                    format!("{} is a built-in role and cannot be changed", role.role),
                ));
            }
            Ok(role)
        })
        .await?;
    let row = RoleRow::from(&role);
    let page = RoleEditPage {
        chrome: visit.chrome(&admin, "roles"),
        key,
        form: RoleForm {
            key: row.key,
            name: row.name,
            description: row.description,
            permissions: role.permissions.names().collect::<Vec<_>>().join("\n"),
        },
        field_error: FieldError::default(),
        management: crate::domain::role::MANAGEMENT_PERMISSIONS.to_vec(),
    };
    super::shown(&state, &page, &page.chrome)
}

/// `POST /admin/orgs/{uuid}/roles/{key}`: the role changed, then the list.
pub async fn update(
    visit: Visit,
    path: web::Path<RoleKeyPath>,
    ConsoleForm(form): ConsoleForm<RoleForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let key = path.into_inner().key;
    let checked = form.patch();
    let target = key.clone();
    let changed = visit
        .change(
            &state,
            "roles",
            Need::ROLES,
            move |tx, admin, origin, now| {
                let patch = checked?;
                may_touch_role(tx, admin, &target)?;
                if let Some(permissions) = &patch.permissions {
                    admin.within_powers(permissions, "the role")?;
                }
                services::roles::update(tx, origin, admin.org_id(), &target, patch, now).map(|_| ())
            },
        )
        .await;
    match changed {
        Ok(done) => super::after_change(Ok(done), "roles", "role-updated"),
        Err(failure) => failure.or_form(|admin, error| {
            let ServiceError::Invalid { field, detail } = error else {
                return None;
            };
            let page = RoleEditPage {
                chrome: visit.chrome(admin, "roles"),
                key,
                form,
                field_error: FieldError::new(form_field(field)?, detail.clone()),
                management: crate::domain::role::MANAGEMENT_PERMISSIONS.to_vec(),
            };
            Some(super::page(
                &state,
                StatusCode::BAD_REQUEST,
                &page,
                &page.chrome,
                None,
            ))
        }),
    }
}

/// `POST /admin/orgs/{uuid}/roles/{key}/delete`
pub async fn delete(
    visit: Visit,
    path: web::Path<RoleKeyPath>,
    _: ButtonForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsolePageError> {
    let key = path.into_inner().key;
    let done = visit
        .change(
            &state,
            "roles",
            Need::ROLES,
            move |tx, admin, origin, now| {
                may_touch_role(tx, admin, &key)?;
                services::roles::delete(tx, origin, admin.org_id(), &key, now)
            },
        )
        .await;
    super::after_change(done, "roles", "role-deleted")
}

/// A custom-role manager changes or deletes only roles within their own
/// powers (a key that is no role is left for the service to answer).
fn may_touch_role(
    tx: &crate::services::Conn,
    admin: &crate::services::console::ConsoleAdmin,
    raw_key: &str,
) -> Result<(), ServiceError> {
    match raw_key.parse::<Role>() {
        Ok(role) => admin.may_hand_out(tx, &role),
        Err(_) => Ok(()),
    }
}
