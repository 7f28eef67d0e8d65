/// mimalloc rather than glibc's malloc: see Cargo.toml. Set here, in the
/// binary, so that the library's users (and its tests) keep their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scimitar::app::main()
}
