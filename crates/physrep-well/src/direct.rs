//! Lock-free reads of uncompressed float32 fields straight from the file (`pread`), bypassing libhdf5.
//!
//! libhdf5 serialises every call behind one global lock, so loader threads cannot read in parallel
//! through it. For a field stored without filters as little-endian float32, either contiguously or in
//! chunks of whole frames (chunk shape `[1, ct, nx, ny, 2…]`, e.g. the writer's one-frame chunks),
//! the byte address of every frame is known once the layout has been queried (through libhdf5, once per
//! file); windows are then read with positioned reads from any number of threads. Any other layout
//! (compressed, partial-frame chunks, compact, external or virtual storage, big-endian) returns `None`
//! from [`FrameLayout::probe`] and is read through libhdf5.

use std::os::unix::fs::FileExt;
use std::path::Path;

use hdf5::datatype::ByteOrder;
use hdf5::dataset::Layout;
use hdf5::types::{FloatSize, TypeDescriptor};

use crate::error::WellError;
use crate::file::FieldInfo;

/// Where each frame of a field lives in the file.
#[derive(Clone, Debug)]
pub(crate) enum FrameLayout {
    /// Frame `(traj, t)` at `offset + (traj·T + t)·frame_bytes`.
    Contiguous { offset: u64, frames: usize },
    /// Chunks of `ct` frames; `addrs[traj·n_tchunks + t / ct]` is the chunk's address.
    Chunked { addrs: Vec<u64>, ct: usize, n_tchunks: usize },
}

impl FrameLayout {
    /// The layout of `ds` if it can be read directly.
    pub(crate) fn probe(ds: &hdf5::Dataset, field: &FieldInfo) -> Option<Self> {
        if !cfg!(target_endian = "little") || !field.time_varying {
            return None;
        }
        let dtype = ds.dtype().ok()?;
        if dtype.to_descriptor().ok()? != TypeDescriptor::Float(FloatSize::U4) || dtype.byte_order() != ByteOrder::LittleEndian {
            return None;
        }
        if !ds.filters().is_empty() {
            return None;
        }
        let shape = &field.shape; // [N, T, nx, ny, 2…]
        let (n, frames) = (shape[0], shape[1]);
        let frame_bytes = shape[2..].iter().product::<usize>() as u64 * 4;
        match ds.layout() {
            Layout::Contiguous => {
                let external = ds.dcpl().ok()?.external().len();
                if external > 0 {
                    return None;
                }
                Some(FrameLayout::Contiguous { offset: ds.offset()?, frames })
            }
            Layout::Chunked => {
                let chunk = ds.chunk()?;
                if chunk.len() != shape.len() || chunk[0] != 1 || chunk[2..] != shape[2..] {
                    return None;
                }
                let ct = chunk[1];
                let n_tchunks = frames.div_ceil(ct);
                let total = n * n_tchunks;
                if ds.num_chunks()? != total {
                    return None; // unallocated chunks would read as fill values
                }
                let mut addrs = vec![u64::MAX; total];
                for i in 0..total {
                    let info = ds.chunk_info(i)?;
                    if info.size != frame_bytes * ct as u64 || info.filter_mask != 0 {
                        return None;
                    }
                    let (traj, tc) = (info.offset[0] as usize, info.offset[1] as usize / ct);
                    *addrs.get_mut(traj * n_tchunks + tc)? = info.addr;
                }
                if addrs.contains(&u64::MAX) {
                    return None;
                }
                Some(FrameLayout::Chunked { addrs, ct, n_tchunks })
            }
            _ => None,
        }
    }

    fn frame_addr(&self, traj: usize, t: usize, frame_bytes: u64) -> u64 {
        match self {
            FrameLayout::Contiguous { offset, frames } => offset + (traj * frames + t) as u64 * frame_bytes,
            FrameLayout::Chunked { addrs, ct, n_tchunks } => addrs[traj * n_tchunks + t / ct] + (t % ct) as u64 * frame_bytes,
        }
    }

    /// Reads `field[traj, t, x, y, :]` into `out` (row-major `(t, x, y, K)`), `scratch` reused between calls.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read(
        &self,
        fd: &std::fs::File,
        path: &Path,
        field: &FieldInfo,
        traj: usize,
        t: std::ops::Range<usize>,
        x: std::ops::Range<usize>,
        y: std::ops::Range<usize>,
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> Result<(), WellError> {
        let (ny, k) = (field.shape[3], field.components());
        let frame_elems = field.shape[2] * ny * k;
        let (h, w) = (x.len(), y.len());
        let span = ((h - 1) * ny + w) * k;
        let start = (x.start * ny + y.start) * k;
        let out_frame = h * w * k;
        debug_assert_eq!(out.len(), t.len() * out_frame);
        let io = |e| WellError::io(path, e);
        for (i, ti) in t.clone().enumerate() {
            let addr = self.frame_addr(traj, ti, frame_elems as u64 * 4) + start as u64 * 4;
            let dst = &mut out[i * out_frame..(i + 1) * out_frame];
            if w == ny {
                fd.read_exact_at(as_bytes(dst), addr).map_err(io)?;
            } else {
                scratch.resize(span, 0.0);
                fd.read_exact_at(as_bytes(&mut scratch[..span]), addr).map_err(io)?;
                for r in 0..h {
                    dst[r * w * k..(r + 1) * w * k].copy_from_slice(&scratch[r * ny * k..r * ny * k + w * k]);
                }
            }
        }
        Ok(())
    }
}

fn as_bytes(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: f32 has no invalid bit patterns and no padding; the byte view covers exactly `v`, and the
    // bytes are little-endian float32 (checked in `probe`) on a little-endian host.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}
