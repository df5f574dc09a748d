//! Property tests: no input makes the parsers or the tables panic.

use proptest::prelude::*;
use smtpd_table::alias::{parse_alias_list, parse_expand_node};
use smtpd_table::listsplit::split_list;
use smtpd_table::makemap::{parse_source, MapType};
use smtpd_table::netaddr::{parse_ip, Netaddr};
use smtpd_table::tablefile::{parse_table_bytes, ParseMode};
use smtpd_table::value::parse_value;
use smtpd_table::{open, MailPattern, Service, TableSpec};

/// Text biased towards the characters the formats give meaning to.
fn tricky_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(",".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("|".to_string()),
            Just(":".to_string()),
            Just("@".to_string()),
            Just("#".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("/".to_string()),
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just("error:".to_string()),
            Just(":include:".to_string()),
            Just("550 ".to_string()),
            Just("5.1.1".to_string()),
            Just("::1".to_string()),
            Just("10/8".to_string()),
            Just("*".to_string()),
            Just("(?i)".to_string()),
            "[a-z0-9.]{0,6}",
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn any_service() -> impl Strategy<Value = Service> {
    prop::sample::select(Service::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn table_file_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for mode in [ParseMode::Auto, ParseMode::Mapping, ParseMode::List] {
            let _ = parse_table_bytes(&bytes, mode);
        }
        for t in [MapType::Plain, MapType::Aliases, MapType::Set] {
            let _ = parse_source("fuzz", &bytes, t);
        }
    }

    #[test]
    fn table_file_parser_on_tricky_text(text in tricky_text()) {
        for mode in [ParseMode::Auto, ParseMode::Mapping, ParseMode::List] {
            let _ = parse_table_bytes(text.as_bytes(), mode);
        }
        let _ = parse_source("fuzz", text.as_bytes(), MapType::Aliases);
    }

    #[test]
    fn alias_parser(text in tricky_text()) {
        let _ = parse_alias_list(&text);
        let _ = parse_expand_node(&text);
        let _ = split_list(&text);
    }

    #[test]
    fn alias_parser_on_any_string(text in any::<String>()) {
        let _ = parse_alias_list(&text);
        let _ = parse_expand_node(&text);
    }

    #[test]
    fn value_parsers(service in any_service(), key in tricky_text(), raw in tricky_text()) {
        let _ = parse_value(service, &key, &raw);
        let _ = Netaddr::parse(&raw);
        let _ = parse_ip(&raw);
        let _ = MailPattern::parse(&raw).matches_text(&key, '+');
    }

    #[test]
    fn file_tables_answer_any_key(
        contents in tricky_text(),
        keys in prop::collection::vec(tricky_text(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, &contents).unwrap();
        if let Ok(table) = open(&TableSpec::file("t", &path)) {
            for service in Service::ALL {
                for key in &keys {
                    let _ = table.lookup(service, key);
                    let _ = table.check(service, key);
                }
                let _ = table.fetch(service);
                let _ = table.validate(service);
            }
        }
    }

    #[test]
    fn db_reader_survives_damaged_files(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Random bytes, then a real database with random bytes changed.
        let random = dir.path().join("random.db");
        std::fs::write(&random, &bytes).unwrap();
        let _ = open(&TableSpec::db("r", &random));

        let src = dir.path().join("src");
        std::fs::write(&src, "joe: a, b\nann: c\n@: d\n").unwrap();
        let built = smtpd_table::makemap::build(&src, None, MapType::Aliases).unwrap();
        let mut db = std::fs::read(&built.output).unwrap();
        for (index, byte) in &flips {
            let i = index.index(db.len());
            db[i] = *byte;
        }
        let damaged = dir.path().join("damaged.db");
        std::fs::write(&damaged, &db).unwrap();
        if let Ok(table) = open(&TableSpec::db("d", &damaged)) {
            for service in Service::ALL {
                let _ = table.lookup(service, "joe");
                let _ = table.check(service, "ann");
                let _ = table.fetch(service);
            }
        }
    }
}
