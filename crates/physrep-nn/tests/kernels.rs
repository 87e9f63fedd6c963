//! The custom kernels against independent references: the depthwise 3-D convolution against burn's
//! grouped `conv3d`; the channel LayerNorm and the layer-scaled residual against burn's autodiff
//! of the same maths composed from tensor ops; the dense layer against burn's matmul plus bias; every
//! gradient against finite differences.

use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use physrep_nn::kernels::{
    channel_norm, channel_norm_last, convnext_block, dense, dwconv3d, dwconv3d_backward_by_forward_convs, dwconv3d_reference,
    fallback_channel_norm, fallback_channel_norm_backward, fallback_dense, fallback_dwconv3d_backward, fallback_gelu_exact_backward,
    fallback_layer_scale_residual, fallback_layer_scale_residual_backward, gelu, layer_scale_residual, BlockParams, KernelBackend, Layout,
};
use physrep_nn::{Cpu, CpuAutodiff};

type AD = CpuAutodiff;

fn rel_err<const D: usize, B: Backend>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    let d = (a - b.clone()).abs().max().into_scalar().elem::<f32>();
    let m = b.abs().max().into_scalar().elem::<f32>();
    d / m.max(1e-30)
}

fn inputs<B: Backend>(shape: [usize; 5], k: [usize; 3], seed: u64) -> (Tensor<B, 5>, Tensor<B, 5>, Tensor<B, 1>) {
    let dev = Default::default();
    let c = shape[1];
    let x = physrep_nn::seeded::normal(shape, 0.0, 1.0, seed, &dev);
    let w = physrep_nn::seeded::normal([c, 1, k[0], k[1], k[2]], 0.0, 0.3, seed + 1, &dev);
    let b = physrep_nn::seeded::normal([c], 0.0, 1.0, seed + 2, &dev);
    (x, w, b)
}

/// Forward and all three gradients of `(y · r).sum()` under autodiff, ours vs burn's conv3d.
fn check_against_reference(shape: [usize; 5], k: [usize; 3]) {
    let (x, w, b) = inputs::<AD>(shape, k, 7);
    let r = physrep_nn::seeded::normal::<AD, 5>(shape, 0.0, 1.0, 430, &Default::default());
    let run = |f: fn(Tensor<AD, 5>, Tensor<AD, 5>, Tensor<AD, 1>) -> Tensor<AD, 5>| {
        let (x, w, b) = (x.clone().require_grad(), w.clone().require_grad(), b.clone().require_grad());
        let y = f(x.clone(), w.clone(), b.clone());
        let g = (y.clone() * r.clone()).sum().backward();
        (y.inner(), x.grad(&g).unwrap(), w.grad(&g).unwrap(), b.grad(&g).unwrap())
    };
    let ours = run(dwconv3d::<AD>);
    let refr = run(dwconv3d_reference::<AD>);
    for (name, e) in
        [("y", rel_err(ours.0, refr.0)), ("gx", rel_err(ours.1, refr.1)), ("gw", rel_err(ours.2, refr.2)), ("gb", rel_err(ours.3, refr.3))]
    {
        assert!(e < 2e-5, "{name}: relative error {e} at shape {shape:?}, kernel {k:?}");
    }
}

#[test]
fn matches_burn_conv3d_k3_and_k7() {
    check_against_reference([2, 3, 5, 6, 7], [3, 3, 3]);
    check_against_reference([2, 4, 6, 8, 8], [7, 7, 7]);
}

#[test]
fn matches_burn_conv3d_2d_kernel_and_short_axes() {
    // 2-D depthwise (D = kd = 1), and axes shorter than the kernel (T = 2 with k = 7, as stage 3).
    check_against_reference([2, 3, 1, 9, 10], [1, 7, 7]);
    check_against_reference([1, 2, 2, 3, 4], [7, 7, 7]);
    // Rows long enough for every vector block width (64 + 16 + 8 + 3 outputs).
    check_against_reference([1, 2, 3, 4, 91], [7, 7, 7]);
    check_against_reference([1, 2, 1, 3, 91], [1, 5, 3]);
}

