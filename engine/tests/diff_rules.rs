//! The diff rules through the library: `smd::diff::diff` on a db, a list
//! of files and what examining each one found, chosen by the test.
//!
//! A `FileList` can only be built by walking a real tree (its `push` is
//! private), so each test lays out empty files in a temporary folder and
//! walks it; their contents never matter here, since the test says what
//! examining each file found.

use std::collections::HashMap;

use smd::db::Db;
use smd::diff::{diff, Command, DiffOptions, DiffOutcome, MassDeletion, Skipped};
use smd::examine::Examined;
use smd::message::{hash_bytes, MessageHash};
use smd::sha::Sha;
use smd::walk::{FileList, Walker};

/// A message identity from a header and a body text.
fn mh(header: &str, body: &str) -> MessageHash {
    MessageHash {
        header: Sha::of(header.as_bytes()),
        body: Sha::of(body.as_bytes()),
    }
}

fn hash_text(hash: MessageHash) -> String {
    format!("{} {}", hash.header, hash.body)
}

/// A scanned tree: the files below `M/` in walk order.
struct Tree {
    _dir: tempfile::TempDir,
    files: FileList,
}

impl Tree {
    fn new(names: &[&str]) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("M")).unwrap();
        let roots = [b"M".to_vec()];
        let mut warnings = Vec::new();
        let files = Walker {
            base: dir.path(),
            roots: &roots,
            excludes: &[],
        }
        .messages(&mut warnings)
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(files.len(), names.len());
        Tree { _dir: dir, files }
    }
}

fn db_of(entries: &[(&str, MessageHash)]) -> Db {
    let mut db = Db::new();
    for (name, hash) in entries {
        db.push(name.as_bytes(), *hash);
    }
    db
}

struct Outcome<'a> {
    lines: Vec<String>,
    result: DiffOutcome<'a>,
}

impl Outcome<'_> {
    fn db_lines(&self) -> Vec<String> {
        let mut bytes = Vec::new();
        self.result.db.write_to(&mut bytes).unwrap();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Runs the diff. `found` says, for every walked file, what examining it
/// found; the db entry of a file is looked up by name.
fn run<'a>(
    db: &'a Db,
    tree: &'a Tree,
    found: &[(&str, Examined)],
    options: DiffOptions,
) -> Outcome<'a> {
    let by_name: HashMap<&[u8], &Examined> =
        found.iter().map(|(n, e)| (n.as_bytes(), e)).collect();
    assert_eq!(by_name.len(), tree.files.len(), "say what each file is");
    let mut known = Vec::new();
    let mut examined = Vec::new();
    for index in 0..tree.files.len() {
        let name = tree.files.name(index);
        known.push(
            (0..db.len())
                .find(|&e| db.name(e) == name)
                .map(|e| e as u32),
        );
        examined.push((*by_name.get(name).expect("every file described")).clone());
    }
    let mut lines = Vec::new();
    let repeated = smd::diff::NameIndex::new().repeated(db, &known);
    let result = diff(
        db,
        &tree.files,
        &known,
        &repeated,
        &[],
        &examined,
        options,
        &mut |c| {
            let mut line = Vec::new();
            c.write_line(&mut line);
            assert_eq!(line.pop(), Some(b'\n'));
            lines.push(String::from_utf8(line).unwrap());
        },
    )
    .expect("the deletion guard is off or satisfied");
    Outcome { lines, result }
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

fn hashed(hash: MessageHash) -> Examined {
    Examined::Hashed(hash)
}

const DEFAULT: DiffOptions = DiffOptions {
    no_delete: false,
    no_move: false,
    delete_guard_percent: None,
};

#[test]
fn trusted_and_unchanged_files_give_nothing() {
    let a = mh("A\n\n", "a");
    let b = mh("B\n\n", "b");
    let db = db_of(&[("M/cur/a", a), ("M/cur/b", b)]);
    let tree = Tree::new(&["M/cur/a", "M/cur/b"]);
    let out = run(
        &db,
        &tree,
        &[("M/cur/a", Examined::Trusted), ("M/cur/b", hashed(b))],
        DEFAULT,
    );
    assert!(out.lines.is_empty(), "{:?}", out.lines);
    assert!(out.result.skipped.is_empty());
    assert_eq!(
        out.db_lines(),
        [
            format!("{} M/cur/a", hash_text(a)),
            format!("{} M/cur/b", hash_text(b))
        ]
    );
}

