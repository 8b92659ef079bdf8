//! Minimum s-t cuts by the Boykov–Kolmogorov max-flow algorithm (Boykov & Kolmogorov, "An
//! experimental comparison of min-cut/max-flow algorithms for energy minimization in vision",
//! PAMI 2004): two search trees grown from the terminals, augmentation along the path where
//! they meet, adoption of orphans.
//!
//! Written by hand from the paper: no permissively licensed Rust implementation of it exists
//! (the authors' C++ code is GPL / research-only).

use std::collections::VecDeque;

const NONE: u32 = u32::MAX;
const TERMINAL: u32 = u32::MAX - 1;
const ORPHAN: u32 = u32::MAX - 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tree {
    Free,
    Source,
    Sink,
}

/// A flow network with source and sink terminals, for one max-flow computation.
///
/// Capacities must be finite and non-negative; negative or NaN capacities are treated as 0.
///
/// ```
/// use tessera_crf::maxflow::FlowGraph;
/// let mut g = FlowGraph::new(2);
/// g.add_terminal_weights(0, 3.0, 0.0); // source -> 0
/// g.add_terminal_weights(1, 0.0, 2.0); // 1 -> sink
/// g.add_edge(0, 1, 5.0, 0.0);
/// assert_eq!(g.maxflow(), 2.0);
/// assert!(g.in_source_set(0) && g.in_source_set(1));
/// ```
#[derive(Debug, Clone)]
pub struct FlowGraph {
    first: Vec<u32>,
    parent: Vec<u32>,
    tree: Vec<Tree>,
    /// Residual terminal capacity: `> 0` from the source, `< 0` to the sink.
    tr_cap: Vec<f64>,
    ts: Vec<u64>,
    dist: Vec<u32>,
    in_active: Vec<bool>,
    head: Vec<u32>,
    next: Vec<u32>,
    rcap: Vec<f64>,
    flow: f64,
}

fn cap(c: f64) -> f64 {
    if c > 0.0 { c } else { 0.0 }
}

