//! The whole route table, composed from each surface's own table (each
//! registered beside its handlers): the programs' surfaces in `api`, the
//! people's in `web`. Anything no surface registered answers 404 in
//! problem-details form.

use crate::{api, web};

/// Registers every route. `json_limit` is the largest JSON body accepted;
/// `metrics` says whether `/metrics` is served here.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig, json_limit: usize, metrics: bool) {
    if metrics {
        cfg.service(api::metrics_resource());
    }
    api::extractor_settings(cfg, json_limit);
    cfg.configure(web::assets::configure)
        .configure(api::configure_operations)
        .configure(web::console::configure)
        .configure(api::oauth::configure)
        .configure(web::hosted::configure)
        .configure(api::invitee::configure)
        .configure(api::configure_admin)
        .default_service(actix_web::web::to(api::not_found));
}
