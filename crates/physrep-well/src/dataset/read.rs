//! Reading from an opened [`WellDataset`]: the per-file handles (libhdf5 and the direct positioned reader),
//! windows checked against their file, raw frames, and preprocessed samples (crop, normalise, resize, noise).

use std::ops::Range;
use std::sync::Arc;

use ndarray::{Array4, ArrayViewMut4, Axis};

use super::{Sample, Split, WellDataset, WindowRef};
use crate::direct::FrameLayout;
use crate::error::WellError;
use crate::file::WellFileInfo;
use crate::h5util;
use crate::preprocess::{add_noise, resize_bilinear, Crop, Normalization, Preprocess};

/// Open handles of one file.
#[derive(Default)]
pub(super) struct FileSlot {
    h5: Option<hdf5::File>,
    direct: Option<Arc<DirectFile>>,
}

/// A second descriptor of a file for positioned reads, and each channel field's frame layout.
struct DirectFile {
    fd: std::fs::File,
    layouts: Vec<Option<FrameLayout>>,
}

impl WellDataset {
    /// Turns the lock-free direct reader on (default) or off (every read through libhdf5).
    pub fn set_direct_io(&mut self, on: bool) {
        self.direct_io = on;
    }

    /// The open handles of a file (opened once, then shared), with its direct-read layouts if enabled.
    fn slot(&self, split: Split, file: usize) -> Result<(hdf5::File, Option<Arc<DirectFile>>), WellError> {
        let mut slot = self.handles[split.index()][file].lock().unwrap_or_else(|p| p.into_inner());
        let path = &self.files(split)[file].path;
        let h5 = match &slot.h5 {
            Some(h) => h.clone(),
            None => {
                let h = h5util::open_file(path)?;
                slot.h5 = Some(h.clone());
                h
            }
        };
        if self.direct_io && slot.direct.is_none() {
            let fd = std::fs::File::open(path).map_err(|e| WellError::io(path, e))?;
            let mut layouts = Vec::new();
            for (gname, field) in &self.fields {
                let item = format!("/{gname}/{}", field.name);
                let ds = h5.dataset(&item).map_err(|e| WellError::hdf5(path, item, e))?;
                layouts.push(FrameLayout::probe(&ds, field));
            }
            slot.direct = Some(Arc::new(DirectFile { fd, layouts }));
        }
        Ok((h5, if self.direct_io { slot.direct.clone() } else { None }))
    }

    /// Checks that `w` lies inside its file and returns the file.
    fn check_window(&self, w: &WindowRef) -> Result<&WellFileInfo, WellError> {
        let f = self.file(w.split, w.file)?;
        let len = w.context + w.target;
        if len > f.frames() {
            return Err(WellError::WindowTooLong { path: f.path.clone(), need: len, frames: f.frames() });
        }
        if w.trajectory.max(w.target_trajectory.unwrap_or(0)) >= f.n_trajectories || w.context == 0 || w.t0 + len > f.frames() {
            return Err(WellError::Invalid {
                what: format!(
                    "{}: window {w:?} outside the file ({} trajectories × {} frames)",
                    f.path.display(),
                    f.n_trajectories,
                    f.frames()
                ),
            });
        }
        Ok(f)
    }

    /// Reads window `w` as `(C, context + target, h, w)` after cropping (no other preprocessing).
    pub fn read_window(&self, w: &WindowRef, crop: &Crop) -> Result<Array4<f32>, WellError> {
        let f = self.check_window(w)?;
        let [xr, yr] = crop.ranges(f.spatial())?;
        let mut out = Array4::<f32>::zeros((self.n_channels(), w.context + w.target, xr.len(), yr.len()));
        self.read_frames_into(w, f, w.t0..w.t0 + w.context + w.target, [xr, yr], out.view_mut())?;
        Ok(out)
    }

