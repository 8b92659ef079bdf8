//! The UAI `MARKOV` text format (UAI inference competitions): a preamble with the variables'
//! cardinalities and the factors' scopes, then one table per factor holding potentials
//! `exp(-energy)`, the last variable of the scope changing fastest.
//!
//! [`write()`] emits one unary factor per node and one pairwise factor per edge. Each factor's
//! energies are shifted by their minimum before exponentiation, so that a potential underflows
//! only when its factor's energy *range* exceeds [`MAX_RANGE`] (plain `exp(-energy)` turns every
//! energy above about 745 into 0, an impossible state); the shifts are written in `c` comment
//! lines, and [`read()`] adds them back. Energies of [`HARD_COST`] or more (fixed nodes) are
//! written as potential 0 on purpose. An entry still too small for an `f64` is written exactly
//! in decimal (`3.1e-412`), which [`read()`] takes in the log domain but a reader parsing
//! doubles takes as 0; [`write()`] reports such factors in the returned [`Written`].
//!
//! [`read()`] accepts factors of one and two variables, all variables having the same number
//! of labels; unaries of a node are summed, pairwise factors become edges with per-edge tables
//! (weight 1). A zero potential (infinite energy) is read as [`HARD_COST`].

use crate::energy::{Edge, Energy, Pairwise};
use crate::error::{Error, Result};
use std::io::{BufRead, Write};

/// The energy given to zero potentials when reading; energies this high or higher are
/// written as potential 0.
pub const HARD_COST: f64 = 1e9;

/// The largest energy above a factor's minimum that a potential can hold as a normal `f64`:
/// `-ln(f64::MIN_POSITIVE)`, about 708.4.
pub const MAX_RANGE: f64 = 708.396_418_532_264_1;

/// The comment prefix of the lines holding the factors' shifts.
const SHIFTS: &str = "c shifts";

/// A factor of the written model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// The unary factor of a node.
    Node(usize),
    /// The pairwise factor of an edge, and its two nodes.
    Edge(usize, u32, u32),
}

impl std::fmt::Display for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Factor::Node(i) => write!(f, "unary factor of node {i}"),
            Factor::Edge(e, a, b) => write!(f, "pairwise factor of edge {e} ({a}-{b})"),
        }
    }
}

/// A factor whose energy range an `f64` potential cannot hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clipped {
    /// The factor (its index in the file is the node, or the node count plus the edge).
    pub factor: Factor,
    /// Its largest energy above its minimum (energies of [`HARD_COST`] and more excepted).
    pub range: f64,
}

/// What [`write()`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// The sum of the factors' shifts: the energy of a labelling is the sum of
    /// `-ln(potential)` over the factors plus this.
    pub total_shift: f64,
    /// Factors with entries more than [`MAX_RANGE`] above their minimum: those potentials
    /// are below the smallest normal `f64`, written exactly in decimal; [`read()`] recovers
    /// them, a reader parsing doubles sees 0 (an impossible state).
    pub clipped: Vec<Clipped>,
}

