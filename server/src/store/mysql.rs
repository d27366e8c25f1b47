//! MySQL store.
