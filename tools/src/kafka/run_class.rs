//! `kafka-run-class.sh CLASS args...`: the classes zkraft provides, by their Java names.

pub fn main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("kafka.tools.GetOffsetShell") => super::get_offset_shell::main(&args[1..]),
        Some(class) => {
            eprintln!("Error: Could not find or load main class {class}");
            1
        }
        None => {
            eprintln!(
                "USAGE: kafka-run-class.sh [-daemon] [-name servicename] [-loggc] classname [opts]"
            );
            1
        }
    }
}
