//! Secrets Manager (placeholder: the lead's schedule and password modules; the service lands
//! from its branch).

pub mod password;
pub mod schedule;