#[test]
fn fallback_bodies_match_the_kernels() {
    let (x, w, b) = inputs::<Cpu>([2, 3, 4, 6, 5], [3, 5, 7], 11);
    let gy = physrep_nn::seeded::normal::<Cpu, 5>([2, 3, 4, 6, 5], 0.0, 1.0, 568, &Default::default());
    let (gx, gw, gb) = <Cpu as KernelBackend>::dwconv3d_backward(prim(x.clone()), prim(w.clone()), prim(gy.clone()));
    let (rx, rw, rb) = fallback_dwconv3d_backward::<Cpu>(prim(x.clone()), prim(w.clone()), prim(gy));
    assert!(rel_err(wrap::<Cpu, 5>(gx), wrap(rx)) < 2e-5);
    assert!(rel_err(wrap::<Cpu, 5>(gw), wrap(rw)) < 2e-5);
    assert!(rel_err(wrap::<Cpu, 1>(gb), wrap(rb)) < 2e-5);
    assert!(rel_err(dwconv3d(x.clone(), w.clone(), b.clone()), dwconv3d_reference(x, w, b)) < 2e-5);
}

/// The GPU formulation of the depthwise backward (two forward convolutions) equals burn's grouped
/// `conv3d_{x,weight}_backward`, for cubic, anisotropic and 2-D kernels, batch 1 and 3, short axes.
#[test]
fn backward_by_forward_convs_matches_burns_conv_backward() {
    for (i, (shape, k)) in [
        ([3, 4, 5, 6, 7], [3, 3, 3]),
        ([1, 2, 4, 8, 8], [7, 7, 7]),
        ([2, 3, 4, 6, 5], [3, 5, 7]),
        ([2, 2, 1, 9, 10], [1, 7, 7]),
        ([2, 2, 2, 3, 4], [7, 7, 7]),
    ]
    .into_iter()
    .enumerate()
    {
        let (x, w, _) = inputs::<Cpu>(shape, k, 20 + i as u64);
        let gy = physrep_nn::seeded::normal::<Cpu, 5>(shape, 0.0, 1.0, 700 + i as u64, &Default::default());
        let (gx, gw, gb) = dwconv3d_backward_by_forward_convs::<Cpu>(prim(x.clone()), prim(w.clone()), prim(gy.clone()));
        let (rx, rw, rb) = fallback_dwconv3d_backward::<Cpu>(prim(x), prim(w), prim(gy));
        let (gw, rw) = (wrap::<Cpu, 5>(gw), wrap::<Cpu, 5>(rw));
        assert_eq!(gw.dims(), rw.dims());
        for (name, e) in [("gx", rel_err(wrap::<Cpu, 5>(gx), wrap(rx))), ("gw", rel_err(gw, rw))] {
            assert!(e < 2e-5, "{name}: relative error {e} at shape {shape:?}, kernel {k:?}");
        }
        assert!(rel_err(wrap::<Cpu, 1>(gb), wrap(rb)) < 2e-5);
    }
}

#[test]
fn non_contiguous_input() {
    let (x, w, b) = inputs::<Cpu>([2, 3, 4, 6, 5], [3, 3, 3], 3);
    // Same values, strided layout: swap two axes, make contiguous, swap back (a view).
    let xs = x.clone().swap_dims(2, 4).into_data();
    let xs = Tensor::<Cpu, 5>::from_data(xs, &Default::default()).swap_dims(2, 4);
    assert_eq!(xs.dims(), x.dims());
    let e = rel_err(dwconv3d(xs, w.clone(), b.clone()), dwconv3d(x, w, b));
    assert!(e == 0.0, "non-contiguous input changed the result: {e}");
}

/// Values of a tensor as `f32`s.
fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

