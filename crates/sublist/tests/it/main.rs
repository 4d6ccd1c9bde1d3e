//! Integration tests of rnats-sublist through its public API (one binary, submodules).

mod oracle;