impl FlowGraph {
    /// A network of `n` nodes and no arcs.
    pub fn new(n: usize) -> Self {
        FlowGraph {
            first: vec![NONE; n],
            parent: vec![NONE; n],
            tree: vec![Tree::Free; n],
            tr_cap: vec![0.0; n],
            ts: vec![0; n],
            dist: vec![0; n],
            in_active: vec![false; n],
            head: Vec::new(),
            next: Vec::new(),
            rcap: Vec::new(),
            flow: 0.0,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// Whether the network has no nodes.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    /// Adds capacity `source` on the arc source -> `i` and `sink` on `i` -> sink.
    pub fn add_terminal_weights(&mut self, i: usize, source: f64, sink: f64) {
        let (mut s, mut t) = (cap(source), cap(sink));
        let d = self.tr_cap[i];
        if d > 0.0 {
            s += d;
        } else {
            t -= d;
        }
        // The common part flows straight through.
        self.flow += s.min(t);
        self.tr_cap[i] = s - t;
    }

    /// Adds an arc `i -> j` of capacity `forward` and `j -> i` of capacity `backward`.
    pub fn add_edge(&mut self, i: usize, j: usize, forward: f64, backward: f64) {
        let a = self.head.len() as u32;
        self.head.push(j as u32);
        self.next.push(self.first[i]);
        self.rcap.push(cap(forward));
        self.first[i] = a;
        self.head.push(i as u32);
        self.next.push(self.first[j]);
        self.rcap.push(cap(backward));
        self.first[j] = a + 1;
    }

    fn arcs(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let mut a = self.first[i as usize];
        std::iter::from_fn(move || {
            (a != NONE).then(|| {
                let cur = a;
                a = self.next[a as usize];
                cur
            })
        })
    }

    fn tail(&self, a: u32) -> u32 {
        self.head[(a ^ 1) as usize]
    }

    /// Computes the maximum flow (call once, after adding every arc) and returns its value.
    pub fn maxflow(&mut self) -> f64 {
        let n = self.len();
        let mut active: VecDeque<u32> = VecDeque::new();
        for i in 0..n {
            if self.tr_cap[i] != 0.0 {
                self.tree[i] = if self.tr_cap[i] > 0.0 {
                    Tree::Source
                } else {
                    Tree::Sink
                };
                self.parent[i] = TERMINAL;
                self.dist[i] = 1;
                self.in_active[i] = true;
                active.push_back(i as u32);
            }
        }
        let mut orphans: VecDeque<u32> = VecDeque::new();
        let mut time: u64 = 0;
        while let Some(i) = self.next_active(&mut active) {
            let path = self.grow(i, &mut active);
            if path == NONE {
                continue;
            }
            // Keep `i` active: it may have more arcs to explore.
            self.in_active[i as usize] = true;
            active.push_front(i);
            time += 1;
            self.augment(path, &mut orphans);
            while let Some(o) = orphans.pop_front() {
                self.adopt(o, time, &mut orphans, &mut active);
            }
        }
        self.flow
    }

    fn next_active(&mut self, active: &mut VecDeque<u32>) -> Option<u32> {
        while let Some(i) = active.pop_front() {
            self.in_active[i as usize] = false;
            if self.parent[i as usize] != NONE {
                return Some(i);
            }
        }
        None
    }

    fn set_active(&mut self, j: u32, active: &mut VecDeque<u32>) {
        if !self.in_active[j as usize] {
            self.in_active[j as usize] = true;
            active.push_back(j);
        }
    }

    /// Grows the tree of `i` by one layer of its arcs; returns the arc from the source tree to
    /// the sink tree where the trees meet, or `NONE`.
    fn grow(&mut self, i: u32, active: &mut VecDeque<u32>) -> u32 {
        let iu = i as usize;
        let source = self.tree[iu] == Tree::Source;
        let mut a = self.first[iu];
        while a != NONE {
            let au = a as usize;
            // Residual along the tree's direction: away from the source, towards the sink.
            let residual = if source {
                self.rcap[au]
            } else {
                self.rcap[au ^ 1]
            };
            if residual > 0.0 {
                let j = self.head[au];
                let ju = j as usize;
                if self.parent[ju] == NONE {
                    self.tree[ju] = self.tree[iu];
                    self.parent[ju] = a ^ 1;
                    self.ts[ju] = self.ts[iu];
                    self.dist[ju] = self.dist[iu] + 1;
                    self.set_active(j, active);
                } else if self.tree[ju] != self.tree[iu] {
                    return if source { a } else { a ^ 1 };
                }
            }
            a = self.next[au];
        }
        NONE
    }

    fn augment(&mut self, mid: u32, orphans: &mut VecDeque<u32>) {
        let s_end = self.tail(mid);
        let t_end = self.head[mid as usize];
        let mut b = self.rcap[mid as usize];
        let mut i = s_end;
        while self.parent[i as usize] != TERMINAL {
            let pa = self.parent[i as usize];
            b = b.min(self.rcap[(pa ^ 1) as usize]);
            i = self.head[pa as usize];
        }
        b = b.min(self.tr_cap[i as usize]);
        let mut i = t_end;
        while self.parent[i as usize] != TERMINAL {
            let pa = self.parent[i as usize];
            b = b.min(self.rcap[pa as usize]);
            i = self.head[pa as usize];
        }
        b = b.min(-self.tr_cap[i as usize]);

        self.rcap[mid as usize] -= b;
        self.rcap[(mid ^ 1) as usize] += b;
        let mut i = s_end;
        loop {
            let iu = i as usize;
            let pa = self.parent[iu];
            if pa == TERMINAL {
                self.tr_cap[iu] -= b;
                if self.tr_cap[iu] <= 0.0 {
                    self.tr_cap[iu] = 0.0;
                    self.parent[iu] = ORPHAN;
                    orphans.push_back(i);
                }
                break;
            }
            self.rcap[pa as usize] += b;
            self.rcap[(pa ^ 1) as usize] -= b;
            if self.rcap[(pa ^ 1) as usize] <= 0.0 {
                self.parent[iu] = ORPHAN;
                orphans.push_back(i);
            }
            i = self.head[pa as usize];
        }
        let mut i = t_end;
        loop {
            let iu = i as usize;
            let pa = self.parent[iu];
            if pa == TERMINAL {
                self.tr_cap[iu] += b;
                if self.tr_cap[iu] >= 0.0 {
                    self.tr_cap[iu] = 0.0;
                    self.parent[iu] = ORPHAN;
                    orphans.push_back(i);
                }
                break;
            }
            self.rcap[pa as usize] -= b;
            self.rcap[(pa ^ 1) as usize] += b;
            if self.rcap[pa as usize] <= 0.0 {
                self.parent[iu] = ORPHAN;
                orphans.push_back(i);
            }
            i = self.head[pa as usize];
        }
        self.flow += b;
    }

    /// Distance of `j` to its terminal if its path to it is intact, marking the path as valid
    /// at `time`.
    fn origin_distance(&mut self, j: u32, time: u64) -> Option<u32> {
        let mut steps = 0;
        let mut k = j;
        let d = loop {
            let ku = k as usize;
            if self.ts[ku] == time {
                break steps + self.dist[ku];
            }
            match self.parent[ku] {
                TERMINAL => {
                    self.ts[ku] = time;
                    self.dist[ku] = 1;
                    break steps + 1;
                }
                ORPHAN | NONE => return None,
                p => {
                    steps += 1;
                    k = self.head[p as usize];
                }
            }
        };
        let (mut k, mut dk) = (j, d);
        while self.ts[k as usize] != time {
            self.ts[k as usize] = time;
            self.dist[k as usize] = dk;
            dk -= 1;
            k = self.head[self.parent[k as usize] as usize];
        }
        Some(d)
    }

    fn adopt(
        &mut self,
        i: u32,
        time: u64,
        orphans: &mut VecDeque<u32>,
        active: &mut VecDeque<u32>,
    ) {
        let iu = i as usize;
        let tree = self.tree[iu];
        let source = tree == Tree::Source;
        let (mut best, mut best_d) = (NONE, u32::MAX);
        let arcs: Vec<u32> = self.arcs(i).collect();
        for &a in &arcs {
            let residual = if source {
                self.rcap[(a ^ 1) as usize]
            } else {
                self.rcap[a as usize]
            };
            let j = self.head[a as usize];
            if residual > 0.0
                && self.tree[j as usize] == tree
                && self.parent[j as usize] != NONE
                && let Some(d) = self.origin_distance(j, time)
                && d < best_d
            {
                best = a;
                best_d = d;
            }
        }
        if best != NONE {
            self.parent[iu] = best;
            self.ts[iu] = time;
            self.dist[iu] = best_d + 1;
            return;
        }
        for &a in &arcs {
            let j = self.head[a as usize];
            let ju = j as usize;
            if self.tree[ju] != tree || self.parent[ju] == NONE {
                continue;
            }
            let residual = if source {
                self.rcap[(a ^ 1) as usize]
            } else {
                self.rcap[a as usize]
            };
            if residual > 0.0 {
                self.set_active(j, active);
            }
            let pj = self.parent[ju];
            if pj != TERMINAL && pj != ORPHAN && self.head[pj as usize] == i {
                self.parent[ju] = ORPHAN;
                orphans.push_back(j);
            }
        }
        self.tree[iu] = Tree::Free;
        self.parent[iu] = NONE;
    }

    /// After [`FlowGraph::maxflow`]: whether node `i` is on the source side of the minimum cut
    /// (reachable from the source in the residual network).
    pub fn in_source_set(&self, i: usize) -> bool {
        self.tree[i] == Tree::Source && self.parent[i] != NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plain Edmonds–Karp on a dense capacity matrix; node `n` is the source, `n + 1` the sink.
    fn edmonds_karp(cap: &mut [Vec<f64>], s: usize, t: usize) -> f64 {
        let m = cap.len();
        let mut flow = 0.0;
        loop {
            let mut prev = vec![usize::MAX; m];
            prev[s] = s;
            let mut q = VecDeque::from([s]);
            while let Some(u) = q.pop_front() {
                for v in 0..m {
                    if prev[v] == usize::MAX && cap[u][v] > 1e-12 {
                        prev[v] = u;
                        q.push_back(v);
                    }
                }
            }
            if prev[t] == usize::MAX {
                return flow;
            }
            let mut b = f64::INFINITY;
            let mut v = t;
            while v != s {
                b = b.min(cap[prev[v]][v]);
                v = prev[v];
            }
            let mut v = t;
            while v != s {
                cap[prev[v]][v] -= b;
                cap[v][prev[v]] += b;
                v = prev[v];
            }
            flow += b;
        }
    }

    proptest! {
        #[test]
        fn agrees_with_edmonds_karp(
            n in 1usize..12,
            terminals in proptest::collection::vec((0u8..6, 0u8..6), 12),
            arcs in proptest::collection::vec((0usize..12, 0usize..12, 0u8..6, 0u8..6), 0..40),
        ) {
            let mut g = FlowGraph::new(n);
            let mut dense = vec![vec![0.0; n + 2]; n + 2];
            for (i, &(s, t)) in terminals.iter().take(n).enumerate() {
                g.add_terminal_weights(i, f64::from(s), f64::from(t));
                dense[n][i] += f64::from(s);
                dense[i][n + 1] += f64::from(t);
            }
            for &(i, j, f, b) in &arcs {
                let (i, j) = (i % n, j % n);
                if i == j { continue; }
                g.add_edge(i, j, f64::from(f), f64::from(b));
                dense[i][j] += f64::from(f);
                dense[j][i] += f64::from(b);
            }
            let original = dense.clone();
            let flow = g.maxflow();
            let expected = edmonds_karp(&mut dense, n, n + 1);
            prop_assert!((flow - expected).abs() < 1e-9, "bk {} ek {}", flow, expected);
            // The cut the trees give has the capacity of the flow.
            let side = |v: usize| if v == n { true } else if v == n + 1 { false } else { g.in_source_set(v) };
            let mut cut = 0.0;
            for (u, row) in original.iter().enumerate() { for (v, &c) in row.iter().enumerate() {
                if side(u) && !side(v) { cut += c; }
            }}
            prop_assert!((cut - flow).abs() < 1e-9, "cut {} flow {}", cut, flow);
        }
    }
}
