//! The handler end to end against a moto server: each test uploads as CI
//! would, invokes the handler with the event S3 would send, and checks the
//! layer versions and S3 objects afterwards, not only the returned outcome.
//!
//! One module per topic; `support` holds what they share.

#[path = "../common/mod.rs"]
mod common;

mod events;
mod hand_over;
mod legacy;
mod lifecycle;
mod publish;
mod refusals;
mod support;
