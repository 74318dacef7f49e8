//! The domain, pure: what the function reads and decides, with no I/O.
//! Nothing here calls AWS, sleeps or reads the clock, so every rule is
//! tested directly.
//!
//! - [`event`]: S3 notification, EventBridge event or SQS batch → uploads;
//! - [`layout`]: the S3 keys of a layer's folder; [`values`]: the plain
//!   values the ports carry (objects, versions, requests);
//! - [`metadata`] and [`manifest`]: what an upload carries about its lock
//!   file; [`layer_zip`]: what is publishable; [`zip_directory`]: a zip's
//!   entries, read from its end; [`layer_checks`]: would the layer load where
//!   it is declared to ([`declared`]: runtimes, architectures, licence); [`lockfile`]: whether a
//!   requirements file pins every package; [`allowed`]: `ALLOWED_LAYERS`;
//! - [`settings`]: a record's settings, resolved once;
//! - [`decide`]: change detection and every other decision of one record
//!   (the plan); [`lease_state`]: the layer's lease as a listing shows it;
//! - [`outcome`]: what each record answers; [`receipt`]: what CI reads of
//!   it; [`dates`]: Lambda's dates.

pub mod allowed;
pub mod dates;
pub(crate) mod decide;
pub mod declared;
pub mod event;
pub mod layer_checks;
pub mod layer_zip;
pub mod layout;
pub mod lease_state;
pub mod lockfile;
pub mod manifest;
pub mod metadata;
pub mod outcome;
pub mod receipt;
pub mod settings;
pub(crate) mod values;
pub mod zip_directory;
