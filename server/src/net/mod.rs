//! The network edge: the accept loop with connection admission, and one task per connection.

pub mod conn;
mod lanes;
mod preface;
pub mod server;
mod subscriptions;
mod timed_codec;
mod writer;
