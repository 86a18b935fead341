//! A command-line wrapper for trying the crate on real files, with the same
//! argument order as xdelta3:
//!
//! ```text
//! cargo run --release -p smd-vcdiff --example vcdiff -- encode OLD NEW DELTA
//! cargo run --release -p smd-vcdiff --example vcdiff -- decode OLD DELTA NEW
//! ```

use std::error::Error;
use std::time::Instant;
use std::{env, fs, process};

fn main() {
    if let Err(error) = run() {
        eprintln!("vcdiff: {error}");
        process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = env::args().skip(1).collect();
    let [command, source, input, output] = args.as_slice() else {
        return Err(
            "usage: vcdiff encode OLD NEW DELTA | vcdiff decode OLD DELTA NEW".into(),
        );
    };

    let source = fs::read(source)?;
    let input = fs::read(input)?;
    let started = Instant::now();
    let result = match command.as_str() {
        "encode" => vcdiff::encode(&source, &input),
        "decode" => vcdiff::decode(&source, &input, usize::MAX)?,
        _ => return Err(format!("unknown command {command:?}").into()),
    };
    let elapsed = started.elapsed();

    fs::write(output, &result)?;
    eprintln!("{command}: {} bytes in {elapsed:?}", result.len());
    Ok(())
}
