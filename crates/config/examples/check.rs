fn main() {
    for a in std::env::args().skip(1) {
        let p = smtpd_config::parse_file(std::path::Path::new(&a), &Default::default());
        for d in &p.diags {
            println!("{d}");
        }
        if std::env::var("PRINT").is_ok() {
            print!("{}", smtpd_config::print(&p.config));
        }
        if std::env::var("DEBUG").is_ok() {
            println!("{:#?}", p.config);
        }
    }
}
