//! The route tables' one building block. Each surface lists its paths
//! beside its handlers as [`Endpoint`]s; an endpoint remembers the methods
//! it was given, so the `405 Method Not Allowed` answer's `Allow` header is
//! derived from what is registered and can never disagree with it.

use crate::http::problem::ApiError;
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, Route, web};

/// One path and the handlers of the methods it answers. Every other method
/// answers 405, in problem-details form, with `Allow` listing these methods
/// in the order they were registered.
pub struct Endpoint {
    resource: Resource,
    methods: Vec<Method>,
}

impl Endpoint {
    /// The endpoint at `path` (an actix-web path template).
    pub fn at(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            methods: Vec::new(),
        }
    }

    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::GET, handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::POST, handler)
    }

    pub fn patch<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::PATCH, handler)
    }

    pub fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::PUT, handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::DELETE, handler)
    }

    fn on<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::method(method.clone()).to(handler));
        self.methods.push(method);
        self
    }

    /// The `Allow` header's value: the registered methods, in order.
    pub fn allow(&self) -> String {
        self.methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The resource, answering 405 for every method not registered.
    pub fn into_resource(self) -> Resource {
        let allow = self.allow();
        self.resource.default_service(method_not_allowed(allow))
    }
}

/// Registers a surface's table.
pub fn register(cfg: &mut web::ServiceConfig, table: impl IntoIterator<Item = Endpoint>) {
    for endpoint in table {
        cfg.service(endpoint.into_resource());
    }
}

fn method_not_allowed(allow: String) -> Route {
    web::to(move || {
        let allow = allow.clone();
        async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(allow)) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_registered_methods_in_order() {
        async fn ok() -> HttpResponse {
            HttpResponse::NoContent().finish()
        }
        let endpoint = Endpoint::at("/x").get(ok).patch(ok).delete(ok);
        assert_eq!(endpoint.allow(), "GET, PATCH, DELETE");
        assert_eq!(Endpoint::at("/y").post(ok).allow(), "POST");
    }
}
