//! urna's public bulletin board: the log math and formats, with no I/O.
//!
//! The board is an append-only log of typed [`Entry`]s. Its state at any
//! moment is summed up by a [`Checkpoint`] — origin, size and the RFC 9162
//! Merkle root — which the board signs and observers cosign as C2SP signed
//! notes. Anyone holding two checkpoints can demand a consistency proof that
//! the later log extends the earlier one, and anyone holding a ballot can
//! demand an inclusion proof that it is in the log. The normative
//! description is `spec/board.md`; every format function cites its section.
//!
//! This crate is *sans-IO*: it takes bytes and hashes and returns bytes,
//! hashes, plans and verdicts. The store decides where hashes live, the
//! server decides what goes over the network, and the verifier uses the very
//! same functions.
//!
//! # Hash what you store, store what you hash
//!
//! An [`Entry`] *is* its envelope bytes ([`Entry::bytes`]). The leaf hash is
//! computed over exactly those bytes, the store writes exactly those bytes,
//! and the server and record export serve exactly those bytes. Nothing is
//! ever re-serialised between hashing and storing, so there is no second
//! encoding that could disagree with the first. Parsing ([`Entry::from_bytes`])
//! only checks and indexes the bytes; hashing ([`Entry::leaf_hash`]) is a
//! separate step.
//!
//! # The model a store implements
//!
//! * On append, compute `entry.leaf_hash()`, call [`Frontier::push`], and
//!   store every returned `(SubtreeId, Hash)` row together with the entry.
//!   Perfect subtrees never change, so rows are only ever inserted.
//! * To sign, take [`Frontier::root`] and [`Frontier::size`], build a
//!   [`Checkpoint`] and [`sign_checkpoint`].
//! * To serve a proof, get a [`ProofPlan`] from [`inclusion_proof_plan`] or
//!   [`consistency_proof_plan`], fetch [`ProofPlan::subtrees`] in one query
//!   and call [`ProofPlan::assemble_ordered`].
//! * To serve C2SP tiles, parse the path with [`parse_tile_path`] and encode
//!   the [`TileId`] or [`BundleId`] from the same stored rows.
//! * After a restart, rebuild the frontier with [`Frontier::restore`].
//!
//! Verifiers use [`verify_inclusion`], [`verify_consistency`] and
//! [`verify_checkpoint`]; errors from these ([`VerifyError`], [`NoteError`])
//! always mean the peer sent something wrong, while [`ProofError`]s built on
//! the serving side say whether the request or the store was at fault.
//!
//! ```
//! use urna_board::*;
//!
//! let mut tree = MemoryTree::new();
//! let entries: Vec<Entry> = (0u8..5)
//!     .map(|i| Entry::new(EntryKind::Ballot, &[i]).unwrap())
//!     .collect();
//! for e in &entries {
//!     tree.push(e.leaf_hash()).unwrap();
//! }
//! let proof = inclusion_proof_plan(3, 5).unwrap().assemble_from(&tree).unwrap();
//! verify_inclusion(&entries[3].leaf_hash(), 3, 5, &proof, &tree.root()).unwrap();
//!
//! let key = BoardSigningKey::from_secret_bytes("urna.example/e1", &[7; 32]).unwrap();
//! let cp = Checkpoint::new("urna.example/e1", tree.size(), tree.root()).unwrap();
//! let note = sign_checkpoint(&key, &cp).unwrap();
//! let parsed = SignedNote::parse(note.to_text().as_bytes()).unwrap();
//! let ok = verify_checkpoint(&parsed, &key.verifier_key(), &[]).unwrap();
//! assert_eq!(ok.checkpoint, cp);
//! ```

mod checkpoint;
mod entry;
mod hash;
mod note;
mod proof;
mod tiles;
mod tree;

pub use checkpoint::{
    Checkpoint, CheckpointError, VerifiedCheckpoint, cosign_checkpoint, sign_checkpoint,
    verify_checkpoint, verify_note,
};
pub use entry::{
    ENTRY_HEADER_LEN, ENTRY_VERSION, Entry, EntryError, EntryKind, MAX_ENTRY_LEN, MAX_PAYLOAD_LEN,
};
pub use hash::{HASH_LEN, Hash, empty_root, leaf_hash, node_hash, root_of};
pub use note::{
    BoardSigningKey, KeyError, KeyId, MAX_NOTE_LEN, MAX_SIGNATURES, NoteError, NoteSignature,
    ObserverSigningKey, SignatureType, SignedNote, VerifiedSignature, VerifierKey,
    cosignature_message, key_id, validate_key_name,
};
pub use proof::{
    ProofError, ProofPlan, VerifyError, consistency_proof_plan, inclusion_proof_plan,
    verify_consistency, verify_inclusion,
};
pub use tiles::{
    BundleId, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, TileError, TileId, TilePath,
    changed_bundles, changed_tiles, parse_tile_path,
};
pub use tree::{Frontier, FrontierError, MAX_TREE_SIZE, MemoryTree, SubtreeId, SubtreeSource};
