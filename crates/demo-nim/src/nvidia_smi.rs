//! A stand-in for `nvidia-smi -L`, run when the binary is called
//! `nvidia-smi` (a test image copies it to `/usr/bin/nvidia-smi`, where the
//! NVIDIA hook mounts the real one in a GPU container): lists the
//! `DEMO_NIM_GPUS` as the real one lists GPUs, or says none were found.

use std::process::ExitCode;

/// The real `nvidia-smi`'s exit code when it finds no GPU.
const NO_DEVICES: u8 = 6;

/// Whether the program was called as `nvidia-smi`.
pub fn called_as() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .is_some_and(|path| path.file_name().is_some_and(|name| name == "nvidia-smi"))
}

/// Prints `GPU <i>: <name> (UUID: GPU-demo-<i>)` per pretend GPU.
pub fn run() -> ExitCode {
    let gpus: Vec<String> = std::env::var("DEMO_NIM_GPUS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    if gpus.is_empty() {
        println!("No devices were found");
        return ExitCode::from(NO_DEVICES);
    }
    for (i, name) in gpus.iter().enumerate() {
        println!("GPU {i}: {name} (UUID: GPU-demo-{i})");
    }
    ExitCode::SUCCESS
}
