//! One integration test binary, so it links once.

mod bad_input;
mod cli;
mod concurrency;
mod contract;
mod engine_model;
mod faults;
mod infinite_blue;
mod isolation;
mod junos_space;
mod library;
mod oracle_sdm;
mod process;
mod props;
mod python;
mod resources;
mod schema;
mod security;
mod sensnet;
mod storware;
mod tls;
// Helpers shared by the profile tests; not every profile uses every one.
#[allow(dead_code)]
mod support;
