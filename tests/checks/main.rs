//! What `template.yaml` deploys, checked from the file itself:
//! - least privilege: no IAM statement allows a `*` action or resource, and
//!   none allows a write outside the artifacts prefix, the layer's lease or
//!   this stack's own resources (the checker is itself tested on a template that breaks each
//!   rule, so it can fail);
//! - no recursion: nothing the function writes matches its S3 trigger.
//!
//! CloudFormation's `!Sub`, `!Ref` and `!GetAtt` tags are read as their
//! plain values (`!GetAtt Queue.Arn` is `Queue.Arn`).
//!
//! Beside it, with no AWS at all: the documentation's links and anchors
//! (`docs`), the library's modules depending on each other one way
//! (`modules`), property tests of what untrusted input reaches
//! (`properties`), the SDK side of the ports against answers moto never
//! gives (`sdk_adapter`), and the real binary as Lambda starts it
//! (`binary`).
//!
//! One binary, one module per topic; `support` holds what the template's
//! share.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod docs;
mod modules;
mod packaging;
mod parameters;
mod privilege;
mod properties;
mod sdk_adapter;
mod support;
mod triggers;