/// Central differences in f32 of `loss` (a function of three flat inputs) at a few entries of
/// each input, against the analytic `grads`.
fn finite_difference_check(base: [Vec<f32>; 3], grads: [Vec<f32>; 3], loss: impl Fn(&[Vec<f32>; 3]) -> f64) {
    let eps = 1e-2f32;
    for which in 0..3 {
        let n = base[which].len();
        for idx in [0, n / 3, n / 2, n - 1] {
            let eval = |delta: f32| {
                let mut vals = base.clone();
                vals[which][idx] += delta;
                loss(&vals)
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * f64::from(eps));
            let an = f64::from(grads[which][idx]);
            assert!((fd - an).abs() <= 2e-3 + 1e-2 * an.abs(), "input {which} entry {idx}: finite difference {fd}, autodiff {an}");
        }
    }
}

fn tensor<const D: usize>(v: &[f32], shape: [usize; D]) -> Tensor<Cpu, D> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), &Default::default())
}

/// `Σ r · tanh(y)` in f64.
fn tanh_loss(y: Tensor<Cpu, 5>, r: &Tensor<Cpu, 5>) -> f64 {
    values(y.tanh() * r.clone()).iter().map(|&v| f64::from(v)).sum()
}

/// Central differences of `L = Σ r · tanh(y)` for a few entries of x, w and b.
#[test]
fn finite_difference_gradients() {
    let shape = [1, 2, 3, 4, 5];
    let (x, w, b) = inputs::<AD>(shape, [3, 3, 3], 5);
    let r = physrep_nn::seeded::normal::<AD, 5>(shape, 0.0, 1.0, 600, &Default::default());
    let (xg, wg, bg) = (x.clone().require_grad(), w.clone().require_grad(), b.clone().require_grad());
    let g = (dwconv3d(xg.clone(), wg.clone(), bg.clone()).tanh() * r.clone()).sum().backward();
    let grads = [values(xg.grad(&g).unwrap()), values(wg.grad(&g).unwrap()), values(bg.grad(&g).unwrap())];
    let base = [values(x.inner()), values(w.inner()), values(b.inner())];
    let r = r.inner();
    finite_difference_check(base, grads, |v| {
        tanh_loss(dwconv3d(tensor(&v[0], shape), tensor(&v[1], [2, 1, 3, 3, 3]), tensor(&v[2], [2])), &r)
    });
}

// ---------------------------------------------------------------------------------------------
// Channel LayerNorm and layer-scaled residual
// ---------------------------------------------------------------------------------------------

const EPS: f64 = 1e-6;
/// Positions `3·5·7 = 105`: one full tile of 64 and a partial one; and `2·3 = 6`: one partial tile.
const SHAPES: [[usize; 5]; 2] = [[2, 5, 3, 5, 7], [1, 3, 1, 2, 3]];

fn to_last(s: [usize; 5]) -> [usize; 5] {
    [s[0], s[2], s[3], s[4], s[1]]
}

fn wrap<B: Backend, const D: usize>(p: burn::tensor::ops::FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

fn prim<B: Backend, const D: usize>(t: Tensor<B, D>) -> burn::tensor::ops::FloatTensor<B> {
    t.into_primitive().tensor()
}

/// Output and the three input gradients of `Σ r · y` under autodiff.
fn value_and_grads<const D2: usize>(
    inputs: (&Tensor<AD, 5>, &Tensor<AD, D2>, &Tensor<AD, 1>),
    r: &Tensor<AD, 5>,
    op: impl Fn(Tensor<AD, 5>, Tensor<AD, D2>, Tensor<AD, 1>) -> Tensor<AD, 5>,
) -> [Vec<f32>; 4] {
    let (a, b, c) = (inputs.0.clone().require_grad(), inputs.1.clone().require_grad(), inputs.2.clone().require_grad());
    let y = op(a.clone(), b.clone(), c.clone());
    let g = (y.clone() * r.clone()).sum().backward();
    [values(y.inner()), values(a.grad(&g).unwrap()), values(b.grad(&g).unwrap()), values(c.grad(&g).unwrap())]
}

fn max_rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let m = b.iter().map(|y| y.abs()).fold(0.0f32, f32::max);
    d / m.max(1e-30)
}

