//! Tiled SLIC step by step, for schedulers written in Python (`tessera.dask`): the plan of a
//! run (`TilePlan`) and the parts its steps hand from task to task.
//!
//! Binding code only: the steps are `tessera::tiled::TilePlan`'s. Every object here pickles
//! (the plan rebuilds from its arguments, a part from its bytes), because a Dask task runs
//! in another process than the one that planned it. The parts are opaque to Python: their
//! bytes are postcard's encoding of the library's serde form, readable only by the same
//! tessera version. Each step releases the GIL while it computes.

use crate::algorithms::SlicArgs;
use crate::compute;
use crate::convert::{ImageView, PyImage};
use numpy::PyArray2;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple, PyType};
use tessera::Image;
use tessera::tiled::{
    FinalNumbering, FinalPart, MovePart, Seams, SeedPart, TilePass, TilePlan, TileState,
};

/// A picklable wrapper of one of the library's serialisable parts: `Name(bytes)` rebuilds
/// it, `bytes(part)` and pickling give those bytes; `$extra` are the class's own methods.
macro_rules! part_class {
    ($name:literal, $rust:ident, $inner:ty, $doc:literal, { $($extra:tt)* }) => {
        #[doc = $doc]
        #[pyclass(module = "tessera._tessera", name = $name, frozen)]
        pub(crate) struct $rust(pub(crate) $inner);

        impl $rust {
            fn encode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                let bytes = postcard::to_allocvec(&self.0).map_err(|e| {
                    PyValueError::new_err(format!(concat!("cannot encode a ", $name, ": {}"), e))
                })?;
                Ok(PyBytes::new(py, &bytes))
            }
        }

        #[pymethods]
        impl $rust {
            /// Rebuilds the part from the bytes `bytes(part)` gave.
            #[new]
            fn new(data: &Bound<'_, PyBytes>) -> PyResult<Self> {
                postcard::from_bytes(data.as_bytes()).map(Self).map_err(|e| {
                    PyValueError::new_err(format!(
                        concat!("data is not a ", $name, " of this tessera version: {}"),
                        e
                    ))
                })
            }

            fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                self.encode(py)
            }

            fn __reduce__<'py>(
                slf: &Bound<'py, Self>,
            ) -> PyResult<(Bound<'py, PyType>, (Bound<'py, PyBytes>,))> {
                let py = slf.py();
                Ok((py.get_type::<Self>(), (slf.get().encode(py)?,)))
            }

            $($extra)*
        }
    };
}

part_class!(
    "SeedPart",
    SeedPartPy,
    SeedPart,
    "The seeds one tile places.",
    {}
);
part_class!(
    "MovePart",
    MovePartPy,
    MovePart,
    "The centres one tile moved in an update pass (or fast mode's one pass).",
    {}
);
part_class!(
    "TileState",
    TileStatePy,
    TileState,
    "The centres between two passes of a run.",
    {}
);
part_class!(
    "FinalPart",
    FinalPartPy,
    FinalPart,
    "One tile's last pass: its regions and its core's labels before the final numbering.",
    {
        /// What `TilePlan.stitch` needs of the part, without the core's labels: small, so
        /// a scheduler gathers these and leaves the parts where they are until the paint.
        fn summary(&self) -> Self {
            Self(self.0.summary())
        }
    }
);
part_class!(
    "FinalNumbering",
    FinalNumberingPy,
    FinalNumbering,
    "The final numbering of a run (`TilePlan.stitch`).",
    {
        /// The number of segments.
        fn count(&self) -> u32 {
            self.0.count()
        }
    }
);

/// The plan of a tiled SLIC run: its tiles, what each reads for each pass, and the steps.
#[pyclass(module = "tessera._tessera", name = "TilePlan", frozen)]
pub(crate) struct TilePlanPy {
    plan: TilePlan,
    /// The constructor's arguments, for pickling.
    shape: (usize, usize),
    channels: usize,
    tile: u32,
    seams: String,
    halo: Option<u32>,
    args: SlicArgs,
}

