//! The perf tools' entry points: kafka-producer-perf-test (`producer_perf`) and
//! kafka-consumer-perf-test (`consumer_perf`).

pub fn producer_main(args: &[String]) -> i32 {
    super::producer_perf::main(args)
}

pub fn consumer_main(args: &[String]) -> i32 {
    super::consumer_perf::main(args)
}
