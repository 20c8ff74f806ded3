//! The election's [`Registrar`] under voter registration: the only way
//! the election reaches the registry (may this session register this
//! credential, may this credential cast, settle a reservation, mark who
//! voted online; spec/registration.md §G4, §G9).

use axum::http::HeaderMap;
use urna_registry::RegistryError;

use super::{RegistrationService, api, in_place};
use crate::election::{CredentialRequest, Registrar};
use crate::error::ApiError;

/// The [`Registrar`] of voter registration: the request's session must be
/// an approved voter's, the precinct that voter's, and the credential is
/// kept with the application (one per application).
#[derive(Debug, Clone)]
pub struct VoterRegistrar(pub(super) RegistrationService);

impl Registrar for VoterRegistrar {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        in_place(|| self.0.session(headers)).map(|_| ())
    }

    fn authorize_credential(
        &self,
        headers: &HeaderMap,
        request: &CredentialRequest<'_>,
    ) -> Result<(), ApiError> {
        in_place(|| {
            let voter = self.0.session(headers)?;
            let reg = &self.0.0.registry;
            let e = reg.enrolment(&voter).map_err(api)?;
            let district = self.0.0.geography.locate(&e.precinct).map(|(d, _)| d);
            if e.precinct != request.precinct || district != Some(request.district) {
                return Err(api(RegistryError::refused(
                    "wrong_precinct",
                    format!(
                        "you vote in precinct `{}` of district `{}`",
                        e.precinct,
                        district.unwrap_or("?")
                    ),
                )));
            }
            reg.register_credential(&voter, request.credential)
                .map_err(api)?;
            Ok(())
        })
    }

    fn authorize_ballot(&self, credential: &[u8; 32]) -> Result<(), ApiError> {
        in_place(|| self.0.0.registry.reserve_cast(credential).map_err(api))
    }

    fn ballot_refused(&self, credential: &[u8; 32]) {
        // A reservation left behind only holds off this voter's withdrawal
        // (until the ballot's mark or an operator clears it): logged.
        if let Err(e) = in_place(|| self.0.0.registry.release_cast(credential)) {
            tracing::error!(error = %e, "could not release a casting reservation");
        }
    }

    fn unsettled(&self) -> Result<Vec<[u8; 32]>, ApiError> {
        let casting = in_place(|| self.0.0.registry.casting()).map_err(api)?;
        Ok(casting.into_iter().map(|(c, _)| c).collect())
    }

    fn settle(&self, on_board: &[[u8; 32]], not_on_board: &[[u8; 32]]) -> Result<(), ApiError> {
        in_place(|| self.0.0.registry.settle_casting(on_board, not_on_board)).map_err(api)
    }

    fn standing(&self, credentials: &[[u8; 32]]) -> Result<Vec<bool>, ApiError> {
        in_place(|| self.0.0.registry.standing(credentials).map_err(api))
    }

    fn ballots_recorded(&self, credentials: &[[u8; 32]]) {
        for c in credentials {
            // The ballot is on the board whatever happens here; a storage
            // fault only delays the voted-online mark, so it is logged.
            if let Err(e) = self.0.0.registry.mark_voted(c) {
                tracing::error!(error = %e, "could not mark a credential as voted");
            }
        }
    }
}
