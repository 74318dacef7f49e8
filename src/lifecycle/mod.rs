//! The lifecycle parts that follow a publish, each on only when configured:
//! the latest version's pointer in SSM ([`pointer`]), sharing with other
//! accounts ([`sharing`]), the functions that follow the layer
//! ([`followers`]), the versions kept ([`retention`]), the other regions
//! ([`replicas`]) and an event per new version ([`announce`]). Each module
//! holds its setting's parsing, its rule (pure, tested on its own) and its
//! act: a function given the ports, the setting and the version, which
//! `publish/write.rs` runs in order after each publish (`after_publish`).
//! Nothing here knows the publisher or the configuration, which imports the
//! parsers from here; the other regions' act is a publish, in
//! `publish/replicate.rs`.

pub(crate) mod announce;
pub mod followers;
pub mod pointer;
pub mod replicas;
pub mod retention;
pub mod sharing;