fn pass_of(name: &str) -> PyResult<TilePass> {
    match name {
        "range" => Ok(TilePass::Range),
        "seeds" => Ok(TilePass::Seeds),
        "iterate" => Ok(TilePass::Iterate),
        "fast" => Ok(TilePass::Fast),
        "last" => Ok(TilePass::Last),
        other => Err(PyValueError::new_err(format!(
            "pass_name must be 'range', 'seeds', 'iterate', 'fast' or 'last', got {other:?}"
        ))),
    }
}

/// A rectangle as Python's `(y0, x0, rows, columns)`.
fn yxhw(r: tessera::tiled::Rect) -> (u32, u32, u32, u32) {
    (r.y, r.x, r.height, r.width)
}

impl TilePlanPy {
    fn tile_index(&self, t: usize) -> PyResult<usize> {
        let n = self.plan.tile_count();
        if t >= n {
            return Err(PyValueError::new_err(format!(
                "t must be a tile of the plan, 0..{n}, got {t}"
            )));
        }
        Ok(t)
    }

    /// `step` on tile `t` and the library image of its window, without the GIL; library
    /// errors become `ValueError`.
    fn on_window<T: Send>(
        &self,
        py: Python<'_>,
        t: usize,
        pixels: PyImage<'_>,
        step: impl FnOnce(&TilePlan, usize, &Image) -> tessera::Result<T> + Send,
    ) -> PyResult<T> {
        let t = self.tile_index(t)?;
        let view = pixels.view();
        let plan = &self.plan;
        compute(py, move || {
            let img = window_image(view)?;
            step(plan, t, &img).map_err(|e| e.to_string())
        })
    }
}

/// The library image of a window (`(rows, columns[, channels])`).
fn window_image(pixels: ImageView<'_>) -> Result<Image, String> {
    pixels.planar("pixels")?.to_image()
}

