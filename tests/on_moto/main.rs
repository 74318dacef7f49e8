//! Against a moto server, through the real SDK: the handler end to end
//! (each test uploads as CI would, invokes the handler with the event S3
//! would send, and checks the layer versions and S3 objects afterwards, not
//! only the returned outcome), the ports' contract beside the in-memory AWS,
//! the calls each outcome makes, the three ways in, hostile input, the real
//! binary as several processes, `layerctl`, and the seed's own code.
//!
//! One binary (each links the SDK once), one module per topic; `support`
//! and `common` hold what they share.

#[path = "../common/mod.rs"]
mod common;

mod burst;
mod call_counts;
mod contract;
mod deliveries;
mod deployed;
mod deploying;
mod events;
mod hand_over;
mod hostile_input;
mod kms;
mod layerctl;
mod legacy;
mod lifecycle;
mod packaging;
mod processes;
mod publish;
mod real_layers;
mod refusals;
mod rights;
mod seed;
mod support;
mod sweep;
mod waiting;
