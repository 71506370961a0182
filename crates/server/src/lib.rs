//! HTTP: TAXII 2.1 and the REST API.
