//! What the handlers share ([`AppState`]) and how a server puts it
//! together ([`AppStateBuilder`]): the board, the election, and voter
//! registration when there is one. Registration is given to the builder,
//! not attached to a running election, because the election's
//! [`Registrar`](crate::election::Registrar) must be known before a
//! restart's replay (spec/api.md §A6).

use std::sync::Arc;

use urna_store::BoardStore;

use crate::election::{self, ElectionConfig, ElectionService, Registrar};
use crate::registration::RegistrationService;
use crate::{board, web};

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) store: BoardStore,
    pub(crate) election: ElectionService,
    pub(crate) web: web::WebAssets,
    pub(crate) cosignatures: board::Cosignatures,
    /// Voter registration (spec/registration.md §G9), when served.
    pub(crate) registration: Option<RegistrationService>,
    /// Connection and read limits of [`crate::serve`] (spec/api.md §A8).
    pub(crate) limits: crate::limits::Limits,
}

/// Puts an [`AppState`] together: the board store and the election's
/// config, then optionally voter registration.
#[derive(Debug)]
pub struct AppStateBuilder {
    store: BoardStore,
    config: ElectionConfig,
    registration: Option<RegistrationService>,
}

impl AppStateBuilder {
    /// Also serves voter registration under `/registration/`, and makes
    /// its [`RegistrationService::registrar`] the election's registrar:
    /// credentials are registered by logged-in approved voters and ballots
    /// of withdrawn applications are refused (spec/registration.md §G4).
    pub fn with_registration(mut self, registration: RegistrationService) -> Self {
        self.config.registrar = registration.registrar();
        self.registration = Some(registration);
        self
    }

    /// Replaces the election's registrar (after
    /// [`with_registration`](Self::with_registration), which sets it).
    pub fn with_registrar(mut self, registrar: Arc<dyn Registrar>) -> Self {
        self.config.registrar = registrar;
        self
    }

    /// A state with no election yet, keeping what is not on the board in
    /// memory only (tests, the demo).
    pub fn build(self) -> AppState {
        let election = ElectionService::new(self.store.clone(), self.config);
        AppState::of(self.store, election, self.registration)
    }

    /// A state continuing the election on the store after a restart: the
    /// board is replayed through the engine, with the server journal at
    /// `journal` (spec/api.md §A6). Blocks; call before serving.
    pub fn resume(
        self,
        journal: &std::path::Path,
    ) -> Result<(AppState, election::ResumeReport), election::ResumeError> {
        let (election, report) = ElectionService::resume(self.store.clone(), self.config, journal)?;
        Ok((
            AppState::of(self.store, election, self.registration),
            report,
        ))
    }
}

impl AppState {
    /// A builder of the state serving `store`, with an election
    /// configured by `config`.
    pub fn builder(store: BoardStore, config: ElectionConfig) -> AppStateBuilder {
        AppStateBuilder {
            store,
            config,
            registration: None,
        }
    }

    fn of(
        store: BoardStore,
        election: ElectionService,
        registration: Option<RegistrationService>,
    ) -> Self {
        AppState {
            store,
            election,
            web: web::WebAssets::default(),
            cosignatures: board::Cosignatures::default(),
            registration,
            limits: crate::limits::Limits::default(),
        }
    }

    /// State serving `store`, with the election API on the system clock and
    /// admin endpoints disabled.
    pub fn new(store: BoardStore) -> Self {
        Self::with_election(store, ElectionConfig::default())
    }

    /// State serving `store` and an election configured by `config`.
    pub fn with_election(store: BoardStore, config: ElectionConfig) -> Self {
        Self::builder(store, config).build()
    }

    /// Also serves the built web app (`web/dist`) from `dir` at `/` and `/web/`.
    pub fn with_web(mut self, dir: std::path::PathBuf) -> Self {
        self.web = web::WebAssets::new(dir);
        self
    }

    /// State continuing the election on `store` after a restart: the
    /// board is replayed through the engine, with the server journal at
    /// `journal` (spec/api.md §A6). Blocks; call before serving.
    pub fn resume(
        store: BoardStore,
        config: ElectionConfig,
        journal: &std::path::Path,
    ) -> Result<(Self, election::ResumeReport), election::ResumeError> {
        Self::builder(store, config).resume(journal)
    }

    /// Accepts observers' cosignatures only from these keys (by default,
    /// from any key whose cosignature verifies; spec/board.md §B10).
    pub fn with_observers(self, keys: Vec<urna_board::VerifierKey>) -> Self {
        self.cosignatures.restrict_to(keys);
        self
    }

    /// Serves under these connection and read limits (spec/api.md §A8)
    /// instead of the defaults.
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The election service (snapshots, a follower's catch-up: spec/api.md §A6.3).
    pub fn election(&self) -> &ElectionService {
        &self.election
    }

    /// The board store.
    pub fn store(&self) -> &BoardStore {
        &self.store
    }
}