#[test]
fn a_changed_body_is_replace_and_a_changed_header_replaceheader() {
    let a = mh("A\n\n", "a");
    let a2 = mh("A\n\n", "a changed");
    let b = mh("B\n\n", "b");
    let b2 = mh("B2\n\n", "b");
    let db = db_of(&[("M/cur/a", a), ("M/cur/b", b)]);
    let tree = Tree::new(&["M/cur/a", "M/cur/b"]);
    let out = run(
        &db,
        &tree,
        &[("M/cur/a", hashed(a2)), ("M/cur/b", hashed(b2))],
        DEFAULT,
    );
    assert_eq!(
        sorted(out.lines.clone()),
        [
            format!("REPLACE M/cur/a {} WITH {}", hash_text(a), hash_text(a2)),
            format!("REPLACEHEADER M/cur/b {} WITH {}", hash_text(b), b2.header),
        ]
    );
    assert_eq!(
        sorted(out.db_lines()),
        sorted(vec![
            format!("{} M/cur/a", hash_text(a2)),
            format!("{} M/cur/b", hash_text(b2))
        ])
    );
}

#[test]
fn a_gone_source_is_moved_or_copied_then_deleted_under_no_move() {
    let a = mh("A\n\n", "a");
    let db = db_of(&[("M/cur/a", a)]);
    let tree = Tree::new(&["M/cur/a:2,S"]);
    let found = [("M/cur/a:2,S", hashed(a))];

    let out = run(&db, &tree, &found, DEFAULT);
    assert_eq!(
        out.lines,
        [format!("MOVE M/cur/a {} TO M/cur/a:2,S", hash_text(a))]
    );
    assert_eq!(out.db_lines(), [format!("{} M/cur/a:2,S", hash_text(a))]);

    for no_delete in [false, true] {
        let options = DiffOptions {
            no_delete,
            no_move: true,
            delete_guard_percent: None,
        };
        let out = run(&db, &tree, &found, options);
        assert_eq!(
            out.lines,
            [
                format!("COPY M/cur/a {} TO M/cur/a:2,S", hash_text(a)),
                format!("DELETE M/cur/a {}", hash_text(a)),
            ],
            "no_delete = {no_delete}"
        );
        assert_eq!(out.db_lines(), [format!("{} M/cur/a:2,S", hash_text(a))]);
    }
}

#[test]
fn a_source_that_is_still_there_is_copied() {
    let a = mh("A\n\n", "a");
    let db = db_of(&[("M/cur/a", a)]);
    let tree = Tree::new(&["M/cur/a", "M/new/b"]);
    for still in [Examined::Trusted, hashed(a)] {
        let out = run(
            &db,
            &tree,
            &[("M/cur/a", still), ("M/new/b", hashed(a))],
            DEFAULT,
        );
        assert_eq!(
            out.lines,
            [format!("COPY M/cur/a {} TO M/new/b", hash_text(a))]
        );
    }
}

#[test]
fn a_source_that_cannot_be_read_still_exists_for_copies() {
    // The peer has the message: copying its own copy is right, moving it
    // away would lose it.
    let a = mh("A\n\n", "a");
    let db = db_of(&[("M/cur/a", a)]);
    let tree = Tree::new(&["M/cur/a", "M/new/b"]);
    let out = run(
        &db,
        &tree,
        &[
            (
                "M/cur/a",
                Examined::Unreadable(
                    std::io::ErrorKind::PermissionDenied,
                    "denied".into(),
                ),
            ),
            ("M/new/b", hashed(a)),
        ],
        DEFAULT,
    );
    assert_eq!(
        out.lines,
        [format!("COPY M/cur/a {} TO M/new/b", hash_text(a))]
    );
}

