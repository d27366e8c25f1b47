//! The seat-map state machine.
