fn main() -> std::process::ExitCode {
    scimitar::app::main()
}
