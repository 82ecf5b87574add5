//! Placeholder while this tool is being written: it answers that it is not built yet.

pub fn main(_args: &[String]) -> i32 {
    eprintln!("zkraft: this tool is not built yet");
    1
}
