//! The Store on SQLite.
