//! Group commit for audit records that accompany no change (reads, refused
//! requests): concurrent records share one transaction, and each caller
//! still waits until its own record is durable. Changes keep recording in
//! their own transaction, with the change.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{AuditError, AuditEvent, record};
use crate::store::Db;

/// Most records per shared transaction.
const MAX_BATCH: usize = 256;

type Job = (AuditEvent, oneshot::Sender<Result<(), String>>);

#[derive(Clone, Debug)]
pub struct AuditWriter {
    queue: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer task. It ends when every `AuditWriter` is dropped.
    pub fn spawn(db: Db) -> (Self, JoinHandle<()>) {
        let (queue, mut jobs) = mpsc::channel::<Job>(4096);
        let task = tokio::spawn(async move {
            while let Some(first) = jobs.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let outcome = write_batch(&db, &batch).await.map_err(|e| e.to_string());
                if let Err(e) = &outcome {
                    tracing::error!(error = %e, records = batch.len(), "audit group commit failed");
                }
                for (_, done) in batch {
                    let _ = done.send(outcome.clone());
                }
            }
        });
        (Self { queue }, task)
    }

    /// Records `event` and returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send((event, done))
            .await
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        wait.await
            .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?
            .map_err(AuditError::Unavailable)
    }
}

async fn write_batch(db: &Db, batch: &[Job]) -> Result<(), AuditError> {
    let mut tx = db.begin().await?;
    for (event, _) in batch {
        record(&mut tx, event.clone()).await?;
    }
    tx.commit().await?;
    Ok(())
}