    /// Reads frames `t` of `w`'s trajectory, cropped to `[xr, yr]`, into `out` `(C, t.len(), h, w)`
    /// (standard layout). Scalar fields are read straight into their channel plane.
    fn read_frames_into(
        &self,
        w: &WindowRef,
        f: &WellFileInfo,
        t: Range<usize>,
        [xr, yr]: [Range<usize>; 2],
        mut out: ArrayViewMut4<f32>,
    ) -> Result<(), WellError> {
        let (h, wd) = (xr.len(), yr.len());
        let plane = t.len() * h * wd;
        let (h5, direct) = self.slot(w.split, w.file)?;
        let out_s = out.as_slice_mut().ok_or_else(|| WellError::Invalid { what: "output view must be contiguous".into() })?;
        let (mut slab, mut scratch) = (Vec::new(), Vec::new());
        let mut c0 = 0;
        for (fi, (gname, field)) in self.fields.iter().enumerate() {
            let k = field.components();
            let dst: &mut [f32] = if k == 1 {
                &mut out_s[c0 * plane..(c0 + 1) * plane]
            } else {
                slab.resize(plane * k, 0.0);
                &mut slab
            };
            match direct.as_ref().and_then(|d| d.layouts[fi].as_ref().map(|l| (d, l))) {
                Some((d, layout)) => {
                    layout.read(&d.fd, &f.path, field, w.trajectory, t.clone(), xr.clone(), yr.clone(), dst, &mut scratch)?
                }
                None => {
                    let a = crate::file::read_field_slab(&f.path, &h5, gname, field, w.trajectory, t.clone(), xr.clone(), yr.clone())?;
                    dst.copy_from_slice(a.as_slice().ok_or_else(|| WellError::Invalid { what: "non-contiguous HDF5 read".into() })?);
                }
            }
            if !all_finite(dst) {
                return Err(WellError::NonFinite {
                    path: f.path.clone(),
                    field: format!("/{gname}/{}", field.name),
                    trajectory: w.trajectory,
                    t0: w.t0,
                    t1: w.t0 + w.context + w.target,
                });
            }
            if k > 1 {
                // slab (t, x, y, k) → out (c0 + j, t, x, y)
                for (p, chunk) in slab.chunks_exact(k).enumerate() {
                    for (j, &v) in chunk.iter().enumerate() {
                        out_s[(c0 + j) * plane + p] = v;
                    }
                }
            }
            c0 += k;
        }
        Ok(())
    }

    /// Output `[H, W]` of a sample of `w` under `pre` (crop, then resize).
    pub fn sample_hw(&self, w: &WindowRef, pre: &Preprocess) -> Result<[usize; 2], WellError> {
        let f = self.file(w.split, w.file)?;
        let [xr, yr] = pre.crop.ranges(f.spatial())?;
        match pre.resize {
            Some([0, _]) | Some([_, 0]) => Err(WellError::Invalid { what: format!("resize to {:?}", pre.resize) }),
            Some(r) => Ok(r),
            None => Ok([xr.len(), yr.len()]),
        }
    }

    /// Reads and preprocesses window `w`: crop, normalisation, resize, then noise drawn from `noise_seed`.
    pub fn read_sample(&self, w: &WindowRef, pre: &Preprocess, noise_seed: u64) -> Result<Sample, WellError> {
        let [h, wd] = self.sample_hw(w, pre)?;
        let c = self.n_channels();
        let mut context = Array4::<f32>::zeros((c, w.context, h, wd));
        let mut target = Array4::<f32>::zeros((c, w.target, h, wd));
        let labels = self.read_sample_into(w, pre, noise_seed, context.view_mut(), target.view_mut())?;
        Ok(Sample { context, target, labels: labels.iter().map(|&v| v as f32).collect(), params: self.params(w.split, w.file)? })
    }