fn assert_all_close(ours: [Vec<f32>; 4], reference: [Vec<f32>; 4], what: &str) {
    for (name, (o, r)) in ["y", "grad 0", "grad 1", "grad 2"].iter().zip(ours.iter().zip(&reference)) {
        let e = max_rel_err(o, r);
        assert!(e < 2e-5, "{what}: {name} relative error {e}");
    }
}

fn norm_inputs<B: Backend>(shape: [usize; 5], seed: u64) -> (Tensor<B, 5>, Tensor<B, 1>, Tensor<B, 1>) {
    let dev = Default::default();
    let c = shape[1];
    // An offset and a scale per sample, so the mean subtraction and the variance both matter.
    let x = physrep_nn::seeded::normal::<B, 5>(shape, 0.0, 1.0, seed, &dev) * 2.5 + 0.7;
    let w = physrep_nn::seeded::normal::<B, 1>([c], 1.0, 0.5, seed + 1, &dev);
    let b = physrep_nn::seeded::normal::<B, 1>([c], 0.0, 0.5, seed + 2, &dev);
    (x, w, b)
}

fn residual_inputs<B: Backend>(shape: [usize; 5], seed: u64) -> (Tensor<B, 5>, Tensor<B, 5>, Tensor<B, 1>) {
    let dev = Default::default();
    let x = physrep_nn::seeded::normal::<B, 5>(shape, 0.0, 1.0, seed, &dev);
    let h = physrep_nn::seeded::normal::<B, 5>(to_last(shape), 0.0, 1.0, seed + 1, &dev);
    let g = physrep_nn::seeded::normal::<B, 1>([shape[1]], 0.0, 1.0, seed + 2, &dev);
    (x, h, g)
}

#[test]
fn channel_norm_matches_autodiff_of_composed_ops() {
    for shape in SHAPES {
        let (x, w, b) = norm_inputs::<AD>(shape, 21);
        for (layout, out_shape) in [(Layout::ChannelsFirst, shape), (Layout::ChannelsLast, to_last(shape))] {
            let r = physrep_nn::seeded::normal::<AD, 5>(out_shape, 0.0, 1.0, 99, &Default::default());
            let ours = value_and_grads((&x, &w, &b), &r, |x, w, b| match layout {
                Layout::ChannelsFirst => channel_norm(x, w, b, EPS),
                Layout::ChannelsLast => channel_norm_last(x, w, b, EPS),
            });
            // burn's autodiff differentiates the composed ops: an independent backward.
            let reference =
                value_and_grads((&x, &w, &b), &r, |x, w, b| wrap(fallback_channel_norm::<AD>(prim(x), prim(w), prim(b), EPS, layout)));
            assert_all_close(ours, reference, &format!("channel norm {layout:?} {shape:?}"));
        }
    }
}

#[test]
fn layer_scale_residual_matches_autodiff_of_composed_ops() {
    for shape in SHAPES {
        let (x, h, g) = residual_inputs::<AD>(shape, 31);
        let r = physrep_nn::seeded::normal::<AD, 5>(shape, 0.0, 1.0, 98, &Default::default());
        let ours = value_and_grads((&x, &h, &g), &r, layer_scale_residual);
        let reference = value_and_grads((&x, &h, &g), &r, |x, h, g| wrap(fallback_layer_scale_residual::<AD>(prim(x), prim(h), prim(g))));
        assert_all_close(ours, reference, &format!("layer-scale residual {shape:?}"));
    }
}

