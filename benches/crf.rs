//! CRF solver speed on region adjacency graphs of SLIC superpixels of a resized asset: about
//! 1,000 and 10,000 nodes, 2, 5 and 21 labels, each solver. Before timing, each case prints
//! every solver's energy, lower bound, iterations and one run's time, and whether
//! alpha-expansion's energy is no higher than ICM's and BP's. Run: `cargo bench --bench crf`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera::{Image, Slic, Superpixels};
use tessera_crf::solver::{BeliefPropagation, Expansion, Icm, Trws};
use tessera_crf::{Energy, PairwiseParams, RegionGraph, Solver};
use tessera_suite::{asset, resized};

/// Unaries: node size times the squared CIELAB distance of its mean colour to each of `l`
/// reference colours (the means of `l` evenly spaced nodes), scaled to the order of the
/// pairwise terms.
fn energy(graph: &RegionGraph, l: usize) -> Energy {
    let nodes = graph.nodes();
    let refs: Vec<[f32; 3]> = (0..l)
        .map(|k| nodes[k * nodes.len() / l].mean_lab)
        .collect();
    let unary = nodes
        .iter()
        .flat_map(|n| {
            refs.iter().map(move |r| {
                let d: f32 = (0..3).map(|c| (n.mean_lab[c] - r[c]).powi(2)).sum();
                f64::from(n.size) * f64::from(d) / 100.0
            })
        })
        .collect();
    let params = PairwiseParams {
        lambda: 2.0,
        ..PairwiseParams::default()
    };
    Energy::from_graph(graph, l, unary, &params).expect("valid energy")
}

fn bench(c: &mut Criterion) {
    let photo = asset("chelsea.png");
    let cases = [
        ("1k", resized(&photo, 481, 321), 1000),
        ("10k", resized(&photo, 1200, 800), 10000),
    ];
    let solvers: Vec<Box<dyn Solver>> = vec![
        Box::new(Icm::default()),
        Box::new(BeliefPropagation::default()),
        Box::new(Trws::default()),
        Box::new(Expansion::default()),
    ];
    let mut group = c.benchmark_group("crf");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (name, img, k) in cases {
        let img = Image::from_dynamic(&img).expect("asset converts");
        let seg = Slic {
            n_segments: k,
            ..Slic::default()
        }
        .segment(&img)
        .expect("slic");
        let graph = RegionGraph::build(&img, &seg, &Default::default()).expect("graph");
        for l in [2, 5, 21] {
            let e = energy(&graph, l);
            let mut energies = Vec::new();
            for s in &solvers {
                let t = Instant::now();
                let sol = s.solve(&e).expect("solve");
                eprintln!(
                    "crf {name} nodes={} edges={} labels={l} solver={} energy={:.3} bound={:?} iterations={} time={:.1}ms",
                    e.n_nodes(),
                    e.edges().len(),
                    s.name(),
                    sol.energy,
                    sol.lower_bound,
                    sol.iterations,
                    t.elapsed().as_secs_f64() * 1e3
                );
                energies.push((s.name(), sol.energy));
            }
            let of = |n: &str| {
                energies
                    .iter()
                    .find(|(s, _)| *s == n)
                    .map(|p| p.1)
                    .unwrap_or(f64::NAN)
            };
            eprintln!(
                "crf {name} labels={l} expansion<=icm: {} expansion<=bp: {}",
                of("expansion") <= of("icm"),
                of("expansion") <= of("bp")
            );
            for s in &solvers {
                group.bench_with_input(
                    BenchmarkId::new(format!("{name}/L{l}"), s.name()),
                    &e,
                    |b, e| b.iter(|| s.solve(black_box(e)).expect("solve")),
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
