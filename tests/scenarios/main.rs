//! Exactly once under at-least-once delivery, on the in-memory AWS
//! (`layer_autopublish::adapters::fake`) with its manual clock: concurrent deliveries,
//! leases held, expired, refused; a crash or a failed write between the
//! publish and its records; objects changed while a record is processed.
//! No test here waits on the wall clock: tokio's runs paused, and moves on
//! when every task is waiting.
//!
//! One module per topic; `scene` holds what they share.

mod burst;
mod checks;
mod folders;
mod hand_over;
mod lease;
mod lifecycle;
mod lost_answers;
mod objects;
mod panics;
mod receipts;
mod records;
mod refusals;
mod regions;
mod scene;
mod sweep;