#[test]
fn channel_fallback_backward_bodies_match_the_kernels() {
    let shape = SHAPES[0];
    let (x, w, _) = norm_inputs::<Cpu>(shape, 41);
    for (layout, out_shape) in [(Layout::ChannelsFirst, shape), (Layout::ChannelsLast, to_last(shape))] {
        let gy = physrep_nn::seeded::normal::<Cpu, 5>(out_shape, 0.0, 1.0, 42, &Default::default());
        let ours = <Cpu as KernelBackend>::channel_norm_backward(prim(x.clone()), prim(w.clone()), prim(gy.clone()), EPS, layout);
        let reference = fallback_channel_norm_backward::<Cpu>(prim(x.clone()), prim(w.clone()), prim(gy), EPS, layout);
        assert!(max_rel_err(&values(wrap::<Cpu, 5>(ours.0)), &values(wrap::<Cpu, 5>(reference.0))) < 2e-5);
        assert!(max_rel_err(&values(wrap::<Cpu, 1>(ours.1)), &values(wrap::<Cpu, 1>(reference.1))) < 2e-5);
        assert!(max_rel_err(&values(wrap::<Cpu, 1>(ours.2)), &values(wrap::<Cpu, 1>(reference.2))) < 2e-5);
    }
    let (_, h, g) = residual_inputs::<Cpu>(shape, 43);
    let gy = physrep_nn::seeded::normal::<Cpu, 5>(shape, 0.0, 1.0, 44, &Default::default());
    let ours = <Cpu as KernelBackend>::layer_scale_residual_backward(prim(gy.clone()), prim(h.clone()), prim(g.clone()));
    let reference = fallback_layer_scale_residual_backward::<Cpu>(prim(gy), prim(h), prim(g));
    assert!(max_rel_err(&values(wrap::<Cpu, 5>(ours.0)), &values(wrap::<Cpu, 5>(reference.0))) < 2e-5);
    assert!(max_rel_err(&values(wrap::<Cpu, 1>(ours.1)), &values(wrap::<Cpu, 1>(reference.1))) < 2e-5);
}

#[test]
fn channel_norm_finite_difference_gradients() {
    let shape = [1, 4, 2, 3, 3];
    let (x, w, b) = norm_inputs::<AD>(shape, 51);
    let r = physrep_nn::seeded::normal::<AD, 5>(to_last(shape), 0.0, 1.0, 52, &Default::default());
    let (xg, wg, bg) = (x.clone().require_grad(), w.clone().require_grad(), b.clone().require_grad());
    let g = (channel_norm_last(xg.clone(), wg.clone(), bg.clone(), EPS).tanh() * r.clone()).sum().backward();
    let grads = [values(xg.grad(&g).unwrap()), values(wg.grad(&g).unwrap()), values(bg.grad(&g).unwrap())];
    let base = [values(x.inner()), values(w.inner()), values(b.inner())];
    let r = r.inner();
    finite_difference_check(base, grads, |v| {
        tanh_loss(channel_norm_last(tensor(&v[0], shape), tensor(&v[1], [4]), tensor(&v[2], [4]), EPS), &r)
    });
}

#[test]
fn layer_scale_residual_finite_difference_gradients() {
    let shape = [2, 3, 2, 2, 3];
    let (x, h, gm) = residual_inputs::<AD>(shape, 61);
    let r = physrep_nn::seeded::normal::<AD, 5>(shape, 0.0, 1.0, 62, &Default::default());
    let (xg, hg, gg) = (x.clone().require_grad(), h.clone().require_grad(), gm.clone().require_grad());
    let g = (layer_scale_residual(xg.clone(), hg.clone(), gg.clone()).tanh() * r.clone()).sum().backward();
    let grads = [values(xg.grad(&g).unwrap()), values(hg.grad(&g).unwrap()), values(gg.grad(&g).unwrap())];
    let base = [values(x.inner()), values(h.inner()), values(gm.inner())];
    let r = r.inner();
    finite_difference_check(base, grads, |v| {
        tanh_loss(layer_scale_residual(tensor(&v[0], shape), tensor(&v[1], to_last(shape)), tensor(&v[2], [3])), &r)
    });
}

