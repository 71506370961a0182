//! Organisations, sharing groups, collections, the access policy and ingest.
