//! The network edge: the accept loop with connection admission, and one task per connection.

mod budget;
pub mod conn;
mod lanes;
pub mod limits;
mod outbound;
mod pending;
mod preface;
pub mod server;
mod session;
pub mod shield;
mod subscriptions;
mod timed_codec;
pub mod tls;