/// The per-channel parameter gradients are reduced in a fixed order: the thread count must not
/// change a single bit.
#[test]
fn channel_kernels_do_not_depend_on_the_thread_count() {
    let shape = [3, 6, 4, 8, 9];
    let (x, w, _) = norm_inputs::<Cpu>(shape, 71);
    let (_, h, g) = residual_inputs::<Cpu>(shape, 72);
    let gy_last = physrep_nn::seeded::normal::<Cpu, 5>(to_last(shape), 0.0, 1.0, 73, &Default::default());
    let gy = physrep_nn::seeded::normal::<Cpu, 5>(shape, 0.0, 1.0, 74, &Default::default());
    let run = || {
        let (gx, gw, gb) = <Cpu as KernelBackend>::channel_norm_backward(
            prim(x.clone()),
            prim(w.clone()),
            prim(gy_last.clone()),
            EPS,
            Layout::ChannelsLast,
        );
        let (gh, gg) = <Cpu as KernelBackend>::layer_scale_residual_backward(prim(gy.clone()), prim(h.clone()), prim(g.clone()));
        [
            values(wrap::<Cpu, 5>(gx)),
            values(wrap::<Cpu, 1>(gw)),
            values(wrap::<Cpu, 1>(gb)),
            values(wrap::<Cpu, 5>(gh)),
            values(wrap::<Cpu, 1>(gg)),
        ]
    };
    let in_pool = |threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(run);
    assert_eq!(in_pool(1), in_pool(3));
}

#[test]
fn channel_kernels_accept_non_contiguous_inputs() {
    let shape = SHAPES[0];
    let (x, w, b) = norm_inputs::<Cpu>(shape, 81);
    let strided = Tensor::<Cpu, 5>::from_data(x.clone().swap_dims(2, 4).into_data(), &Default::default()).swap_dims(2, 4);
    assert_eq!(values(channel_norm_last(strided, w.clone(), b.clone(), EPS)), values(channel_norm_last(x, w, b, EPS)));
}

// ---------------------------------------------------------------------------------------------
// Exact GELU
// ---------------------------------------------------------------------------------------------

/// Every x on a fine grid over [−12, 12] (the tails included), as a rank-2 tensor.
fn gelu_grid() -> Tensor<Cpu, 2> {
    let v: Vec<f32> = (0..24_001).map(|i| -12.0 + i as f32 * 1e-3).collect();
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [1, n]), &Default::default())
}

/// Against burn-flex's GELU and GELU derivative (libm `erff`/`expf`, element by element).
#[test]
fn gelu_matches_libm_based_reference() {
    use burn::tensor::ops::ActivationOps;
    let x = gelu_grid();
    let xs = values(x.clone());
    let ours = values(gelu(x.clone()));
    let reference = values(wrap::<Cpu, 2>(<Cpu as ActivationOps<Cpu>>::gelu(prim(x.clone()))));
    let gy = physrep_nn::seeded::normal::<Cpu, 2>(x.dims(), 0.0, 1.0, 91, &Default::default());
    let ours_b = values(wrap::<Cpu, 2>(<Cpu as KernelBackend>::gelu_exact_backward(prim(x.clone()), prim(gy.clone()))));
    let ref_b = values(wrap::<Cpu, 2>(<Cpu as ActivationOps<Cpu>>::gelu_backward(prim(x), prim(gy.clone()))));
    let gys = values(gy);
    for i in 0..xs.len() {
        let tol = 4e-7 * (1.0 + xs[i].abs());
        assert!((ours[i] - reference[i]).abs() <= tol, "gelu({}) = {}, reference {}", xs[i], ours[i], reference[i]);
        assert!(
            (ours_b[i] - ref_b[i]).abs() <= tol * (1.0 + gys[i].abs()),
            "gelu'({}) · {} = {}, reference {}",
            xs[i],
            gys[i],
            ours_b[i],
            ref_b[i]
        );
    }
}

