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
//! One module per topic; `support` holds what they share.

mod parameters;
mod privilege;
mod support;
mod triggers;
