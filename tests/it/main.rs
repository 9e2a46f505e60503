//! Integration tests: real `redis-server` processes, real arena instances, real Socket.IO
//! clients. One test binary (one link) with one harness.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod harness;

mod admin;
mod auth;
mod battles;
mod bench;
mod cli;
mod cluster;
mod cluster_battle_failover;
mod cluster_failover;
mod cluster_namespace;
mod cluster_rooms;
mod coding;
mod demo;
mod doctor;
mod drain;
mod faults;
mod fuzz;
mod honesty;
mod http;
mod hunt;
mod input;
mod intake;
mod judge;
mod locks;
mod logs;
mod matchmaking;
mod metrics;
mod openapi;
mod problems;
mod records;
mod rooms;
mod rooms_sharded;
mod ticks;
mod tls;
mod types;
mod zone;