#[test]
fn gelu_autodiff_and_fallback_match_the_kernels() {
    let x = physrep_nn::seeded::normal::<Cpu, 3>([3, 7, 11], 0.0, 2.0, 92, &Default::default());
    let gy = physrep_nn::seeded::normal::<Cpu, 3>([3, 7, 11], 0.0, 1.0, 93, &Default::default());
    let kernel = values(wrap::<Cpu, 3>(<Cpu as KernelBackend>::gelu_exact_backward(prim(x.clone()), prim(gy.clone()))));
    let fallback = values(wrap::<Cpu, 3>(fallback_gelu_exact_backward::<Cpu>(prim(x.clone()), prim(gy.clone()))));
    assert!(max_rel_err(&kernel, &fallback) < 2e-6, "fallback backward differs: {}", max_rel_err(&kernel, &fallback));
    let xa = Tensor::<AD, 3>::from_inner(x).require_grad();
    let g = (gelu(xa.clone()) * Tensor::<AD, 3>::from_inner(gy)).sum().backward();
    assert_eq!(values(xa.grad(&g).unwrap()), kernel, "autodiff node must call the backward kernel");
}

/// `(y, gx, gw, gb)` of `Σ r · op(x, w, b)` under autodiff, for a 2-D op.
fn dense_value_and_grads(
    (x, w, b): (&Tensor<Cpu, 2>, &Tensor<Cpu, 2>, &Tensor<Cpu, 1>),
    r: &Tensor<Cpu, 2>,
    op: impl Fn(Tensor<AD, 2>, Tensor<AD, 2>, Tensor<AD, 1>) -> Tensor<AD, 2>,
) -> [Vec<f32>; 4] {
    let x = Tensor::<AD, 2>::from_inner(x.clone()).require_grad();
    let w = Tensor::<AD, 2>::from_inner(w.clone()).require_grad();
    let b = Tensor::<AD, 1>::from_inner(b.clone()).require_grad();
    let y = op(x.clone(), w.clone(), b.clone());
    let g = (y.clone() * Tensor::<AD, 2>::from_inner(r.clone())).sum().backward();
    [values(y.inner()), values(x.grad(&g).unwrap()), values(w.grad(&g).unwrap()), values(b.grad(&g).unwrap())]
}

#[test]
fn dense_matches_matmul_plus_bias_with_gradients() {
    let dev = Default::default();
    // The last shape crosses the threshold above which gemm runs on several threads.
    for (i, &(m, k, n)) in [(37, 13, 29), (5, 1, 3), (2000, 64, 64)].iter().enumerate() {
        let seed = 200 + 10 * i as u64;
        let x = physrep_nn::seeded::normal::<Cpu, 2>([m, k], 0.0, 1.0, seed, &dev);
        let w = physrep_nn::seeded::normal::<Cpu, 2>([k, n], 0.0, 0.5, seed + 1, &dev);
        let b = physrep_nn::seeded::normal::<Cpu, 1>([n], 0.0, 1.0, seed + 2, &dev);
        let r = physrep_nn::seeded::normal::<Cpu, 2>([m, n], 0.0, 1.0, seed + 3, &dev);
        let ours = dense_value_and_grads((&x, &w, &b), &r, dense);
        let reference = dense_value_and_grads((&x, &w, &b), &r, |x, w, b| x.matmul(w) + b.reshape([1, n]));
        assert_all_close(ours, reference, &format!("dense ({m}, {k}) x ({k}, {n})"));
        let fallback = values(wrap::<Cpu, 2>(fallback_dense::<Cpu>(prim(x.clone()), prim(w.clone()), prim(b.clone()))));
        let kernel = values(dense(x, w, b));
        assert!(max_rel_err(&kernel, &fallback) < 2e-6, "fallback body differs: {}", max_rel_err(&kernel, &fallback));
    }
}

#[test]
fn dense_accepts_a_transposed_input_and_checks_shapes() {
    let dev = Default::default();
    let xt = physrep_nn::seeded::normal::<Cpu, 2>([6, 9], 0.0, 1.0, 301, &dev);
    let w = physrep_nn::seeded::normal::<Cpu, 2>([6, 4], 0.0, 1.0, 302, &dev);
    let b = physrep_nn::seeded::normal::<Cpu, 1>([4], 0.0, 1.0, 303, &dev);
    let x = xt.transpose();
    let expected = values(x.clone().matmul(w.clone()) + b.clone().reshape([1, 4]));
    let got = values(dense(x, w.clone(), b.clone()));
    assert!(max_rel_err(&got, &expected) < 2e-6);
    let bad = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dense(Tensor::<Cpu, 2>::zeros([3, 5], &Default::default()), w, b)));
    let msg = bad.expect_err("a (3, 5) x (6, 4) product must be rejected");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("dense: expected x (M, K), w (K, N)"), "{msg}");
}

