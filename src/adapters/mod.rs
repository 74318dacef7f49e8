//! What implements the ports (`ports.rs`): [`aws`], the AWS SDK (every AWS
//! call the function makes is in there), and [`fake`], an in-memory AWS for
//! what a real server cannot be made to do (lost answers, hung calls, a
//! crash between two calls, time passing). `tests/contract.rs` holds the
//! two to the same assertions.

pub mod aws;
pub mod fake;