#[test]
fn new_duplicates_are_an_add_then_copies_of_the_first() {
    let x = mh("X\n\n", "x");
    let tree = Tree::new(&["M/cur/1", "M/cur/2", "M/new/3"]);
    let empty = Db::new();
    let out = run(
        &empty,
        &tree,
        &[
            ("M/cur/1", hashed(x)),
            ("M/cur/2", hashed(x)),
            ("M/new/3", hashed(x)),
        ],
        DEFAULT,
    );
    let order: Vec<&[u8]> = (0..3).map(|i| tree.files.name(i)).collect();
    let first = String::from_utf8_lossy(order[0]);
    let mut expected = vec![format!("ADD {first} {}", hash_text(x))];
    for other in &order[1..] {
        expected.push(format!(
            "COPY {first} {} TO {}",
            hash_text(x),
            String::from_utf8_lossy(other)
        ));
    }
    assert_eq!(out.lines, expected);
    assert_eq!(out.result.db.len(), 3);
}

#[test]
fn copied_twice_then_removed_is_a_move_then_a_copy_of_the_moved() {
    let x = mh("X\n\n", "x");
    let db = db_of(&[("M/cur/x", x)]);
    let tree = Tree::new(&["M/cur/y", "M/cur/z"]);
    let out = run(
        &db,
        &tree,
        &[("M/cur/y", hashed(x)), ("M/cur/z", hashed(x))],
        DEFAULT,
    );
    let first = String::from_utf8_lossy(tree.files.name(0)).into_owned();
    let second = String::from_utf8_lossy(tree.files.name(1)).into_owned();
    assert_eq!(
        out.lines,
        [
            format!("MOVE M/cur/x {} TO {first}", hash_text(x)),
            format!("COPY {first} {} TO {second}", hash_text(x)),
        ]
    );
}

#[test]
fn a_known_body_with_a_new_header_is_copybody() {
    let a = mh("A\n\n", "shared");
    let b = mh("B\n\n", "shared");
    let db = db_of(&[("M/cur/a", a)]);
    let tree = Tree::new(&["M/cur/a", "M/cur/b"]);
    let out = run(
        &db,
        &tree,
        &[("M/cur/a", Examined::Trusted), ("M/cur/b", hashed(b))],
        DEFAULT,
    );
    assert_eq!(
        out.lines,
        [format!(
            "COPYBODY M/cur/a {} TO M/cur/b {}",
            a.body, b.header
        )]
    );
}

#[test]
fn a_moved_away_source_is_never_used_again() {
    // y is x moved; z has x's body under another header. After the MOVE,
    // the peer has no x any more: z must not be built from it.
    let x = mh("X\n\n", "shared");
    let z = mh("Z\n\n", "shared");
    let db = db_of(&[("M/cur/x", x)]);
    let tree = Tree::new(&["M/cur/y", "M/cur/z"]);
    let out = run(
        &db,
        &tree,
        &[("M/cur/y", hashed(x)), ("M/cur/z", hashed(z))],
        DEFAULT,
    );
    let moved = out
        .lines
        .iter()
        .position(|l| l.starts_with("MOVE M/cur/x "));
    let moved = moved.expect("x is moved to y");
    for line in &out.lines[moved + 1..] {
        assert!(
            !line.starts_with("COPYBODY M/cur/x ") && !line.starts_with("COPY M/cur/x "),
            "{:?}",
            out.lines
        );
    }
}

#[test]
fn a_changed_message_is_not_a_source_for_its_old_content() {
    // mv a b; echo new > a: the peer's a is replaced, so b must not be
    // copied or moved from a after that.
    let old = mh("A\n\n", "old");
    let new = mh("A\n\n", "new");
    let db = db_of(&[("M/cur/a", old)]);
    let tree = Tree::new(&["M/cur/a", "M/cur/b"]);
    let out = run(
        &db,
        &tree,
        &[("M/cur/a", hashed(new)), ("M/cur/b", hashed(old))],
        DEFAULT,
    );
    let replaced = out
        .lines
        .iter()
        .position(|l| l.starts_with("REPLACE M/cur/a "))
        .expect("a is replaced");
    for (at, line) in out.lines.iter().enumerate() {
        if line.starts_with("MOVE M/cur/a ") || line.starts_with("DELETE M/cur/a ") {
            panic!("a is still there: {:?}", out.lines);
        }
        if at > replaced && line.starts_with("COPY M/cur/a ") {
            panic!("copies the new a: {:?}", out.lines);
        }
    }
    assert!(out.lines.iter().any(|l| l.ends_with("M/cur/b")
        || l.starts_with("ADD M/cur/b ")
        || l.contains(" TO M/cur/b")));
}