/// Writes `energy` as a UAI `MARKOV` model, each factor shifted by its least energy.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, uai};
/// // Unaries in the thousands: plain exp(-energy) would make every unary potential 0.
/// let e = Energy::new(2, vec![3000.0, 3001.0, 2000.0, 2000.5], vec![Edge { a: 0, b: 1, weight: 500.0 }], Pairwise::Potts)?;
/// let mut text = Vec::new();
/// let written = uai::write(&e, &mut text)?;
/// assert!(written.clipped.is_empty());
/// let back = uai::read(&text[..])?;
/// assert!((back.energy(&[0, 1])? - e.energy(&[0, 1])?).abs() < 1e-9);
/// # Ok::<(), tessera_crf::Error>(())
/// ```
///
/// # Errors
/// [`Error::Io`] when writing fails.
pub fn write(energy: &Energy, mut out: impl Write) -> Result<Written> {
    let (n, l) = (energy.n_nodes(), energy.n_labels());
    let n_edges = energy.edges().len();
    let tables = |f: usize| -> Vec<f64> {
        if f < n {
            energy.unary(f).to_vec()
        } else {
            let e = f - n;
            (0..l * l)
                .map(|k| energy.pair_cost(e, k / l, k % l))
                .collect()
        }
    };
    let factor = |f: usize| {
        if f < n {
            Factor::Node(f)
        } else {
            let e = &energy.edges()[f - n];
            Factor::Edge(f - n, e.a, e.b)
        }
    };
    let n_factors = n + n_edges;
    let mut shifts = Vec::with_capacity(n_factors);
    let mut written = Written::default();
    for f in 0..n_factors {
        let t = tables(f);
        let soft = t.iter().copied().filter(|&v| v < HARD_COST);
        let shift = soft.clone().fold(f64::INFINITY, f64::min);
        let shift = if shift.is_finite() { shift } else { 0.0 };
        let range = soft.fold(0.0f64, |m, v| m.max(v - shift));
        if range > MAX_RANGE {
            written.clipped.push(Clipped {
                factor: factor(f),
                range,
            });
        }
        shifts.push(shift);
    }
    written.total_shift = shifts.iter().sum();

    writeln!(out, "MARKOV")?;
    writeln!(
        out,
        "c written by tessera-crf: potential = exp(-(energy - shift)), each factor shifted by its least energy;"
    )?;
    writeln!(
        out,
        "c energy(x) = sum over factors of -ln(potential) + total shift. Potential 0: energy >= {HARD_COST:e} (fixed)."
    )?;
    writeln!(out, "c total shift {:e}", written.total_shift)?;
    writeln!(
        out,
        "c the factors' shifts, in factor order, on the `{SHIFTS}` lines:"
    )?;
    for chunk in shifts.chunks(16) {
        let row: Vec<String> = chunk.iter().map(|v| format!("{v:e}")).collect();
        writeln!(out, "{SHIFTS} {}", row.join(" "))?;
    }
    writeln!(out, "{n}")?;
    writeln!(out, "{}", vec![l.to_string(); n].join(" "))?;
    writeln!(out, "{n_factors}")?;
    for i in 0..n {
        writeln!(out, "1 {i}")?;
    }
    for e in energy.edges() {
        writeln!(out, "2 {} {}", e.a, e.b)?;
    }
    let pot = |v: f64, shift: f64| {
        if v >= HARD_COST {
            "0".to_string()
        } else {
            potential(v - shift)
        }
    };
    for (f, &shift) in shifts.iter().enumerate() {
        let t = tables(f);
        writeln!(out, "\n{}", t.len())?;
        for row in t.chunks(l) {
            let row: Vec<String> = row.iter().map(|&v| pot(v, shift)).collect();
            writeln!(out, " {}", row.join(" "))?;
        }
    }
    out.flush()?;
    Ok(written)
}

/// `exp(-energy)` as text: shortest round-trip `f64` when it is a normal `f64`, else exactly
/// in decimal with a mantissa and a base-10 exponent computed in the log domain.
fn potential(energy: f64) -> String {
    if energy <= MAX_RANGE {
        return format!("{:e}", (-energy).exp());
    }
    let lg = -energy / std::f64::consts::LN_10;
    let exponent = lg.floor();
    format!("{}e{}", 10f64.powf(lg - exponent), exponent as i64)
}

/// The energy `-ln(p)` of a potential written as text, in the log domain so that potentials
/// below the `f64` range keep their value; `None` for a negative, infinite or malformed one.
fn energy_of(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m.parse::<f64>().ok()?, e.parse::<i64>().ok()?),
        None => (text.parse::<f64>().ok()?, 0),
    };
    if !(mantissa >= 0.0 && mantissa.is_finite()) {
        return None;
    }
    if mantissa == 0.0 {
        return Some(f64::INFINITY);
    }
    let e = -(mantissa.ln() + exponent as f64 * std::f64::consts::LN_10);
    (!e.is_nan()).then_some(e)
}

