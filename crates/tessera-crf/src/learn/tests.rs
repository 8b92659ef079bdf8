use super::model::Inference;
use super::ssvm::{Layout, Prepared, oracle};
use super::*;
use crate::features::EDGE_FEATURES;
use proptest::prelude::*;

/// A constant-only edge feature row.
fn constant_edge() -> [f32; EDGE_FEATURES] {
    let mut e = [0.0; EDGE_FEATURES];
    e[0] = 1.0;
    e
}

/// A chain of `len` nodes with one feature: `x` on the first node, 0 on the others; every node
/// has class `y`.
fn chain(len: usize, x: f32, y: u32) -> Sample {
    let mut nodes = vec![0.0f32; len];
    nodes[0] = x;
    let edges: Vec<[u32; 2]> = (0..len as u32 - 1).map(|i| [i, i + 1]).collect();
    let ef: Vec<f32> = edges.iter().flat_map(|_| constant_edge()).collect();
    Sample {
        features: ImageFeatures::new(1, nodes, vec![1; len], edges, ef).unwrap(),
        labels: vec![y; len],
    }
}

fn params(pairwise: bool, inference: Inference) -> LearnParams {
    LearnParams {
        n_classes: 2,
        pairwise,
        class_weight_power: 0.0,
        ssvm: SsvmParams {
            c: 1.0,
            max_passes: 2000,
            tolerance: 1e-2,
            eval_every: 5,
            inference,
            ..SsvmParams::default()
        },
        ..LearnParams::default()
    }
}

/// The trace is sound ([`check_trace`]) and `model` labels every sample of `data` right.
fn labels_every_sample(model: &Model, report: &FitReport, data: &[Sample]) {
    check_trace(report);
    for s in data {
        assert_eq!(predict(model, &s.features).unwrap(), s.labels);
    }
}

fn check_trace(report: &FitReport) {
    // The dual objective never decreases (BCFW's line search); the primal is never below the
    // dual (weak duality: the oracles here are exact); the weights returned are those with the
    // lowest primal objective seen.
    for pair in report.trace.windows(2) {
        assert!(pair[1].dual >= pair[0].dual - 1e-12, "{pair:?}");
    }
    for r in &report.trace {
        if let Some(p) = r.primal {
            assert!(p >= r.dual - 1e-9, "{r:?}");
            assert!(report.primal <= p + 1e-12);
        }
        assert!(r.gap_estimate >= -1e-9);
    }
}

#[test]
fn separable_chain_needs_the_pairwise_term() {
    let data: Vec<Sample> = (0..6)
        .map(|i| {
            if i % 2 == 0 {
                chain(5, 1.0, 1)
            } else {
                chain(5, -1.0, 0)
            }
        })
        .collect();
    // The CRF, with an exact oracle on chains (TRW-S), separates the data: every training
    // chain is labelled right, and BCFW converges.
    let (model, report) = fit(&data, &params(true, Inference::Trws), None).unwrap();
    assert!(
        report.converged,
        "gap {} primal {}",
        report.gap, report.primal
    );
    labels_every_sample(&model, &report, &data);
    // Scaling the edge features in training changes the regularisation, not the scores'
    // meaning: the scaled model separates the chains too.
    let scaled = LearnParams {
        pairwise_scale: 3.0,
        ..params(true, Inference::Trws)
    };
    let (model3, report) = fit(&data, &scaled, None).unwrap();
    labels_every_sample(&model3, &report, &data);
    // The unary-only model cannot: the nodes after the first look the same in both classes.
    let (unary, report) = fit(&data, &params(false, Inference::Trws), None).unwrap();
    check_trace(&report);
    let wrong: usize = data
        .iter()
        .map(|s| {
            let p = predict(&unary, &s.features).unwrap();
            p.iter().zip(&s.labels).filter(|(a, b)| a != b).count()
        })
        .sum();
    assert!(wrong >= 12, "{wrong}");
}

