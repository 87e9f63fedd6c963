//! physrep-well
