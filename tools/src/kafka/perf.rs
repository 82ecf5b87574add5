//! Placeholder while the perf tools are being written: they answer that they are not built yet.

pub fn producer_main(args: &[String]) -> i32 {
    super::producer_perf::main(args)
}

pub fn consumer_main(args: &[String]) -> i32 {
    super::consumer_perf::main(args)
}
