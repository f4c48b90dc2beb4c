//! One module per subcommand (or per small family of them).

pub mod bench;
pub mod check;
pub mod decode;
pub mod diff;
pub mod history;
pub mod host;
pub mod inspect;
pub mod merge;
pub mod record;
pub mod review;
pub mod snapshot;
pub mod verify;
