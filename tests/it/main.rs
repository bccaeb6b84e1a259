//! One integration test binary, so it links once.

mod cli;
mod contract;
mod engine_model;
mod junos_space;
mod library;
mod storware;
// Helpers shared by the profile tests; not every profile uses every one.
#[allow(dead_code)]
mod support;
