//! Comparisons, bytes first and decoded on mismatch: guest-visible facts
//! ([`facts`]), host-side facts ([`host`]), migration stream schemas
//! ([`vmstate`]), device trees ([`dtb`]) and the compat tables of two
//! binaries ([`compat`]);
//! records made by different probes ([`probes`]).

pub mod compat;
pub mod dtb;
pub mod facts;
pub mod host;
pub mod memo;
pub mod probes;
pub mod vmstate;
