//! The pretraining methods: one file per method, each implementing [`crate::Method`].

pub mod videomae;
