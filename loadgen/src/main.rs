//! `loadgen --help`: plays games against a running server and prints how
//! it held up. Exits 1 when any step failed or the time limit cut it short.

use clap::Parser;
use loadgen::{Args, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let summary = run(&args).await;
    if args.json {
        match serde_json::to_string(&summary) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("summary: {error}"),
        }
    } else {
        print!("{summary}");
    }
    if summary.clean() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