    /// [`read_sample`](Self::read_sample) into caller-provided views (standard layout) of shape
    /// `(C, context, H, W)` and `(C, target, H, W)` with `[H, W]` = [`sample_hw`](Self::sample_hw);
    /// returns the standardised labels.
    pub fn read_sample_into(
        &self,
        w: &WindowRef,
        pre: &Preprocess,
        noise_seed: u64,
        mut context: ArrayViewMut4<f32>,
        mut target: ArrayViewMut4<f32>,
    ) -> Result<Vec<f64>, WellError> {
        let f = self.check_window(w)?;
        if pre.noise_std < 0.0 || !pre.noise_std.is_finite() {
            return Err(WellError::Invalid { what: format!("noise_std = {}", pre.noise_std) });
        }
        let [xr, yr] = pre.crop.ranges(f.spatial())?;
        let [h, wd] = self.sample_hw(w, pre)?;
        let c = self.n_channels();
        let expect = |n: usize| (c, n, h, wd);
        if context.dim() != expect(w.context) || target.dim() != expect(w.target) {
            return Err(WellError::Invalid {
                what: format!(
                    "output views {:?} / {:?}, expected {:?} / {:?}",
                    context.dim(),
                    target.dim(),
                    expect(w.context),
                    expect(w.target)
                ),
            });
        }
        let t_mid = w.t0 + w.context;
        self.fill_part(w, f, w.t0..t_mid, [xr.clone(), yr.clone()], [h, wd], pre.normalization, context.view_mut())?;
        let tw = WindowRef { trajectory: w.target_trajectory.unwrap_or(w.trajectory), ..*w };
        self.fill_part(&tw, f, t_mid..t_mid + w.target, [xr, yr], [h, wd], pre.normalization, target.view_mut())?;
        add_noise(&mut [context, target], pre.noise_std, noise_seed);
        self.labels(w.split, w.file)
    }

    /// Reads, normalises and (when `[h, wd]` differs from the crop) resizes frames `t` into `part`.
    #[allow(clippy::too_many_arguments)]
    fn fill_part(
        &self,
        w: &WindowRef,
        f: &WellFileInfo,
        t: Range<usize>,
        [xr, yr]: [Range<usize>; 2],
        [h, wd]: [usize; 2],
        norm: Normalization,
        mut part: ArrayViewMut4<f32>,
    ) -> Result<(), WellError> {
        if [h, wd] != [xr.len(), yr.len()] {
            let mut raw = Array4::<f32>::zeros((self.n_channels(), t.len(), xr.len(), yr.len()));
            self.read_frames_into(w, f, t, [xr, yr], raw.view_mut())?;
            self.normalize(raw.view_mut(), norm)?;
            part.assign(&resize_bilinear(raw.view(), [h, wd]));
        } else {
            self.read_frames_into(w, f, t, [xr, yr], part.view_mut())?;
            self.normalize(part, norm)?;
        }
        Ok(())
    }

    fn normalize(&self, mut data: ArrayViewMut4<f32>, norm: Normalization) -> Result<(), WellError> {
        if norm == Normalization::None {
            return Ok(());
        }
        let path = self.dir.join("stats.yaml");
        let stats = self
            .stats
            .as_ref()
            .ok_or_else(|| WellError::Stats { path: path.clone(), msg: "normalisation requested but the file is missing".into() })?;
        let mut c = 0;
        for (_, field) in &self.fields {
            let fs = stats
                .field(&field.name)
                .ok_or_else(|| WellError::Stats { path: path.clone(), msg: format!("no entry for field `{}`", field.name) })?;
            for k in 0..field.components() {
                let (shift, scale) = match norm {
                    Normalization::Rms => (0.0, fs.rms[k].max(1e-4)),
                    _ => (fs.mean[k], fs.std[k].max(1e-4)),
                };
                let (shift, inv) = (shift as f32, (1.0 / scale) as f32);
                data.index_axis_mut(Axis(0), c + k).mapv_inplace(|v| (v - shift) * inv);
            }
            c += field.components();
        }
        Ok(())
    }
}

