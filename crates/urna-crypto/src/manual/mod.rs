//! Design notes, as rustdoc (in the manner of rustls' manual).
//!
//! - [`attacks`]: attacks on earlier voting systems and how this code avoids each.

pub mod attacks {
    #![doc = include_str!("attacks.md")]
}
