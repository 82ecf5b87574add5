//! Which `__consumer_offsets` partition (and so which coordinator) owns a group:
//! `Utils.abs(groupId.hashCode()) % numPartitions`, exactly as Kafka computes it.

/// Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, with
/// 32-bit wrap-around.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Kafka's `Utils.abs`: like `Math.abs`, except that `i32::MIN` maps to 0 (not to itself).
fn kafka_abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

/// The `__consumer_offsets` partition of `group_id`. A non-positive partition count (a
/// misconfiguration Kafka would fail on) yields partition 0.
pub fn partition_for(group_id: &str, num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    kafka_abs(java_string_hash(group_id)) % num_partitions
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_java_hash_codes() {
        // Values printed by Java's String.hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("Aa"), 2112);
        assert_eq!(java_string_hash("BB"), 2112);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        // U+00E9 is one UTF-16 unit (0xE9), two UTF-8 bytes.
        assert_eq!(java_string_hash("é"), 0xE9);
        // U+1F600 is the surrogate pair D83D DE00: 0xD83D * 31 + 0xDE00.
        assert_eq!(java_string_hash("😀"), 0xD83D * 31 + 0xDE00);
        assert_eq!(java_string_hash("😀"), 1772899);
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_for("", 50), 0);
        assert_eq!(partition_for("a", 50), 47);
        assert_eq!(partition_for("hello", 50), 22);
        // hashCode == Integer.MIN_VALUE: Utils.abs gives 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("polygenelubricants", 7), 0);
        // Negative hash: abs before modulo.
        assert_eq!(java_string_hash("my-group"), -1906497762);
        assert_eq!(partition_for("my-group", 50), 12);
        assert_eq!(partition_for("😀", 50), 49);
        assert_eq!(partition_for("x", 0), 0);
    }

    proptest! {
        #[test]
        fn partition_in_range(s in any::<String>(), n in 1i32..1000) {
            let p = partition_for(&s, n);
            prop_assert!((0..n).contains(&p));
        }

        #[test]
        fn hash_matches_polynomial(s in any::<String>()) {
            // The same polynomial evaluated in 64 bits and truncated.
            let wide = s.encode_utf16().fold(0u64, |h, u| h.wrapping_mul(31).wrapping_add(u as u64));
            prop_assert_eq!(java_string_hash(&s), wide as u32 as i32);
        }
    }
}
