//! Kafka broker (ZooKeeper mode, later KRaft). Not implemented yet: see issue 4 and README.md.