#[pymethods]
impl TilePlanPy {
    /// The plan for an image of `shape` `(rows, columns)` and `channels` channels, in tiles
    /// of `tile` pixels a side, with `seams` "exact" or "fast" (`halo`: fast mode's halo,
    /// `None` for four grid steps), and SLIC's parameters as `slic()` takes them.
    #[new]
    #[pyo3(signature = (shape, channels, tile=2048, seams="exact", halo=None, n_segments=None,
        compactness=None, max_iterations=None, sigma=None, spacing=None, convert_to_lab=None,
        enforce_connectivity=None, min_size_factor=None, max_size_factor=None,
        slic_zero=None, perturb_seeds=None, distance=None, subsample=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        shape: (usize, usize),
        channels: usize,
        tile: u32,
        seams: &str,
        halo: Option<u32>,
        n_segments: Option<u32>,
        compactness: Option<f32>,
        max_iterations: Option<u32>,
        sigma: Option<[f32; 3]>,
        spacing: Option<[f32; 3]>,
        convert_to_lab: Option<bool>,
        enforce_connectivity: Option<bool>,
        min_size_factor: Option<f32>,
        max_size_factor: Option<f32>,
        slic_zero: Option<bool>,
        perturb_seeds: Option<bool>,
        distance: Option<&str>,
        subsample: Option<u32>,
    ) -> PyResult<Self> {
        let kind = match (seams, halo) {
            ("exact", None) => Seams::Exact,
            ("exact", Some(_)) => {
                return Err(PyValueError::new_err(
                    "halo is fast mode's: give it with seams='fast' only",
                ));
            }
            ("fast", halo) => Seams::Fast { halo },
            (other, _) => {
                return Err(PyValueError::new_err(format!(
                    "seams must be 'exact' or 'fast', got {other:?}"
                )));
            }
        };
        let (rows, columns) = shape;
        let side = |what: &str, n: usize| {
            u32::try_from(n)
                .map_err(|_| PyValueError::new_err(format!("image {what} {n} is too large")))
        };
        let (h, w) = (side("height", rows)?, side("width", columns)?);
        let args = SlicArgs {
            n_segments,
            compactness,
            max_iterations,
            sigma,
            spacing,
            convert_to_lab,
            enforce_connectivity,
            min_size_factor,
            max_size_factor,
            slic_zero,
            perturb_seeds,
            distance: distance.map(str::to_owned),
            subsample,
        };
        let slic = args.build()?;
        let plan = TilePlan::new(&slic, w, h, channels, tile, kind)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(TilePlanPy {
            plan,
            shape,
            channels,
            tile,
            seams: seams.to_owned(),
            halo,
            args,
        })
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyType>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let me = slf.get();
        let a = &me.args;
        let items = [
            me.shape.into_bound_py_any(py)?,
            me.channels.into_bound_py_any(py)?,
            me.tile.into_bound_py_any(py)?,
            me.seams.as_str().into_bound_py_any(py)?,
            me.halo.into_bound_py_any(py)?,
            a.n_segments.into_bound_py_any(py)?,
            a.compactness.into_bound_py_any(py)?,
            a.max_iterations.into_bound_py_any(py)?,
            a.sigma.into_bound_py_any(py)?,
            a.spacing.into_bound_py_any(py)?,
            a.convert_to_lab.into_bound_py_any(py)?,
            a.enforce_connectivity.into_bound_py_any(py)?,
            a.min_size_factor.into_bound_py_any(py)?,
            a.max_size_factor.into_bound_py_any(py)?,
            a.slic_zero.into_bound_py_any(py)?,
            a.perturb_seeds.into_bound_py_any(py)?,
            a.distance.as_deref().into_bound_py_any(py)?,
            a.subsample.into_bound_py_any(py)?,
        ];
        Ok((py.get_type::<Self>(), PyTuple::new(py, items)?))
    }

    /// The image's `(rows, columns)`.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        self.shape
    }

    /// Channels per pixel.
    #[getter]
    fn channels(&self) -> usize {
        self.channels
    }

    /// Tile side in pixels.
    #[getter]
    fn tile(&self) -> u32 {
        self.tile
    }

    /// "exact" or "fast".
    #[getter]
    fn seams(&self) -> &str {
        &self.seams
    }

    /// The number of tiles (in raster order).
    fn tile_count(&self) -> usize {
        self.plan.tile_count()
    }

    /// Tile `t`'s own pixels, `(y0, x0, rows, columns)`.
    fn core(&self, t: usize) -> PyResult<(u32, u32, u32, u32)> {
        Ok(yxhw(self.plan.core(self.tile_index(t)?)))
    }

    /// What tile `t` reads for `pass_name` ("range", "seeds", "iterate", "fast" or
    /// "last"), `(y0, x0, rows, columns)`.
    fn window(&self, t: usize, pass_name: &str) -> PyResult<(u32, u32, u32, u32)> {
        Ok(yxhw(
            self.plan.window(self.tile_index(t)?, pass_of(pass_name)?),
        ))
    }

    /// Passes over the image (the range pass included when needed).
    fn passes(&self) -> usize {
        self.plan.passes()
    }

    /// Whether the run first needs the channels' joint range (`range` on every tile).
    fn needs_range(&self) -> bool {
        self.plan.needs_range()
    }

    /// Update passes of exact mode.
    fn update_passes(&self) -> usize {
        self.plan.update_passes()
    }

    /// Tile `t`'s part of the joint range of the channels, from its "range" window.
    fn range(&self, py: Python<'_>, t: usize, pixels: PyImage<'_>) -> PyResult<(f32, f32)> {
        self.on_window(py, t, pixels, |plan, t, img| plan.range(t, img))
    }

    /// Tile `t`'s seeds, from its "seeds" window (`range`: the folded range, or `(0, 0)`).
    #[pyo3(signature = (t, pixels, range=(0.0, 0.0)))]
    fn seeds(
        &self,
        py: Python<'_>,
        t: usize,
        pixels: PyImage<'_>,
        range: (f32, f32),
    ) -> PyResult<SeedPartPy> {
        self.on_window(py, t, pixels, |plan, t, img| plan.seeds(t, img, range))
            .map(SeedPartPy)
    }

    /// The first state, from every tile's seeds (in tile order).
    fn start(&self, py: Python<'_>, parts: Vec<Bound<'_, SeedPartPy>>) -> PyResult<TileStatePy> {
        let parts: Vec<SeedPart> = parts.iter().map(|p| p.get().0.clone()).collect();
        let plan = &self.plan;
        compute(py, move || plan.start(parts).map_err(|e| e.to_string())).map(TileStatePy)
    }

    /// One update pass on tile `t`, from its "iterate" window.
    #[pyo3(signature = (state, t, pixels, range=(0.0, 0.0)))]
    fn iterate(
        &self,
        py: Python<'_>,
        state: &Bound<'_, TileStatePy>,
        t: usize,
        pixels: PyImage<'_>,
        range: (f32, f32),
    ) -> PyResult<MovePartPy> {
        let state = &state.get().0;
        self.on_window(py, t, pixels, |plan, t, img| {
            plan.iterate(state, t, img, range)
        })
        .map(MovePartPy)
    }

    /// The next state, from `state` and every tile's moved centres (in tile order);
    /// `state` itself is left as it is.
    fn advance(
        &self,
        py: Python<'_>,
        state: &Bound<'_, TileStatePy>,
        parts: Vec<Bound<'_, MovePartPy>>,
    ) -> PyResult<TileStatePy> {
        let mut next = state.get().0.clone();
        let parts: Vec<MovePart> = parts.iter().map(|p| p.get().0.clone()).collect();
        let plan = &self.plan;
        compute(py, move || {
            plan.advance(&mut next, parts)
                .map(|()| next)
                .map_err(|e| e.to_string())
        })
        .map(TileStatePy)
    }

    /// Fast mode's clustering of tile `t`, from its "fast" window.
    #[pyo3(signature = (t, pixels, range=(0.0, 0.0)))]
    fn fast(
        &self,
        py: Python<'_>,
        t: usize,
        pixels: PyImage<'_>,
        range: (f32, f32),
    ) -> PyResult<MovePartPy> {
        self.on_window(py, t, pixels, |plan, t, img| plan.fast(t, img, range))
            .map(MovePartPy)
    }

    /// Fast mode's state, from every tile's clustered centres (in tile order).
    fn start_fast(
        &self,
        py: Python<'_>,
        parts: Vec<Bound<'_, MovePartPy>>,
    ) -> PyResult<TileStatePy> {
        let parts: Vec<MovePart> = parts.iter().map(|p| p.get().0.clone()).collect();
        let plan = &self.plan;
        compute(py, move || {
            plan.start_fast(parts).map_err(|e| e.to_string())
        })
        .map(TileStatePy)
    }

    /// The last pass on tile `t`, from its "last" window.
    #[pyo3(signature = (state, t, pixels, range=(0.0, 0.0)))]
    fn last(
        &self,
        py: Python<'_>,
        state: &Bound<'_, TileStatePy>,
        t: usize,
        pixels: PyImage<'_>,
        range: (f32, f32),
    ) -> PyResult<FinalPartPy> {
        let state = &state.get().0;
        self.on_window(py, t, pixels, |plan, t, img| {
            plan.last(state, t, img, range)
        })
        .map(FinalPartPy)
    }

    /// The final numbering, from every tile's last part or its summary (in tile order).
    fn stitch(
        &self,
        py: Python<'_>,
        parts: Vec<Bound<'_, FinalPartPy>>,
    ) -> PyResult<FinalNumberingPy> {
        let refs: Vec<&FinalPart> = parts.iter().map(|p| &p.get().0).collect();
        let plan = &self.plan;
        compute(py, move || plan.stitch(&refs).map_err(|e| e.to_string())).map(FinalNumberingPy)
    }

    /// Tile `t`'s final labels, `(rows, columns)` uint32 from 0, from its full last part.
    fn paint<'py>(
        &self,
        py: Python<'py>,
        numbering: &Bound<'py, FinalNumberingPy>,
        part: &Bound<'py, FinalPartPy>,
        t: usize,
    ) -> PyResult<Bound<'py, PyArray2<u32>>> {
        let core = self.plan.core(self.tile_index(t)?);
        let (plan, numbering, part) = (&self.plan, &numbering.get().0, &part.get().0);
        let labels = compute(py, move || {
            plan.paint(numbering, part).map_err(|e| e.to_string())
        })?;
        let (h, w) = (core.height as usize, core.width as usize);
        if labels.len() != h * w {
            return Err(PyValueError::new_err(format!(
                "part is not tile {t}'s: it paints {} pixels, the tile has {h}x{w}",
                labels.len()
            )));
        }
        let a = ndarray::Array2::from_shape_vec((h, w), labels)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyArray2::from_owned_array(py, a))
    }
}