#[test]
fn deletes_come_after_everything_else() {
    let gone: Vec<MessageHash> = (0..5).map(|i| mh(&format!("G{i}\n\n"), "g")).collect();
    let mut entries: Vec<(String, MessageHash)> = gone
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("M/cur/gone{i}"), *h))
        .collect();
    let kept = mh("K\n\n", "k");
    entries.push(("M/cur/kept".into(), kept));
    let refs: Vec<(&str, MessageHash)> =
        entries.iter().map(|(n, h)| (n.as_str(), *h)).collect();
    let db = db_of(&refs);
    let tree = Tree::new(&["M/cur/kept", "M/cur/new0", "M/cur/new1"]);
    let out = run(
        &db,
        &tree,
        &[
            ("M/cur/kept", hashed(mh("K2\n\n", "k"))),
            ("M/cur/new0", hashed(mh("N0\n\n", "n0"))),
            ("M/cur/new1", hashed(mh("N1\n\n", "n1"))),
        ],
        DEFAULT,
    );
    assert_eq!(out.lines.len(), 8, "{:?}", out.lines);
    let first_delete = out
        .lines
        .iter()
        .position(|l| l.starts_with("DELETE"))
        .unwrap();
    assert_eq!(first_delete, 3, "{:?}", out.lines);
    assert!(out.lines[3..].iter().all(|l| l.starts_with("DELETE")));
}

#[test]
fn no_delete_keeps_vanished_entries_out_of_the_diff() {
    let a = mh("A\n\n", "a");
    let db = db_of(&[("M/cur/a", a)]);
    let tree = Tree::new(&["M/cur/b"]);
    let b = mh("B\n\n", "b");
    let options = DiffOptions {
        no_delete: true,
        no_move: false,
        delete_guard_percent: None,
    };
    let out = run(&db, &tree, &[("M/cur/b", hashed(b))], options);
    assert_eq!(out.lines, [format!("ADD M/cur/b {}", hash_text(b))]);
}

#[test]
fn what_cannot_be_read_or_is_empty_keeps_its_entry() {
    let a = mh("A\n\n", "a");
    let b = mh("B\n\n", "b");
    let c = mh("C\n\n", "c");
    let db = db_of(&[("M/cur/a", a), ("M/cur/b", b), ("M/cur/c", c)]);
    let tree = Tree::new(&[
        "M/cur/a",
        "M/cur/b",
        "M/cur/c",
        "M/cur/new-unreadable",
        "M/cur/new-empty",
    ]);
    let denied =
        || Examined::Unreadable(std::io::ErrorKind::PermissionDenied, "denied".into());
    let out = run(
        &db,
        &tree,
        &[
            ("M/cur/a", Examined::Empty),
            ("M/cur/b", denied()),
            ("M/cur/c", Examined::NotRegular),
            ("M/cur/new-unreadable", denied()),
            ("M/cur/new-empty", Examined::Empty),
        ],
        DEFAULT,
    );
    assert!(out.lines.is_empty(), "{:?}", out.lines);
    assert_eq!(
        out.db_lines(),
        [
            format!("{} M/cur/a", hash_text(a)),
            format!("{} M/cur/b", hash_text(b)),
            format!("{} M/cur/c", hash_text(c)),
        ]
    );
    let skipped = &out.result.skipped;
    assert!(skipped.contains(&Skipped::EmptiedKnown {
        name: b"M/cur/a".to_vec()
    }));
    assert!(skipped.iter().any(|s| matches!(s,
        Skipped::Unreadable { name, known: true, .. } if name == b"M/cur/b")));
    assert!(skipped.iter().any(|s| matches!(s,
        Skipped::Unreadable { name, known: false, .. } if name == b"M/cur/new-unreadable")));
    assert!(skipped.contains(&Skipped::NotRegular {
        name: b"M/cur/c".to_vec()
    }));
    // Each is reported once.
    assert_eq!(skipped.len(), 4, "{skipped:?}");
}

