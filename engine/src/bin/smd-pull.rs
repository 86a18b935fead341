//! `smd-pull`: fetch what changed on the server. See `smd::pushpull`.

fn main() -> std::process::ExitCode {
    smd::pushpull::main(smd::sync::Direction::Pull)
}
