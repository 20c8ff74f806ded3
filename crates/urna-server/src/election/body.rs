//! Request bodies and shared answers (receipts).

use std::sync::Arc;

use serde_json::{Value, json};
use urna_board::Hash;
use urna_store::SignedCheckpoint;

use super::service::Shared;
use crate::error::ApiError;
pub(crate) use crate::json::json_body;

/// A receipt: the tracking code, the entry's index and leaf hash, its
/// inclusion proof against `checkpoint`, and the signed checkpoint text.
pub(crate) async fn receipt(
    shared: &Shared,
    tracking: [u8; 32],
    index: u64,
    checkpoint: Arc<SignedCheckpoint>,
) -> Result<Value, ApiError> {
    let store = shared.store.clone();
    let size = checkpoint.size();
    let (entry, proof) = tokio::task::spawn_blocking(move || {
        Ok::<_, urna_store::StoreError>((store.entry(index)?, store.inclusion_proof(index, size)?))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "receipt task failed");
        ApiError::internal()
    })??;
    Ok(receipt_json(
        &tracking,
        entry.entry.kind().name(),
        index,
        &entry.leaf_hash,
        &checkpoint,
        &proof,
    ))
}

/// The receipt's JSON (spec/api.md §A4.1) from its parts.
pub(crate) fn receipt_json(
    tracking: &[u8; 32],
    kind: &str,
    index: u64,
    leaf_hash: &Hash,
    checkpoint: &SignedCheckpoint,
    proof: &[Hash],
) -> Value {
    json!({
        "tracking": hex::encode(tracking),
        "kind": kind,
        "index": index,
        "leaf_hash": hex::encode(leaf_hash),
        "tree_size": checkpoint.size(),
        "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": checkpoint.text(),
    })
}