#[test]
fn the_new_db_keeps_the_old_order_then_adds_in_scan_order() {
    let hashes: Vec<MessageHash> = (0..4)
        .map(|i| mh(&format!("H{i}\n\n"), &format!("{i}")))
        .collect();
    // Deliberately not in name order.
    let db = db_of(&[
        ("M/cur/d", hashes[3]),
        ("M/cur/b", hashes[1]),
        ("M/cur/gone", mh("G\n\n", "g")),
        ("M/cur/a", hashes[0]),
    ]);
    let tree = Tree::new(&["M/cur/a", "M/cur/b", "M/cur/d", "M/cur/n1", "M/cur/n2"]);
    let n1 = mh("N1\n\n", "n1");
    let n2 = mh("N2\n\n", "n2");
    let out = run(
        &db,
        &tree,
        &[
            ("M/cur/a", Examined::Trusted),
            ("M/cur/b", hashed(mh("B2\n\n", "1"))),
            ("M/cur/d", hashed(hashes[3])),
            ("M/cur/n1", hashed(n1)),
            ("M/cur/n2", hashed(n2)),
        ],
        DEFAULT,
    );
    let names: Vec<String> = out.db_lines().iter().map(|l| l[82..].to_owned()).collect();
    assert_eq!(&names[..2], ["M/cur/d", "M/cur/a"]);
    let mut rest_in_scan_order: Vec<String> = (0..tree.files.len())
        .map(|i| String::from_utf8_lossy(tree.files.name(i)).into_owned())
        .filter(|n| ["M/cur/b", "M/cur/n1", "M/cur/n2"].contains(&n.as_str()))
        .collect();
    assert_eq!(names[2..].to_vec(), std::mem::take(&mut rest_in_scan_order));
}

#[test]
fn every_command_line_is_spelled_like_smd() {
    let h = hash_bytes(b"S: x\n\nbody\n");
    let h2 = hash_bytes(b"S: y\n\nother\n");
    let hp = hash_text(h);
    let name: &[u8] = b"M/cur/a b%c\xff";
    let to: &[u8] = b"M/new/ %";
    let enc_name = b"M/cur/a%20b%25c\xff".as_slice();
    let enc_to = b"M/new/%20%25".as_slice();
    let line = |c: Command<'_>| {
        let mut out = Vec::new();
        c.write_line(&mut out);
        out
    };
    let cat = |parts: &[&[u8]]| parts.concat();

    assert_eq!(
        line(Command::Add { name, hash: h }),
        cat(&[b"ADD ", enc_name, b" ", hp.as_bytes(), b"\n"])
    );
    assert_eq!(
        line(Command::Copy {
            from: name,
            hash: h,
            to
        }),
        cat(&[
            b"COPY ",
            enc_name,
            b" ",
            hp.as_bytes(),
            b" TO ",
            enc_to,
            b"\n"
        ])
    );
    assert_eq!(
        line(Command::Move {
            from: name,
            hash: h,
            to
        }),
        cat(&[
            b"MOVE ",
            enc_name,
            b" ",
            hp.as_bytes(),
            b" TO ",
            enc_to,
            b"\n"
        ])
    );
    assert_eq!(
        line(Command::CopyBody {
            from: name,
            body: h.body,
            to,
            header: h2.header
        }),
        cat(&[
            b"COPYBODY ",
            enc_name,
            b" ",
            h.body.to_hex().as_bytes(),
            b" TO ",
            enc_to,
            b" ",
            h2.header.to_hex().as_bytes(),
            b"\n"
        ])
    );
    assert_eq!(
        line(Command::Delete { name, hash: h }),
        cat(&[b"DELETE ", enc_name, b" ", hp.as_bytes(), b"\n"])
    );
    assert_eq!(
        line(Command::ReplaceHeader {
            name,
            old: h,
            header: h2.header
        }),
        cat(&[
            b"REPLACEHEADER ",
            enc_name,
            b" ",
            hp.as_bytes(),
            b" WITH ",
            h2.header.to_hex().as_bytes(),
            b"\n"
        ])
    );
    assert_eq!(
        line(Command::Replace {
            name,
            old: h,
            new: h2
        }),
        cat(&[
            b"REPLACE ",
            enc_name,
            b" ",
            hp.as_bytes(),
            b" WITH ",
            hash_text(h2).as_bytes(),
            b"\n"
        ])
    );
}

