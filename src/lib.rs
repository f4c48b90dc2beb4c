//! machine-abi library.