#[test]
fn dense_finite_difference_gradients() {
    let dev = Default::default();
    let (m, k, n) = (4, 3, 5);
    let base = [
        values(physrep_nn::seeded::normal::<Cpu, 2>([m, k], 0.0, 1.0, 311, &dev)),
        values(physrep_nn::seeded::normal::<Cpu, 2>([k, n], 0.0, 1.0, 312, &dev)),
        values(physrep_nn::seeded::normal::<Cpu, 1>([n], 0.0, 1.0, 313, &dev)),
    ];
    let r = physrep_nn::seeded::normal::<Cpu, 2>([m, n], 0.0, 1.0, 314, &dev);
    let loss = |v: &[Vec<f32>; 3]| {
        let y = dense(tensor(&v[0], [m, k]), tensor(&v[1], [k, n]), tensor(&v[2], [n]));
        values((y * r.clone()).tanh().sum()).iter().map(|&x| x as f64).sum::<f64>()
    };
    let x = Tensor::<AD, 2>::from_inner(tensor(&base[0], [m, k])).require_grad();
    let w = Tensor::<AD, 2>::from_inner(tensor(&base[1], [k, n])).require_grad();
    let b = Tensor::<AD, 1>::from_inner(tensor(&base[2], [n])).require_grad();
    let y = dense(x.clone(), w.clone(), b.clone());
    let g = (y * Tensor::<AD, 2>::from_inner(r.clone())).tanh().sum().backward();
    let grads = [values(x.grad(&g).unwrap()), values(w.grad(&g).unwrap()), values(b.grad(&g).unwrap())];
    finite_difference_check(base, grads, loss);
}

/// Random block parameters for `c` channels (hidden width 4c, 3³ depthwise kernel, γ of order 1).
fn block_params<B: Backend>(c: usize, seed: u64) -> BlockParams<burn::tensor::ops::FloatTensor<B>> {
    let dev = Default::default();
    let shapes: [Vec<usize>; 9] =
        [vec![c, 1, 3, 3, 3], vec![c], vec![c], vec![c], vec![c, 4 * c], vec![4 * c], vec![4 * c, c], vec![c], vec![c]];
    BlockParams::from_array(std::array::from_fn(|i| {
        let t =
            physrep_nn::seeded::normal::<B, 1>([shapes[i].iter().product()], if i == 2 { 1.0 } else { 0.0 }, 0.5, seed + i as u64, &dev);
        B::float_reshape(prim(t), burn::tensor::Shape::from(shapes[i].clone()))
    }))
}

#[test]
fn fused_inference_block_matches_the_recorded_block() {
    // Row counts below, at and across the fused MLP's 256-row tiles (with a remainder).
    for (i, shape) in [[2, 8, 3, 5, 7], [1, 8, 4, 8, 8], [1, 8, 4, 9, 11]].into_iter().enumerate() {
        let seed = 400 + 20 * i as u64;
        let x = physrep_nn::seeded::normal::<Cpu, 5>(shape, 0.0, 1.0, seed, &Default::default());
        let p = block_params::<Cpu>(shape[1], seed + 1);
        let fused = values(convnext_block::<Cpu>(x.clone(), p.clone(), 1e-6, false));
        let p_ad: BlockParams<_> = p.map(<AD as burn::tensor::backend::AutodiffBackend>::from_inner);
        let recorded = values(convnext_block::<AD>(Tensor::from_inner(x), p_ad, 1e-6, false).inner());
        let e = max_rel_err(&fused, &recorded);
        assert!(e < 2e-5, "block {shape:?}: fused inference path differs from the recorded one by {e}");
    }
}
