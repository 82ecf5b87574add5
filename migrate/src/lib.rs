//! ZooKeeper-mode to KRaft migration. Not implemented yet: see README.md.
