//! A model server for the Demo node, as NGC is for a real FLUX node: serves
//! generated "weights" on loopback until stopped. `scripts/demo` runs it.
//!
//! Usage: `demo-model-server [--token TOKEN] [--mib SIZE]`; prints its URL
//! on the first line of standard output.

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut token, mut mib) = (None, 64u64);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--token" => token = args.next(),
            "--mib" => mib = args.next().and_then(|v| v.parse().ok()).unwrap_or(mib),
            other => {
                eprintln!("demo-model-server: unknown argument `{other}`; usage: demo-model-server [--token TOKEN] [--mib SIZE]");
                std::process::exit(2);
            }
        }
    }
    let server = testkit::model_server::ModelServer::demo(mib << 20);
    server.set_token(token.as_deref());
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    // Serves until the process is stopped.
    loop {
        std::thread::park();
    }
}