#[test]
fn separable_unary_problem_is_learned_exactly() {
    // Three classes by the position of a 1-D feature; no edges.
    let data: Vec<Sample> = (0..9)
        .map(|i| {
            let y = (i % 3) as u32;
            let x = y as f32 - 1.0 + 0.1 * (i as f32 / 9.0);
            Sample {
                features: ImageFeatures::new(1, vec![x], vec![1], vec![], vec![]).unwrap(),
                labels: vec![y],
            }
        })
        .collect();
    let p = LearnParams {
        n_classes: 3,
        ..params(false, Inference::Expansion)
    };
    let (model, report) = fit(&data, &p, None).unwrap();
    assert!(
        report.converged,
        "gap {} primal {}",
        report.gap, report.primal
    );
    labels_every_sample(&model, &report, &data);
}

#[test]
fn void_superpixels_are_left_out() {
    let mut s = chain(3, 1.0, 1);
    s.labels[2] = VOID;
    let t = chain(3, -1.0, 0);
    let (_, report) = fit(&[s, t], &params(true, Inference::Trws), None).unwrap();
    assert!(report.primal.is_finite());
    let mut bad = chain(3, 1.0, 1);
    bad.labels[0] = 5;
    assert!(fit(&[bad], &params(true, Inference::Trws), None).is_err());
    assert!(fit(&[], &params(true, Inference::Trws), None).is_err());
}

/// A prepared random problem for the oracle checks: `n` nodes, `l` labels, the given edges.
fn prepared(n: usize, l: usize, edges: Vec<[u32; 2]>, seed: u64) -> (Layout, Prepared, Vec<f64>) {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 2001) as f64 / 1000.0 - 1.0
    };
    let ef: Vec<f32> = edges
        .iter()
        .flat_map(|_| {
            let mut e = [0.0f32; EDGE_FEATURES];
            e[0] = 1.0;
            e[1] = 0.5;
            e
        })
        .collect();
    let features = ImageFeatures::new(1, vec![0.0; n], vec![1; n], edges, ef).unwrap();
    let layout = Layout {
        n_classes: l,
        d: 2,
        pairwise: true,
    };
    let truth: Vec<u32> = (0..n).map(|i| (i % l) as u32).collect();
    let z: Vec<f64> = (0..n).flat_map(|_| [next(), 1.0]).collect();
    let weight: Vec<f64> = (0..n).map(|_| next().abs()).collect();
    let mut w: Vec<f64> = (0..layout.len()).map(|_| next()).collect();
    if l == 2 {
        // Attractive (submodular) label-pair weights: same labels score more.
        let nu = l * 2;
        for f in 0..EDGE_FEATURES {
            let m = &mut w[nu + f * 4..nu + f * 4 + 4];
            m[0] = m[0].abs();
            m[3] = m[3].abs();
            m[1] = -m[1].abs();
            m[2] = -m[2].abs();
        }
    }
    (
        layout,
        Prepared {
            features,
            z,
            truth,
            weight,
        },
        w,
    )
}

/// The largest `Delta(y) + w.psi(y) - w.psi(truth)` over all labellings.
fn brute_force(layout: &Layout, p: &Prepared, w: &[f64]) -> f64 {
    let n = p.truth.len();
    let l = layout.n_classes;
    let mut best = f64::NEG_INFINITY;
    let total = l.pow(n as u32);
    let mut psi_t = vec![0.0; layout.len()];
    // Evaluate through the joint feature map: w . (psi(y) - psi(truth)).
    add_psi_for_test(layout, p, &p.truth, 1.0, &mut psi_t);
    for code in 0..total {
        let mut c = code;
        let y: Vec<u32> = (0..n)
            .map(|_| {
                let v = (c % l) as u32;
                c /= l;
                v
            })
            .collect();
        let mut psi = vec![0.0; layout.len()];
        add_psi_for_test(layout, p, &y, 1.0, &mut psi);
        let s: f64 = psi
            .iter()
            .zip(&psi_t)
            .zip(w)
            .map(|((a, b), w)| (a - b) * w)
            .sum();
        best = best.max(loss::hamming(&p.truth, &y, &p.weight) + s);
    }
    best
}

