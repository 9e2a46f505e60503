//! Tools around the server, beside the edge: `arena demo` (`launcher`, with a managed
//! `redis_server`), `arena bench`, `arena token`, `arena problems` (`problems`: list and
//! check the problem bank), and the small clients they and the tests use
//! (`client` for Socket.IO, `http_client` for loopback HTTP). Nothing in the server
//! layers uses them.

pub mod bench;
pub mod client;
pub mod doctor;
pub mod http_client;
pub mod launcher;
pub mod problems;
pub mod redis_server;
pub mod token;
