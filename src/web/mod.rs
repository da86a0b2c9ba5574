//! The surfaces for people: the admin console (`console`), the hosted pages
//! an invitee or a signed-out person sees (`hosted`: invitation, join link,
//! account links and the OAuth2 sign-in page), and what they share:
//! rendering, the CSRF check, the HTML error page and the static assets.
//! Everything here answers HTML; the JSON surfaces are in `api`.

pub mod assets;
pub mod body_deadline;
pub mod console;
pub mod csrf;
pub mod error;
pub mod hosted;
pub mod render;
pub mod sign_in;

/// The application state of a request that reached the app (always, in
/// practice: startup registers it); a 500 page otherwise.
pub fn app_state(
    req: &actix_web::HttpRequest,
) -> Result<actix_web::web::Data<crate::state::AppState>, error::PageError> {
    req.app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned()
        .ok_or_else(|| error::PageError::internal("the application state is not registered"))
}
