//! Stand-alone `explain-log` (same code as `badgw explain-log`) for benchmarks until the
//! CLI is wired: `cargo run --release --example explain_log -- FILE --json`.

use clap::Parser;

#[derive(Parser)]
struct Opts {
    #[command(flatten)]
    args: badgw::cli::ExplainLogArgs,
}

fn main() {
    let o = Opts::parse();
    let color = std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match badgw::logs::run_explain_log(&o.args, color, &mut out) {
        Ok(st) => {
            drop(out);
            std::process::exit(st.code())
        }
        Err(e) => {
            drop(out);
            eprintln!("badgw: {e:#}");
            let code = e
                .downcast_ref::<badgw::exit::ExitError>()
                .map_or(2, |x| x.status.code());
            std::process::exit(code)
        }
    }
}
