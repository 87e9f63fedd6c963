//! physrep-eval
