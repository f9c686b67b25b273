//! The HTTP service (`siamedge serve`): enrollment, verification and identification as a JSON API
//! for point-of-sale and camera software that wants an API rather than a process per decision.
//!
//! What: an axum router over one [`Runtime`] and one [`TemplateStore`] (see [`routes`] for the
//! endpoints, [`api`] for the bodies). Images arrive base64 in JSON bodies; encoding runs on a
//! bounded pool ([`queue`]: `workers` at once, `queue` waiting, `503` with `Retry-After` beyond
//! that), so memory stays bounded whatever the number of clients. Every enrollment is one store
//! transaction, committed before its `201` is sent: an acknowledged enrollment survives a crash.
//! Loopback by default; any other address requires a bearer token ([`ServiceConfig::validate`]).
//! [`run`] shuts down gracefully on SIGTERM or SIGINT: it stops accepting, finishes the requests
//! in flight (their store writes included), then returns.
//!
//! When not: as a public internet endpoint. It speaks plain HTTP (put TLS in front of it when it
//! leaves the host) and has one token, no per-client accounts or rate limits.

pub mod api;
pub mod auth;
pub mod body;
pub mod config;
pub mod error;
pub mod image;
pub mod metrics;
pub mod queue;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{ConfigError, ServiceConfig};
pub use error::{ApiError, ServiceError};

use crate::runtime::Runtime;
use crate::store::TemplateStore;

/// A service ready to serve: its state, with the store's templates loaded into the index.
#[derive(Debug, Clone)]
pub struct Service {
    state: state::Shared,
}

impl Service {
    /// Checks `config`, checks that `store` holds `runtime`'s model, and loads every template
    /// into the in-memory index.
    pub fn new(
        runtime: Runtime,
        store: Box<dyn TemplateStore>,
        config: ServiceConfig,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            state: Arc::new(state::State::new(runtime, store, config)?),
        })
    }

    /// Its settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.state.config
    }

    /// Subjects in the index.
    pub fn gallery_size(&self) -> usize {
        self.state.gallery_size()
    }

    /// The axum router (for embedding the service in another server).
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone())
    }
}

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting, finishes the
/// requests in flight and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    axum::serve(listener, service.router())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServiceError::Io {
            action: "serving on",
            addr,
            source,
        })
}

/// Completes on SIGTERM or SIGINT (Ctrl-C); never when neither handler can be installed.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let int = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = term => {}
        _ = int => {}
    }
}

/// Blocking: builds a tokio runtime, binds `config.bind`, calls `on_bound` with the bound
/// address (port 0 resolved), serves until SIGTERM or SIGINT, finishes the requests in flight,
/// and returns (dropping the store, which closes it cleanly).
pub fn run(
    config: ServiceConfig,
    runtime: Runtime,
    store: Box<dyn TemplateStore>,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), ServiceError> {
    let bind = config.bind;
    let service = Service::new(runtime, store, config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("siamedge-serve")
        .build()
        .map_err(|source| ServiceError::Io {
            action: "starting the async runtime for",
            addr: bind.to_string(),
            source,
        })?;
    rt.block_on(async move {
        let io = |action: &'static str| {
            move |source| ServiceError::Io {
                action,
                addr: bind.to_string(),
                source,
            }
        };
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(io("binding"))?;
        let addr = listener.local_addr().map_err(io("binding"))?;
        on_bound(addr);
        serve(listener, service, shutdown_signal()).await
    })
}
