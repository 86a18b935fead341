//! `smd-uniform-names`: before the first sync of mailboxes that already
//! hold the same mail under different names (offlineimap embeds `,U=`
//! numbers in names), write `~/smd-rename.sh`, which renames the local
//! messages to the server's names, so that the first sync transfers
//! nothing.
//!
//! The local mailbox is scanned into `~/.smd/rename-db`, that db is sent to
//! the server, and a special pull compares the server's mailbox with it:
//! every server message whose content is here under another name becomes
//! a rename in the script.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::process::Stdio;

use crate::config::Config;
use crate::diff::DiffOptions;
use crate::protocol::client::{run_client, ClientOptions};
use crate::protocol::DbPaths;
use crate::scan::{scan, DbSaving, ScanRequest};
use crate::sync::remote_command;
use crate::url;
use crate::workarea;

/// The db of the local mailbox, in `~/.smd/`, as the server sees it.
const RENAME_DB: &str = "~/.smd/rename-db";

/// Writes `~/smd-rename.sh` for `config`. Fails when the endpoint was
/// already synchronized: renaming then would undo what the db records.
pub fn write_rename_script(
    home: &Path,
    config: &Config,
    verbose: bool,
) -> Result<(), String> {
    let db = DbPaths::for_endpoint(home, &config.client_name, &config.mailbox_remote);
    if db.db.exists() {
        return Err(format!(
            "found the db-file {}: this tool only works before the first sync",
            db.db.display()
        ));
    }

    let rename_db = home.join(".smd").join("rename-db");
    let result = scan_send_and_compare(home, config, &rename_db, verbose);
    for suffix in ["", ".new", ".mtime", ".mtime.new"] {
        let _ = fs::remove_file(crate::db::with_suffix(&rename_db, suffix));
    }
    result
}

fn scan_send_and_compare(
    home: &Path,
    config: &Config,
    rename_db: &Path,
    verbose: bool,
) -> Result<(), String> {
    // 1. The local mailbox, named as on the server.
    let base = if config.translator_lr.is_some() {
        workarea::build(home, config).map_err(|f| f.message)?
    } else {
        home.to_owned()
    };
    for suffix in ["", ".mtime"] {
        let _ = fs::remove_file(crate::db::with_suffix(rename_db, suffix));
    }
    let request = ScanRequest {
        base,
        roots: config
            .mailbox_remote
            .iter()
            .map(|m| url::decode(m.as_bytes()))
            .collect(),
        excludes: config
            .exclude_local
            .iter()
            .map(|e| url::decode(e.as_bytes()))
            .collect(),
        db_file: rename_db.to_owned(),
        options: DiffOptions::default(),
        saving: DbSaving::Always,
    };
    scan(&request, &mut |_| {})
        .map_err(|e| format!("unable to scan the local mailbox: {e}"))?;
    fs::rename(crate::db::with_suffix(rename_db, ".new"), rename_db)
        .map_err(|e| format!("unable to save {}: {e}", rename_db.display()))?;

    // 2. The server gets that db.
    let mut words = vec![
        "smd-server".to_owned(),
        "--dump-stdin".to_owned(),
        RENAME_DB.to_owned(),
    ];
    words.push(config.client_name.clone());
    words.extend(config.mailbox_remote.iter().cloned());
    let db_file = File::open(rename_db).map_err(|e| e.to_string())?;
    let status = remote_command(home, config, &words)
        .stdin(Stdio::from(db_file))
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("unable to reach the server: {e}"))?;
    if !status.success() {
        return Err(
            "the server did not accept the local db (smd-server --dump-stdin failed)"
                .into(),
        );
    }

    // 3. A pull that only computes renames.
    let mut words = vec!["smd-server".to_owned()];
    for exclude in &config.exclude_remote {
        words.push("--exclude".to_owned());
        words.push(exclude.clone());
    }
    words.extend(
        ["--no-move", "--stop-after-diff", "--override-db", RENAME_DB].map(str::to_owned),
    );
    words.push(config.client_name.clone());
    words.extend(config.mailbox_remote.iter().cloned());
    let mut server = remote_command(home, config, &words)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("unable to reach the server: {e}"))?;
    let mut reader = BufReader::new(server.stdout.take().expect("stdout is piped"));
    let mut writer = BufWriter::new(server.stdin.take().expect("stdin is piped"));

    let options = ClientOptions {
        home: home.to_owned(),
        endpoint: config.client_name.clone(),
        mailboxes: config.mailbox_remote.clone(),
        verbose,
        translator: config.translator_rl.clone(),
        rename_only: true,
        override_db: Some(rename_db.to_owned()),
        ..ClientOptions::default()
    };
    let mut log = crate::cli::StderrLog::new(verbose);
    let outcome = run_client(&options, &mut reader, &mut writer, &mut log, &mut |_| {});
    let _ = writer.flush();
    drop(writer);
    let server_ok = server.wait().is_ok_and(|s| s.success());
    if let Some(failure) = outcome.failure {
        return Err(failure.message);
    }
    if !server_ok {
        return Err("the server failed while computing the renames".into());
    }
    println!(
        "Please check and run: {}",
        home.join("smd-rename.sh").display()
    );
    Ok(())
}
