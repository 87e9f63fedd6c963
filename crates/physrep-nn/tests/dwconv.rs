//! The depthwise 3-D convolution kernels against burn's grouped `conv3d`, the fallback bodies and
//! finite differences.

use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use physrep_nn::kernels::{dwconv3d, dwconv3d_reference, fallback_dwconv3d_backward, DwBackend};
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
    for (name, e) in [
        ("y", rel_err(ours.0, refr.0)),
        ("gx", rel_err(ours.1, refr.1)),
        ("gw", rel_err(ours.2, refr.2)),
        ("gb", rel_err(ours.3, refr.3)),
    ] {
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
    let prim = |t: Tensor<Cpu, 5>| t.into_primitive().tensor();
    let back = |p| Tensor::<Cpu, 5>::from_primitive(TensorPrimitive::Float(p));
    let (gx, gw, gb) = <Cpu as DwBackend>::dwconv3d_backward(prim(x.clone()), prim(w.clone()), prim(gy.clone()));
    let (rx, rw, rb) = fallback_dwconv3d_backward::<Cpu>(prim(x.clone()), prim(w.clone()), prim(gy));
    assert!(rel_err(back(gx), back(rx)) < 2e-5);
    assert!(rel_err(back(gw), back(rw)) < 2e-5);
    let gb = Tensor::<Cpu, 1>::from_primitive(TensorPrimitive::Float(gb));
    let rb = Tensor::<Cpu, 1>::from_primitive(TensorPrimitive::Float(rb));
    assert!(rel_err(gb, rb) < 2e-5);
    assert!(rel_err(dwconv3d(x.clone(), w.clone(), b.clone()), dwconv3d_reference(x, w, b)) < 2e-5);
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

/// Central differences of `L = Σ r · tanh(y)` in f32 for a few entries of x, w and b.
#[test]
fn finite_difference_gradients() {
    let shape = [1, 2, 3, 4, 5];
    let (x, w, b) = inputs::<AD>(shape, [3, 3, 3], 5);
    let r = physrep_nn::seeded::normal::<AD, 5>(shape, 0.0, 1.0, 600, &Default::default());
    let loss = |x: Tensor<Cpu, 5>, w: Tensor<Cpu, 5>, b: Tensor<Cpu, 1>| -> f64 {
        let y = dwconv3d(x, w, b).tanh();
        let v: Vec<f32> = (y * r.clone().inner()).into_data().to_vec().unwrap();
        v.iter().map(|&v| f64::from(v)).sum()
    };
    let (xg, wg, bg) = (x.clone().require_grad(), w.clone().require_grad(), b.clone().require_grad());
    let g = (dwconv3d(xg.clone(), wg.clone(), bg.clone()).tanh() * r.clone()).sum().backward();
    let grads: [Vec<f32>; 3] = [
        xg.grad(&g).unwrap().into_data().to_vec().unwrap(),
        wg.grad(&g).unwrap().into_data().to_vec().unwrap(),
        bg.grad(&g).unwrap().into_data().to_vec().unwrap(),
    ];
    let base: [Vec<f32>; 3] = [
        x.clone().inner().into_data().to_vec().unwrap(),
        w.clone().inner().into_data().to_vec().unwrap(),
        b.clone().inner().into_data().to_vec().unwrap(),
    ];
    let shapes: [Vec<usize>; 3] = [shape.to_vec(), vec![2, 1, 3, 3, 3], vec![2]];
    let eps = 1e-2f32;
    for which in 0..3 {
        let n = base[which].len();
        for idx in [0, n / 3, n / 2, n - 1] {
            let eval = |delta: f32| {
                let mut vals = base.clone();
                vals[which][idx] += delta;
                let t5 = |v: &Vec<f32>, s: &Vec<usize>| {
                    Tensor::<Cpu, 5>::from_data(TensorData::new(v.clone(), s.clone()), &Default::default())
                };
                let bt = Tensor::<Cpu, 1>::from_data(TensorData::new(vals[2].clone(), [2]), &Default::default());
                loss(t5(&vals[0], &shapes[0]), t5(&vals[1], &shapes[1]), bt)
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * f64::from(eps));
            let an = f64::from(grads[which][idx]);
            assert!(
                (fd - an).abs() <= 2e-3 + 1e-2 * an.abs(),
                "param {which} entry {idx}: finite difference {fd}, autodiff {an}"
            );
        }
    }
}