/// Whether every value is finite (exponent bits not all set), in a form that vectorises.
fn all_finite(v: &[f32]) -> bool {
    v.chunks(64).all(|c| c.iter().fold(0u32, |m, x| m.max(x.to_bits() & 0x7f80_0000)) != 0x7f80_0000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::WindowSpec;
    use crate::write::{BcKind, BoundarySpec, FieldSpec, TrajectoryFields, WellFileHeader, WellFileWriter};
    use ndarray::{ArrayD, Dimension, IxDyn};
    use std::path::{Path, PathBuf};

    fn fixtures() -> PathBuf {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/well");
        assert!(d.is_dir(), "fixtures not found at {}", d.display());
        d
    }

    /// Direct (pread) and libhdf5 reads agree on every window and crop, and the direct path is really
    /// taken for the writer's one-frame chunks and for contiguous fixture fields (not for gzip ones).
    #[test]
    fn direct_reads_equal_hdf5_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("toy");
        let (t, nx, ny) = (7, 6, 10);
        let h = WellFileHeader {
            dataset_name: "toy".into(),
            n_trajectories: 3,
            parameters: vec![("p".into(), 1.0)],
            time: (0..t).map(|k| k as f32).collect(),
            x: (0..nx).map(|k| k as f32).collect(),
            y: (0..ny).map(|k| k as f32).collect(),
            boundary_conditions: vec![BoundarySpec { name: "x_periodic".into(), dim: "x".into(), kind: BcKind::Periodic }],
            fields: vec![FieldSpec::new("a", 0), FieldSpec::new("b", 1), FieldSpec::new("c", 2)],
            extra_attrs: vec![],
            deflate: None,
        };
        let mut w = WellFileWriter::create(dir.join("data/train/f.hdf5"), h.clone()).unwrap();
        for traj in 0..3 {
            let arrs: Vec<ArrayD<f32>> = h
                .fields
                .iter()
                .map(|f| {
                    let mut shape = vec![t, nx, ny];
                    shape.extend(std::iter::repeat_n(2, f.order));
                    ArrayD::from_shape_fn(IxDyn(&shape), |d| (traj * 100_000 + d.slice().iter().fold(0, |a, &v| a * 13 + v)) as f32)
                })
                .collect();
            w.write_trajectory(&TrajectoryFields { fields: arrs.iter().map(|a| a.view()).collect() }).unwrap();
        }
        w.finish().unwrap();
        let fast = WellDataset::open(&dir).unwrap();
        let (_, d) = fast.slot(Split::Train, 0).unwrap();
        assert!(d.unwrap().layouts.iter().all(|l| matches!(l, Some(FrameLayout::Chunked { ct: 1, .. }))));
        let mut slow = WellDataset::open(&dir).unwrap();
        slow.set_direct_io(false);
        let crops = [Crop::FULL, Crop { x: [0.0, 1.0], y: [0.0, 0.5] }, Crop { x: [0.375, 0.625], y: [0.2, 0.9] }];
        for win in fast.windows(Split::Train, &WindowSpec { context: 2, target: 1, stride: 2 }).unwrap() {
            for c in &crops {
                assert_eq!(fast.read_window(&win, c).unwrap(), slow.read_window(&win, c).unwrap(), "{win:?} {c:?}");
            }
        }

        let (mut direct, mut via_hdf5) = (0, 0);
        for name in ["active_matter", "shear_flow", "rayleigh_benard"] {
            let fast = WellDataset::open(fixtures().join(name)).unwrap();
            let mut slow = WellDataset::open(fixtures().join(name)).unwrap();
            slow.set_direct_io(false);
            for split in Split::ALL {
                for fi in 0..fast.files(split).len() {
                    let (_, d) = fast.slot(split, fi).unwrap();
                    for l in &d.unwrap().layouts {
                        if l.is_some() {
                            direct += 1
                        } else {
                            via_hdf5 += 1
                        }
                    }
                }
                for win in fast.windows(split, &WindowSpec { context: 3, target: 2, stride: 5 }).unwrap() {
                    for c in &crops {
                        assert_eq!(fast.read_window(&win, c).unwrap(), slow.read_window(&win, c).unwrap());
                    }
                }
            }
        }
        assert!(direct > 0 && via_hdf5 > 0, "fixtures cover both paths ({direct} direct, {via_hdf5} via libhdf5)");
    }
}
