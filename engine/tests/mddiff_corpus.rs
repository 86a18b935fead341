//! `mddiff` on real mail: the SpamAssassin public corpus (6,046 messages)
//! laid out as a Maildir, one folder per category, `cur/NAME:2,S`.
//!
//! `scripts/fetch-corpus` puts the corpus under `target/corpus/`.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use common::*;

const MESSAGES: usize = 6046;

fn corpus_dir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/corpus/spam-assassin");
    assert!(
        dir.join(".complete").exists(),
        "the real-mail corpus is missing at {}: run scripts/fetch-corpus first",
        dir.display()
    );
    dir
}

/// Copies the corpus into `Maildir/<category>/cur/<stem>:2,S` and returns
/// each message's name and contents.
fn lay_out(s: &Sandbox) -> HashMap<String, Vec<u8>> {
    let corpus = corpus_dir();
    let mut messages = HashMap::new();
    let mut categories: Vec<_> = fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    for category in categories {
        let folder = format!(
            "Maildir/{}/cur",
            category.file_name().unwrap().to_str().unwrap()
        );
        s.mkdir(&folder);
        for entry in fs::read_dir(&category).unwrap() {
            let path = entry.unwrap().path();
            let Some(stem) = path
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .strip_suffix(".txt")
            else {
                continue;
            };
            let content = fs::read(&path).unwrap();
            let name = format!("{folder}/{stem}:2,S");
            fs::write(s.at(&name), &content).unwrap();
            messages.insert(name, content);
        }
    }
    assert_eq!(messages.len(), MESSAGES, "corpus incomplete");
    messages
}

#[test]
fn the_real_mail_corpus_scans_rescans_and_moves() {
    let s = Sandbox::new();
    let messages = lay_out(&s);

    // First scan: an ADD for each message, or a COPY of the first one met
    // with the same contents.
    let run = s.run(&["Maildir"]);
    let lines = run.ok();
    assert_eq!(lines.len(), MESSAGES, "{}", run.stderr);
    let mut first_with: HashMap<Vec<u8>, String> = HashMap::new();
    let mut named = 0;
    for line in &lines {
        let text = String::from_utf8(line.clone()).expect("corpus names are ASCII");
        let words: Vec<&str> = text.split(' ').collect();
        let name = if words[0] == "ADD" {
            assert_eq!(words.len(), 4, "{text}");
            words[1]
        } else {
            assert_eq!(words[0], "COPY", "{text}");
            assert_eq!(words.len(), 6, "{text}");
            words[5]
        };
        let content = &messages[name];
        assert_eq!(
            format!("{} {}", words[2], words[3]),
            pair(content),
            "{name}"
        );
        match first_with.get(content) {
            Some(first) => assert_eq!(words[..2], ["COPY", first.as_str()], "{text}"),
            None => {
                assert_eq!(words[0], "ADD", "{text}");
                first_with.insert(content.clone(), name.to_owned());
            }
        }
        named += 1;
    }
    assert_eq!(named, MESSAGES);

    let expected_db: Vec<Vec<u8>> = messages.iter().map(|(n, c)| dbline(n, c)).collect();
    s.assert_new_db(&expected_db);

    // Rescan with the cache: nothing to say, and the same db bytes.
    s.promote_trusted();
    let db = s.read("db.txt");
    s.run(&["Maildir"]).diff_is(&[]);
    assert_eq!(s.new_db(), db);

    // 1 % of the messages get a flag: exactly those MOVEs.
    let mut names: Vec<&String> = messages.keys().collect();
    names.sort();
    let mut expected = Vec::new();
    for name in names.iter().step_by(100) {
        let to = format!("{}RS", name.strip_suffix('S').unwrap());
        s.rename(name.as_str(), &to);
        expected.push(mv(name, &to, &messages[*name]));
    }
    assert_eq!(expected.len(), 61);
    s.run(&["Maildir"]).diff_is(&expected);
    assert_eq!(s.new_db_sorted().len(), MESSAGES);
}
