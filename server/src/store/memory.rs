//! In-memory store (simulation and unit tests only).
