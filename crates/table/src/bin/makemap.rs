//! makemap(8): `makemap [-U] [-t aliases|set] [-o dbfile] file`. The
//! command line lives in `smtpd_table::makemap_cli`, shared with smtpctl's
//! `makemap` face.

fn main() -> std::process::ExitCode {
    smtpd_table::makemap_cli::main(std::env::args_os())
}
