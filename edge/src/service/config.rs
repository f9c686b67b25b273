//! What a service instance is allowed to do: where it listens, who may call it, and how much work
//! and memory one request may cost.

use std::net::SocketAddr;

/// Settings of one service instance (see [`ServiceConfig::validate`] for what is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Where to listen. Loopback (`127.0.0.0/8`, `::1`) by default; any other address requires a
    /// [`token`](Self::token). Port 0 picks a free port.
    pub bind: SocketAddr,
    /// Bearer token every request except `GET /health` must carry
    /// (`Authorization: Bearer TOKEN`), compared in constant time. `None`: no authentication
    /// (loopback only).
    pub token: Option<String>,
    /// Images encoded at the same time (blocking threads running the encoder), `>= 1`.
    pub workers: usize,
    /// Requests allowed to wait for an encoder worker; one more is answered
    /// `503 Service Unavailable` with `Retry-After` at once. `0` allows no waiting.
    pub queue: usize,
    /// Largest request body, in bytes (the JSON text with its base64 images); a larger one is
    /// `413 Payload Too Large` before it is read whole.
    pub max_body_bytes: usize,
    /// Largest image, in pixels (`width * height` from its header, checked before decoding);
    /// a larger one is `422 Unprocessable Entity`.
    pub max_pixels: u64,
    /// Seconds a `503` tells the client to wait (`Retry-After`), `>= 1`.
    pub retry_after_s: u32,
    /// Most candidates an identification returns (`top` above it is refused), `>= 1`.
    pub max_top: usize,
}

impl Default for ServiceConfig {
    /// Loopback port 0, no token, one worker per CPU, 64 waiting requests, 8 MiB bodies,
    /// 16 megapixel images, `Retry-After: 1`, at most 100 candidates.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            queue: 64,
            max_body_bytes: 8 << 20,
            max_pixels: 16_000_000,
            retry_after_s: 1,
            max_top: 100,
        }
    }
}

/// A [`ServiceConfig`] that [`validate`](ServiceConfig::validate) refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A non-loopback address without a bearer token.
    #[error("bind {bind}: listening beyond loopback (127.0.0.0/8, ::1) requires a bearer token")]
    TokenRequired {
        /// The address asked for.
        bind: SocketAddr,
    },
    /// An empty or too short token.
    #[error("token: {len} bytes, at least {min} required")]
    WeakToken {
        /// Its length in bytes (after trimming).
        len: usize,
        /// The least accepted.
        min: usize,
    },
    /// A numeric setting out of its range.
    #[error("{field} = {value}: must be at least {min}")]
    TooSmall {
        /// The setting, e.g. `"workers"`.
        field: &'static str,
        /// What was given.
        value: u64,
        /// The least accepted.
        min: u64,
    },
}

/// Shortest accepted bearer token, in bytes.
pub const MIN_TOKEN_LEN: usize = 16;

impl ServiceConfig {
    /// Checks the settings: a non-loopback [`bind`](Self::bind) needs a token; a token has at
    /// least [`MIN_TOKEN_LEN`] bytes; `workers`, `max_body_bytes`, `max_pixels`,
    /// `retry_after_s` and `max_top` are at least 1 (a body limit under 1 KiB would refuse every
    /// image, so it must be at least 1024).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(t) = &self.token {
            if t.len() < MIN_TOKEN_LEN {
                return Err(ConfigError::WeakToken {
                    len: t.len(),
                    min: MIN_TOKEN_LEN,
                });
            }
        } else if !self.bind.ip().is_loopback() {
            return Err(ConfigError::TokenRequired { bind: self.bind });
        }
        let checks: [(&'static str, u64, u64); 5] = [
            ("workers", self.workers as u64, 1),
            ("max_body_bytes", self.max_body_bytes as u64, 1024),
            ("max_pixels", self.max_pixels, 1),
            ("retry_after_s", u64::from(self.retry_after_s), 1),
            ("max_top", self.max_top as u64, 1),
        ];
        for (field, value, min) in checks {
            if value < min {
                return Err(ConfigError::TooSmall { field, value, min });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_loopback_needs_a_token_naming_the_address() {
        let mut c = ServiceConfig {
            bind: "0.0.0.0:8080".parse().unwrap(),
            ..ServiceConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(
            e,
            ConfigError::TokenRequired {
                bind: "0.0.0.0:8080".parse().unwrap()
            }
        );
        assert!(e.to_string().contains("0.0.0.0:8080"));
        c.token = Some("short".into());
        assert!(matches!(
            c.validate(),
            Err(ConfigError::WeakToken { len: 5, .. })
        ));
        c.token = Some("0123456789abcdef".into());
        assert_eq!(c.validate(), Ok(()));
        for bind in ["127.0.0.1:0", "127.3.2.1:9", "[::1]:0"] {
            let c = ServiceConfig {
                bind: bind.parse().unwrap(),
                ..ServiceConfig::default()
            };
            assert_eq!(c.validate(), Ok(()), "{bind}");
        }
        let c = ServiceConfig {
            bind: "[::]:0".parse().unwrap(),
            ..ServiceConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn limits_must_be_usable() {
        let c = ServiceConfig {
            workers: 0,
            ..ServiceConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "workers = 0: must be at least 1"
        );
        let c = ServiceConfig {
            max_body_bytes: 10,
            ..ServiceConfig::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_body_bytes = 10"));
        let c = ServiceConfig {
            queue: 0,
            ..ServiceConfig::default()
        };
        assert_eq!(c.validate(), Ok(()));
    }
}