#[test]
fn db_lines_round_trip_byte_for_byte() {
    let text: &[u8] = b"da39a3ee5e6b4b0d3255bfef95601890afd80709 \
0123456789abcdef0123456789abcdef01234567 M/cur/with space \xff %20\n\
ffffffffffffffffffffffffffffffffffffffff 0000000000000000000000000000000000000000 M/new/t\tab\n";
    let db = Db::read(text).unwrap();
    assert_eq!(db.len(), 2);
    assert_eq!(db.name(0), b"M/cur/with space \xff %20");
    assert_eq!(db.hash(0).header, Sha::EMPTY);
    let mut again = Vec::new();
    db.write_to(&mut again).unwrap();
    assert_eq!(again, text);
}

/// Runs the diff with the deletion guard, returning its verdict.
fn guarded(
    db: &Db,
    tree: &Tree,
    found: &[(&str, Examined)],
    percent: u32,
) -> Result<usize, MassDeletion> {
    let known: Vec<Option<u32>> = (0..tree.files.len())
        .map(|index| {
            let name = tree.files.name(index);
            (0..db.len())
                .find(|&e| db.name(e) == name)
                .map(|e| e as u32)
        })
        .collect();
    let examined: Vec<Examined> = (0..tree.files.len())
        .map(|index| {
            let name = tree.files.name(index);
            found
                .iter()
                .find(|(n, _)| n.as_bytes() == name)
                .expect("described")
                .1
                .clone()
        })
        .collect();
    let options = DiffOptions {
        delete_guard_percent: Some(percent),
        ..DEFAULT
    };
    let mut emitted = 0;
    diff(
        db,
        &tree.files,
        &known,
        &[],
        &[],
        &examined,
        options,
        &mut |_| emitted += 1,
    )
    .map(|_| emitted)
}

#[test]
fn the_deletion_guard_refuses_before_emitting_anything() {
    let hashes: Vec<MessageHash> = (0..4)
        .map(|i| mh(&format!("H{i}\n\n"), &i.to_string()))
        .collect();
    let db = db_of(&[
        ("M/cur/0", hashes[0]),
        ("M/cur/1", hashes[1]),
        ("M/cur/2", hashes[2]),
        ("M/cur/3", hashes[3]),
    ]);

    // Three of four gone: refused, and nothing was emitted.
    let tree = Tree::new(&["M/cur/0"]);
    let refusal = guarded(&db, &tree, &[("M/cur/0", Examined::Trusted)], 50).unwrap_err();
    assert_eq!(
        refusal,
        MassDeletion {
            deletions: 3,
            known: 4,
            percent: 50
        }
    );
    assert!(
        refusal.to_string().contains("--allow-mass-delete"),
        "{refusal}"
    );

    // The same three renamed (a flag change) are moves, not losses.
    let tree = Tree::new(&["M/cur/0", "M/cur/1:2,S", "M/cur/2:2,S", "M/cur/3:2,S"]);
    let found = [
        ("M/cur/0", Examined::Trusted),
        ("M/cur/1:2,S", hashed(hashes[1])),
        ("M/cur/2:2,S", hashed(hashes[2])),
        ("M/cur/3:2,S", hashed(hashes[3])),
    ];
    assert_eq!(guarded(&db, &tree, &found, 50), Ok(3));

    // One of four gone is within the limit; 100% turns nothing away.
    let tree = Tree::new(&["M/cur/0", "M/cur/1", "M/cur/2"]);
    let found = [
        ("M/cur/0", Examined::Trusted),
        ("M/cur/1", Examined::Trusted),
        ("M/cur/2", Examined::Trusted),
    ];
    assert_eq!(guarded(&db, &tree, &found, 50), Ok(1));
    let tree = Tree::new(&["M/cur/0"]);
    assert_eq!(
        guarded(&db, &tree, &[("M/cur/0", Examined::Trusted)], 100),
        Ok(3)
    );
}
