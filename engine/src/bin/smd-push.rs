//! `smd-push`: send what changed here to the server. See `smd::pushpull`.

fn main() -> std::process::ExitCode {
    smd::pushpull::main(smd::sync::Direction::Push)
}