/// Reads a UAI `MARKOV` model of unary and pairwise factors.
///
/// # Errors
/// [`Error::Parse`] for malformed text, factors of more than two variables, differing
/// cardinalities or negative potentials; [`Error::Io`] when reading fails.
pub fn read(input: impl BufRead) -> Result<Energy> {
    let mut text = String::new();
    let mut shifts: Vec<f64> = Vec::new();
    for line in input.lines() {
        let line = line?;
        if let Some(rest) = line.trim_start().strip_prefix(SHIFTS) {
            for s in rest.split_whitespace() {
                shifts.push(
                    s.parse().map_err(|_| {
                        Error::Parse(format!("shift comment: `{s}` is not a number"))
                    })?,
                );
            }
        }
        // `c` comment lines are not in the spec but common; skip them.
        if !line.trim_start().starts_with('c') {
            text.push_str(&line);
            text.push('\n');
        }
    }
    let mut tokens = text.split_whitespace();
    let mut next = |what: &str| {
        tokens
            .next()
            .ok_or_else(|| Error::Parse(format!("missing {what}")))
    };
    let kind = next("header")?;
    if kind != "MARKOV" {
        return Err(Error::Parse(format!(
            "`{kind}` models are not supported, only MARKOV"
        )));
    }
    let int = |s: &str, what: &str| -> Result<usize> {
        s.parse::<usize>()
            .map_err(|_| Error::Parse(format!("{what}: `{s}` is not a count")))
    };
    let n = int(next("variable count")?, "variable count")?;
    let mut card = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        card.push(int(next("cardinality")?, "cardinality")?);
    }
    let l = card.first().copied().unwrap_or(1);
    if card.iter().any(|&c| c != l) || l == 0 {
        return Err(Error::Parse(
            "all variables must have the same, non-zero cardinality".into(),
        ));
    }
    let n_factors = int(next("factor count")?, "factor count")?;
    let mut scopes = Vec::with_capacity(n_factors.min(1 << 20));
    for f in 0..n_factors {
        let arity = int(next("scope size")?, "scope size")?;
        if arity == 0 || arity > 2 {
            return Err(Error::Parse(format!(
                "factor {f} has {arity} variables; 1 or 2 are supported"
            )));
        }
        let mut scope = Vec::with_capacity(arity);
        for _ in 0..arity {
            let v = int(next("scope variable")?, "scope variable")?;
            if v >= n {
                return Err(Error::Parse(format!("factor {f} uses variable {v} of {n}")));
            }
            scope.push(v);
        }
        if arity == 2 && scope[0] == scope[1] {
            return Err(Error::Parse(format!(
                "factor {f} joins variable {} to itself",
                scope[0]
            )));
        }
        scopes.push(scope);
    }
    if !shifts.is_empty() && shifts.len() != n_factors {
        return Err(Error::Parse(format!(
            "{} shifts in the comments for {n_factors} factors",
            shifts.len()
        )));
    }
    let mut unary = vec![0.0; n * l];
    let mut edges = Vec::new();
    let mut tables = Vec::new();
    for (f, scope) in scopes.iter().enumerate() {
        let len = int(next("table size")?, "table size")?;
        let expected = l.pow(scope.len() as u32);
        if len != expected {
            return Err(Error::Parse(format!(
                "factor {f} has {len} entries, {expected} expected"
            )));
        }
        let mut values = Vec::with_capacity(len);
        for _ in 0..len {
            let s = next("table entry")?;
            let e = energy_of(s).ok_or_else(|| {
                Error::Parse(format!("factor {f}: `{s}` is not a finite potential >= 0"))
            })?;
            let shift = shifts.get(f).copied().unwrap_or(0.0);
            values.push(if e.is_finite() {
                (e + shift).min(HARD_COST)
            } else {
                HARD_COST
            });
        }
        match scope[..] {
            [i] => {
                for (u, v) in unary[i * l..(i + 1) * l].iter_mut().zip(values) {
                    *u += v;
                }
            }
            [a, b] => {
                edges.push(Edge {
                    a: a as u32,
                    b: b as u32,
                    weight: 1.0,
                });
                tables.extend(values);
            }
            _ => unreachable!("arity is checked above"),
        }
    }
    if next("end of file").is_ok() {
        return Err(Error::Parse("text after the last table".into()));
    }
    Energy::new(l, unary, edges, Pairwise::PerEdge(tables))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::testing::model;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip_keeps_every_energy(e in model(1..5, false), labels in proptest::collection::vec(0u32..4, 8)) {
            let mut text = Vec::new();
            write(&e, &mut text).unwrap();
            let back = read(&text[..]).unwrap();
            prop_assert_eq!(back.n_nodes(), e.n_nodes());
            prop_assert_eq!(back.edges().len(), e.edges().len());
            let x: Vec<u32> = labels.iter().take(e.n_nodes()).map(|&v| v % e.n_labels() as u32).collect();
            let (a, b) = (e.energy(&x).unwrap(), back.energy(&x).unwrap());
            prop_assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{} vs {}", a, b);
        }
    }

    /// Energies in the thousands, ranges beyond an `f64` potential included, read back.
    #[test]
    fn large_energies_survive() {
        let e = Energy::new(
            3,
            vec![2500.0, 3100.0, 4000.5, 1e9, 0.25, 1e9],
            vec![Edge {
                a: 0,
                b: 1,
                weight: 1200.0,
            }],
            Pairwise::Potts,
        )
        .unwrap();
        let mut text = Vec::new();
        let written = write(&e, &mut text).unwrap();
        assert_eq!(
            written.clipped.iter().map(|c| c.factor).collect::<Vec<_>>(),
            vec![Factor::Node(0), Factor::Edge(0, 0, 1)]
        );
        assert!((written.total_shift - 2500.25).abs() < 1e-9);
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("c total shift 2.50025e3"), "{text}");
        let back = read(text.as_bytes()).unwrap();
        for x in [[0, 1], [1, 1], [2, 1], [0, 0]] {
            let (a, b) = (e.energy(&x).unwrap(), back.energy(&x).unwrap());
            assert!((a - b).abs() <= 1e-9 * a.abs(), "{x:?}: {a} vs {b}");
        }
        // Without the shift comments the file is still a valid model, shifted.
        let plain: String = text
            .lines()
            .filter(|l| !l.starts_with('c'))
            .map(|l| format!("{l}\n"))
            .collect();
        let shifted = read(plain.as_bytes()).unwrap();
        let d = e.energy(&[0, 1]).unwrap() - shifted.energy(&[0, 1]).unwrap();
        assert!((d - written.total_shift).abs() < 1e-6);
    }

    #[test]
    fn potentials_keep_their_value_below_the_f64_range() {
        for energy in [0.0, 1.5, 700.0, 709.0, 2000.0, 123_456.75] {
            let back = energy_of(&potential(energy)).unwrap();
            assert!(
                (back - energy).abs() <= 1e-12 * (1.0 + energy),
                "{energy}: {back}"
            );
        }
        assert_eq!(energy_of("0"), Some(f64::INFINITY));
        assert_eq!(energy_of("-1"), None);
        assert_eq!(energy_of("inf"), None);
    }

    #[test]
    fn refuses_malformed_files() {
        assert!(read(&b"BAYES\n1\n2\n0\n"[..]).is_err());
        assert!(read(&b"MARKOV\n2\n2 3\n0\n"[..]).is_err());
        assert!(read(&b"MARKOV\n1\n2\n1\n1 0\n\n3\n1 1 1\n"[..]).is_err());
        assert!(read(&b"MARKOV\n1\n2\n1\n1 0\n\n2\n1 -1\n"[..]).is_err());
        assert!(read(&b"MARKOV\n1\n2\n1\n1 0\n\n2\n1\n"[..]).is_err());
        let ok = read(&b"MARKOV\n1\n2\n1\n1 0\n\n2\n1 0\n"[..]).unwrap();
        assert_eq!(ok.unary(0), &[0.0, HARD_COST]);
    }
}
