//! urna-crypto
