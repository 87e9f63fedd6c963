//! Lock-free reads of uncompressed float32 fields straight from the file (`pread`), bypassing libhdf5.
//!
//! libhdf5 serialises every call behind one global lock, so loader threads cannot read in parallel
//! through it. For a field stored without filters as little-endian float32, either contiguously or in
//! chunks of whole frames (chunk shape `[1, ct, nx, ny, 2…]`, e.g. the writer's one-frame chunks),
//! the byte address of every frame is known once the layout has been queried (through libhdf5, once per
//! file); windows are then read with positioned reads from any number of threads. Any other layout
//! (compressed, partial-frame chunks, compact, external or virtual storage, big-endian, or more than
//! [`MAX_CHUNKS`] chunks, whose addresses libhdf5 1.10 only yields in O(n) each) returns `None` from
//! [`FrameLayout::probe`] and is read through libhdf5.

use std::os::unix::fs::FileExt;
use std::path::Path;

use hdf5::dataset::Layout;
use hdf5::datatype::ByteOrder;
use hdf5::types::{FloatSize, TypeDescriptor};

use crate::error::WellError;
use crate::file::FieldInfo;

/// Most chunks per field whose addresses are looked up (≈ 0.2 s per field at this size).
const MAX_CHUNKS: usize = 2048;

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
                // libhdf5 1.10 finds a chunk's address by walking the chunk index (O(n) per chunk), so
                // mapping n chunks costs O(n²): beyond MAX_CHUNKS the field is read through libhdf5.
                if n * n_tchunks > MAX_CHUNKS || ds.num_chunks()? != n * n_tchunks {
                    return None;
                }
                let mut addrs = Vec::with_capacity(n * n_tchunks);
                let mut coord = vec![0u64; shape.len()];
                for traj in 0..n {
                    for tc in 0..n_tchunks {
                        coord[0] = traj as u64;
                        coord[1] = (tc * ct) as u64;
                        let (addr, size, mask) = chunk_by_coord(ds, &coord)?;
                        if size != frame_bytes * ct as u64 || mask != 0 {
                            return None;
                        }
                        addrs.push(addr);
                    }
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

/// Address, stored size and filter mask of the chunk starting at `coord`, through
/// `H5Dget_chunk_info_by_coord`; `None` if the chunk is not allocated.
fn chunk_by_coord(ds: &hdf5::Dataset, coord: &[u64]) -> Option<(u64, u64, u32)> {
    let (mut mask, mut addr, mut size) = (0u32, 0u64, 0u64);
    // SAFETY: `coord` has one entry per dataset dimension; the out-pointers are valid locals; the call
    // runs under hdf5-metno's global lock like every other libhdf5 call.
    let rc =
        hdf5::sync::sync(|| unsafe { hdf5_sys::h5d::H5Dget_chunk_info_by_coord(ds.id(), coord.as_ptr(), &mut mask, &mut addr, &mut size) });
    (rc >= 0 && addr != hdf5_sys::h5::HADDR_UNDEF).then_some((addr, size, mask))
}

fn as_bytes(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: f32 has no invalid bit patterns and no padding; the byte view covers exactly `v`, and the
    // bytes are little-endian float32 (checked in `probe`) on a little-endian host.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}
