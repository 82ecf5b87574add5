//! Operator tools (kafka-topics, zkCli-style shell, ...). Not implemented yet: see issue 5 and README.md.
