//! The bounded pool in front of the encoder: `workers` jobs run at once on blocking threads,
//! `queue` more may wait, and one beyond that is refused at once (the caller answers `503`), so
//! memory never grows with the number of clients.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

/// A bounded blocking-job pool (see the module docs).
#[derive(Debug)]
pub struct EncoderPool {
    /// Admission: `workers + queue` permits; no permit, no entry.
    admit: Arc<Semaphore>,
    /// Execution: `workers` permits.
    run: Arc<Semaphore>,
    waiting: AtomicUsize,
    running: AtomicUsize,
}

/// The pool refused a job: `workers` are busy and `queue` jobs already wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// What the pool is doing right now (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLoad {
    /// Jobs waiting for a worker.
    pub waiting: usize,
    /// Jobs running.
    pub running: usize,
}

/// Decrements a counter when dropped (a cancelled request leaves the counts right).
struct Count<'a>(&'a AtomicUsize);

impl<'a> Count<'a> {
    fn up(c: &'a AtomicUsize) -> Self {
        c.fetch_add(1, Ordering::Relaxed);
        Self(c)
    }
}

impl Drop for Count<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EncoderPool {
    /// A pool running `workers` (`>= 1`) jobs at once with `queue` waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        Self {
            admit: Arc::new(Semaphore::new(workers.max(1) + queue)),
            run: Arc::new(Semaphore::new(workers.max(1))),
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        }
    }

    /// Jobs waiting and running now.
    pub fn load(&self) -> PoolLoad {
        PoolLoad {
            waiting: self.waiting.load(Ordering::Relaxed),
            running: self.running.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` on a blocking thread once a worker is free, or refuses it with [`Full`] at
    /// once when the pool and its queue are full. A job that panics comes back as
    /// `Ok(Err(panic message))`.
    pub async fn run<T, F>(&self, job: F) -> Result<Result<T, String>, Full>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _admitted = self.admit.clone().try_acquire_owned().map_err(|_| Full)?;
        let permit = {
            let _w = Count::up(&self.waiting);
            // The semaphore is never closed, so acquiring only fails if it were.
            self.run.clone().acquire_owned().await.map_err(|_| Full)?
        };
        let _r = Count::up(&self.running);
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await;
        Ok(joined.map_err(|e| match e.try_into_panic() {
            Ok(p) => p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a worker panicked".into()),
            Err(e) => e.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_beyond_workers_plus_queue_and_recovers() {
        let pool = Arc::new(EncoderPool::new(1, 1));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let mut jobs = Vec::new();
        for i in 0..2 {
            let (pool, rx) = (pool.clone(), release_rx.clone());
            jobs.push(tokio::spawn(async move {
                pool.run(move || {
                    rx.lock()
                        .unwrap()
                        .recv_timeout(Duration::from_secs(10))
                        .ok();
                    i
                })
                .await
            }));
            // Let the first job start before the second arrives.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            pool.load(),
            PoolLoad {
                waiting: 1,
                running: 1
            }
        );
        assert_eq!(pool.run(|| 9).await, Err(Full));
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        let mut got = Vec::new();
        for j in jobs {
            got.push(j.await.unwrap().unwrap().unwrap());
        }
        assert_eq!(got, vec![0, 1]);
        assert_eq!(pool.run(|| 9).await, Ok(Ok(9)));
        assert_eq!(
            pool.load(),
            PoolLoad {
                waiting: 0,
                running: 0
            }
        );
    }
}
