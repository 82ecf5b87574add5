//! Placeholder while the perf tools are being written: they answer that they are not built yet.

pub fn producer_main(_args: &[String]) -> i32 {
    eprintln!("zkraft: this tool is not built yet");
    1
}

pub fn consumer_main(_args: &[String]) -> i32 {
    eprintln!("zkraft: this tool is not built yet");
    1
}
