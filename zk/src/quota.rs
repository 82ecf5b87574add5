//! Quota bookkeeping (`Quotas`, `StatsTrack`): the server keeps
//! `/zookeeper/quota/<path>/zookeeper_stats` up to date for every path that has a
//! `zookeeper_limits` node. Limits are not enforced (`zookeeper.enforceQuota` is off by
//! default in 3.8 too).

use std::collections::BTreeMap;

pub const QUOTA_ROOT: &str = "/zookeeper/quota";
pub const LIMIT_NODE: &str = "zookeeper_limits";
pub const STAT_NODE: &str = "zookeeper_stats";

/// `Quotas.statPath`.
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STAT_NODE}")
}

/// `Quotas.trimQuotaPath`: "/zookeeper/quota/a/b" → "/a/b".
pub fn trim_quota_path(path: &str) -> &str {
    path.get(QUOTA_ROOT.len()..).unwrap_or("")
}

/// `StatsTrack`: "count=N,bytes=M" plus optional extra keys after "=;".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    stats: BTreeMap<String, i64>,
}

impl StatsTrack {
    pub fn parse(text: &str) -> StatsTrack {
        let mut stats = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=').filter(|s| !s.is_empty());
            let (Some(k), v) = (kv.next(), kv.next()) else {
                continue;
            };
            stats.insert(k.to_owned(), v.and_then(|v| v.parse().ok()).unwrap_or(-1));
        }
        StatsTrack { stats }
    }

    pub fn count(&self) -> i64 {
        self.stats.get("count").copied().unwrap_or(-1)
    }

    pub fn bytes(&self) -> i64 {
        self.stats.get("bytes").copied().unwrap_or(-1)
    }

    pub fn set(&mut self, count: i64, bytes: i64) {
        self.stats.insert("count".into(), count);
        self.stats.insert("bytes".into(), bytes);
    }

    pub fn to_text(&self) -> String {
        let mut s = format!("count={},bytes={}", self.count(), self.bytes());
        let extra: Vec<_> = self
            .stats
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !extra.is_empty() {
            // The extra '=' keeps pre-3.7 parsers from reading the new keys.
            s.push('=');
            for (k, v) in extra {
                s.push_str(&format!(";{k}={v}"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_text() {
        let mut t = StatsTrack::parse("count=3,bytes=100");
        assert_eq!((t.count(), t.bytes()), (3, 100));
        t.set(4, 101);
        assert_eq!(t.to_text(), "count=4,bytes=101");
        let t = StatsTrack::parse("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5");
        assert_eq!(
            t.to_text(),
            "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5"
        );
        assert_eq!(trim_quota_path("/zookeeper/quota/a/b"), "/a/b");
        assert_eq!(stat_path("/a"), "/zookeeper/quota/a/zookeeper_stats");
    }
}