/// The joint feature map written out independently of `Layout::add_psi`.
fn add_psi_for_test(layout: &Layout, p: &Prepared, y: &[u32], coef: f64, out: &mut [f64]) {
    let (d, l) = (layout.d, layout.n_classes);
    for (i, &k) in y.iter().enumerate() {
        for c in 0..d {
            out[k as usize * d + c] += coef * p.z[i * d + c];
        }
    }
    for (e, ab) in p.features.edges().iter().enumerate() {
        for f in 0..EDGE_FEATURES {
            let idx =
                l * d + f * l * l + y[ab[0] as usize] as usize * l + y[ab[1] as usize] as usize;
            out[idx] += coef * f64::from(p.features.edge(e)[f]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Two labels and submodular pairwise weights on a loopy graph: alpha-expansion's single
    /// cut is the exact loss-augmented optimum.
    #[test]
    fn two_label_oracle_is_exact(n in 2usize..8, extra in 0usize..6, seed in any::<u64>()) {
        let mut edges: Vec<[u32; 2]> = (0..n as u32 - 1).map(|i| [i, i + 1]).collect();
        for k in 0..extra {
            let (a, b) = ((k * 7 + 1) % n, (k * 3 + 4) % n);
            if a != b && !edges.contains(&[a as u32, b as u32]) && !edges.contains(&[b as u32, a as u32]) {
                edges.push([a as u32, b as u32]);
            }
        }
        let (layout, p, w) = prepared(n, 2, edges, seed);
        let best = brute_force(&layout, &p, &w);
        for inference in [Inference::Expansion, Inference::ExpansionOnly] {
            let (_, h) = oracle(&layout, &p, &w, None, inference).unwrap();
            prop_assert!((h - best).abs() < 1e-9);
        }
    }

    /// Three labels and any pairwise weights on a chain: TRW-S is exact.
    #[test]
    fn tree_oracle_is_exact(n in 2usize..7, seed in any::<u64>()) {
        let edges: Vec<[u32; 2]> = (0..n as u32 - 1).map(|i| [i, i + 1]).collect();
        let (layout, p, w) = prepared(n, 3, edges, seed);
        let (_, h) = oracle(&layout, &p, &w, None, Inference::Trws).unwrap();
        prop_assert!((h - brute_force(&layout, &p, &w)).abs() < 1e-6);
    }
}

#[test]
fn superpixel_majority_labels() {
    let seg = Segmentation::from_labels(4, 1, vec![0, 0, 1, 1]).unwrap();
    // Node 0: classes 2 and 2; node 1: void and void wins over class 1? No: tie 1 vs void -> 1.
    assert_eq!(
        superpixel_labels(&seg, &[2, 2, 1, 255], 3).unwrap(),
        vec![2, 1]
    );
    assert_eq!(
        superpixel_labels(&seg, &[2, 2, 255, 255], 3).unwrap(),
        vec![2, VOID]
    );
    assert!(superpixel_labels(&seg, &[0, 0], 3).is_err());
}

#[test]
fn confusion_scores() {
    let mut c = Confusion::new(3);
    c.add(&[0, 0, 1, 1, 255], &[0, 1, 1, 1, 0]);
    assert!((c.global() - 0.75).abs() < 1e-12);
    assert_eq!(c.recalls(), vec![Some(0.5), Some(1.0), None]);
    assert!((c.average() - 0.75).abs() < 1e-12);
}

#[test]
fn model_round_trips_through_json() {
    // Rows of the real feature dimension, so that the model validates.
    let dim = crate::features::node_dim(&FeatureParams::default());
    let wide = |x: f32, y: u32| {
        let s = chain(2, x, y);
        let mut nodes = vec![0.5f32; 2 * dim];
        nodes[0] = x;
        let f = ImageFeatures::new(
            dim,
            nodes,
            vec![1, 1],
            s.features.edges().to_vec(),
            s.features.edge_features().to_vec(),
        )
        .unwrap();
        Sample {
            features: f,
            labels: s.labels,
        }
    };
    let data = vec![wide(1.0, 1), wide(-1.0, 0)];
    let (model, _) = fit(&data, &params(true, Inference::Trws), None).unwrap();
    let text = serde_json::to_string(&model).unwrap();
    let back: Model = serde_json::from_str(&text).unwrap();
    assert_eq!(back, model);
    back.validate().unwrap();
    let mut broken = model.clone();
    broken.unary.pop();
    assert!(broken.validate().is_err());
}
