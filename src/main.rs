use clap::Parser;

fn main() {
    let cli = badgw::cli::Cli::parse();
    eprintln!("badgw: {:?} is not built yet", cli.command);
    std::process::exit(3);
}
