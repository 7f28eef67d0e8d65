//! Integration tests: the real server over HTTP, on SQLite by default or on
//! PostgreSQL when SCIMITAR_TEST_POSTGRES_URL is set. One binary, so that
//! the suite links once.

mod capture;
mod console_client;
mod sso_provider;
mod support;

mod abuse_tenants;
mod advisor;
mod audit_api;
mod audit_intake;
mod audit_params;
mod audit_recording;
mod audit_retention;
mod audit_signing;
mod audit_streams;
mod audit_tampering;
mod audit_trail_actions;
mod authority;
mod cli;
mod cli_commands;
mod console;
mod console_sso;
mod console_token_edit;
mod cross_edge_audit;
mod example_service;
mod group_mappings;
mod hostile_input;
mod http_hygiene;
mod instances;
mod kek_adoption;
mod members_and_sessions;
mod memory;
mod metrics;
mod openapi;
mod personal_tokens;
mod rate_limits;
mod scim_bulk;
mod scim_dialects;
mod scim_filters;
mod scim_groups;
mod scim_limits;
mod scim_paging;
mod scim_passwords;
mod scim_protocol;
mod scim_users;
mod security_headers;
mod service_tokens;
mod sso;
mod token_verification;
mod trusted_proxies;
mod workspaces;
