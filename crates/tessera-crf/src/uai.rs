//! The UAI `MARKOV` text format (UAI inference competitions): a preamble with the variables'
//! cardinalities and the factors' scopes, then one table per factor holding potentials
//! `exp(-energy)`, the last variable of the scope changing fastest.
//!
//! [`write()`] emits one unary factor per node and one pairwise factor per edge. [`read()`] accepts
//! factors of one and two variables, all variables having the same number of labels; unaries
//! of a node are summed, pairwise factors become edges with per-edge tables (weight 1). A zero
//! potential (infinite energy) is read as [`HARD_COST`].

use crate::energy::{Edge, Energy, Pairwise};
use crate::error::{Error, Result};
use std::io::{BufRead, Write};

/// The energy given to zero potentials when reading.
pub const HARD_COST: f64 = 1e9;

/// Writes `energy` as a UAI `MARKOV` model.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, uai};
/// let e = Energy::new(2, vec![0.0, 1.0, 2.0, 0.5], vec![Edge { a: 0, b: 1, weight: 3.0 }], Pairwise::Potts)?;
/// let mut text = Vec::new();
/// uai::write(&e, &mut text)?;
/// let back = uai::read(&text[..])?;
/// assert!((back.energy(&[0, 1])? - e.energy(&[0, 1])?).abs() < 1e-9);
/// # Ok::<(), tessera_crf::Error>(())
/// ```
///
/// # Errors
/// [`Error::Io`] when writing fails.
pub fn write(energy: &Energy, mut out: impl Write) -> Result<()> {
    let (n, l) = (energy.n_nodes(), energy.n_labels());
    writeln!(out, "MARKOV")?;
    writeln!(out, "{n}")?;
    writeln!(out, "{}", vec![l.to_string(); n].join(" "))?;
    writeln!(out, "{}", n + energy.edges().len())?;
    for i in 0..n {
        writeln!(out, "1 {i}")?;
    }
    for e in energy.edges() {
        writeln!(out, "2 {} {}", e.a, e.b)?;
    }
    let pot = |v: f64| format!("{:e}", (-v).exp());
    for i in 0..n {
        writeln!(out, "\n{l}")?;
        let row: Vec<String> = energy.unary(i).iter().map(|&u| pot(u)).collect();
        writeln!(out, " {}", row.join(" "))?;
    }
    for e in 0..energy.edges().len() {
        writeln!(out, "\n{}", l * l)?;
        for a in 0..l {
            let row: Vec<String> = (0..l).map(|b| pot(energy.pair_cost(e, a, b))).collect();
            writeln!(out, " {}", row.join(" "))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Reads a UAI `MARKOV` model of unary and pairwise factors.
///
/// # Errors
/// [`Error::Parse`] for malformed text, factors of more than two variables, differing
/// cardinalities or negative potentials; [`Error::Io`] when reading fails.
pub fn read(input: impl BufRead) -> Result<Energy> {
    let mut text = String::new();
    for line in input.lines() {
        let line = line?;
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
            let p: f64 = s
                .parse()
                .map_err(|_| Error::Parse(format!("factor {f}: `{s}` is not a number")))?;
            if p.is_nan() || p < 0.0 || p.is_infinite() {
                return Err(Error::Parse(format!(
                    "factor {f}: potential {p} is not >= 0"
                )));
            }
            values.push(if p > 0.0 {
                (-p.ln()).min(HARD_COST)
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
