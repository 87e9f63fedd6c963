//! physrep-sim
