//! The Sync Mail Dir engine: everything the command-line tools and the
//! applet share, with no user interface in it.
//!
//! - [`message`], [`sha`]: a message's identity (header and body digests);
//! - [`walk`], [`examine`]: finding messages below mailbox roots and
//!   hashing the ones the db cannot vouch for;
//! - [`db`]: the db-file of the last sync;
//! - [`diff`], [`scan`]: the commands that bring a copy up to date;
//! - [`url`], [`fnmatch`]: name escaping and exclude patterns;
//! - [`durable`]: crash-safe file replacement.

pub mod checkconf;
pub mod cli;
pub mod config;
pub mod db;
pub mod diff;
pub mod durable;
pub mod examine;
pub mod fnmatch;
pub mod getopt;
pub mod hooks;
pub mod interrupt;
pub mod lock;
pub mod maildir;
pub mod message;
pub mod protocol;
pub mod pushpull;
pub mod restricted;
pub mod scan;
pub mod schedule;
pub mod sha;
pub mod ssh_failure;
pub mod sync;
pub mod tags;
pub mod translate;
pub mod translator;
pub mod uniform;
pub mod url;
pub mod walk;
pub mod workarea;
