//! The network edge: the accept loop with connection admission, and one task per connection.

pub mod conn;
pub mod server;
mod subscriptions;
pub mod tls;
