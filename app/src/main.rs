fn main() -> std::process::ExitCode {
    smd_applet::main()
}
