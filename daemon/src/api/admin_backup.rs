//! `Admin.CreateBackup`: an online, consistent backup of the store into a directory on
//! the daemon's host (`store::backup::create`, on a blocking thread; ingest goes on).

use std::path::PathBuf;
use std::time::Instant;

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use crate::store::backup::{self, BackupError};

impl AdminApi {
    /// Takes the backup and answers what it holds (the manifest's summary).
    pub(super) async fn backup(&self, req: pb::CreateBackupRequest) -> Result<pb::Backup, Status> {
        let dir = PathBuf::from(&req.dir);
        let store = self.store.clone();
        let taken_ms = crate::clock::now_ms();
        let started = Instant::now();
        let target = dir.clone();
        let manifest = tokio::task::spawn_blocking(move || {
            backup::create(&store, &target, taken_ms, env!("CARGO_PKG_VERSION"))
        })
        .await
        .map_err(|e| Status::internal(format!("backup task: {e}")))?
        .map_err(|e| match e {
            BackupError::Invalid(_) => Status::invalid_argument(e.to_string()),
            BackupError::Precondition(_) => Status::failed_precondition(e.to_string()),
            BackupError::Failed(_) => Status::internal(e.to_string()),
        })?;
        tracing::info!(
            dir = %dir.display(),
            files = manifest.files.len(),
            bytes = manifest.bytes(),
            producers = manifest.producers.len(),
            "backup taken"
        );
        Ok(pb::Backup {
            dir: req.dir,
            taken_ms: manifest.taken_ms,
            files: u32::try_from(manifest.files.len()).unwrap_or(u32::MAX),
            bytes: manifest.bytes(),
            producers: manifest
                .producers
                .iter()
                .map(|p| pb::ProducerSequence {
                    producer_id: p.producer_id.clone(),
                    sequence: p.sequence,
                })
                .collect(),
            format_version: manifest.format_version,
            stockbelld_version: manifest.stockbelld_version,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }
}
