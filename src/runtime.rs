//! Side effects the controllers drive, each behind a small interface: processes
//! (spawn, signal, adopt), logs (bounded on-disk capture, the `log` subresource).

pub mod logs;
pub mod probe;
pub mod process;
