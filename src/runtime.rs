//! Side effects the controllers drive, each behind a small interface: processes
//! (spawn, signal, adopt, tags, watchdog), logs (bounded on-disk capture, the `log`
//! subresource), health probes, ports (machine-wide leases) and the L4 proxy in front
//! of replicas.

pub mod docker;
pub mod logs;
pub mod ports;
pub mod probe;
pub mod process;
pub mod proxy;
