//! The server's integration tests, one binary: each module links the whole
//! server, so five binaries meant five links of it on every change.

mod common;
mod cuttable_link;
mod nats_server;
mod process;

mod bad_input;
mod behind_proxy;
mod cluster;
mod connections;
mod crash;
mod operations;
mod protocol;
mod skeleton;
mod socket_limits;
mod storage;
mod upgrade;
