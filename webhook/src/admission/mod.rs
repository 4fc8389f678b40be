//! The admission half of fed-webhook: everything behind `/mutate`, `/validate` and `/follow`.
//!
//! - [`server`]: the HTTPS transport (hyper 1 + rustls), routes, request limits, metrics; the
//!   decision itself is [`fed_core::admission::review`], a pure function.
//! - [`cache`]: the reflector caches of clusters, type configs and federated objects that
//!   admission decides against (the [`fed_core::admission::FederationView`]).
//! - [`followed`]: the followed namespaces (labelled `kubefed.io/follow=true`) for `/follow`.
//! - [`reflect`]: the watch-into-store loop both run, with its retry backoff.
//! - [`tls`]: the serving certificate, reloaded when its files change.
//! - [`certs`]: the CA and serving certificate `fed-webhook certs` writes.
//!
//! Nothing here writes to the API server: admission has no side effects.

pub mod cache;
pub mod certs;
pub mod followed;
pub mod reflect;
pub mod server;
pub mod tls;
