//! numpy arrays to `tessera` images and label maps, and back.
//!
//! Arrays of any layout are accepted (the numpy crate's views carry the strides, negative
//! ones included); the Python side has already made the byte order native and the shape
//! `(rows, columns, channels)` for an image or `(slices, rows, columns, channels)` for a
//! volume.

use ndarray::{ArrayView2, ArrayViewD, IxDyn};
use numpy::{PyArrayDyn, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tessera::{Image, Mask, Samples, Segmentation};

/// An image array as the Python side hands it over: `(rows, columns, channels)` or
/// `(slices, rows, columns, channels)` of 8-bit, 16-bit or 32-bit float samples.
#[derive(FromPyObject)]
pub(crate) enum PyImage<'py> {
    U8(PyReadonlyArrayDyn<'py, u8>),
    U16(PyReadonlyArrayDyn<'py, u16>),
    F32(PyReadonlyArrayDyn<'py, f32>),
}

/// A borrowed view of a [`PyImage`] that can cross into code running without the GIL.
pub(crate) enum ImageView<'a> {
    U8(ArrayViewD<'a, u8>),
    U16(ArrayViewD<'a, u16>),
    F32(ArrayViewD<'a, f32>),
}

impl PyImage<'_> {
    pub(crate) fn view(&self) -> ImageView<'_> {
        match self {
            PyImage::U8(a) => ImageView::U8(a.as_array()),
            PyImage::U16(a) => ImageView::U16(a.as_array()),
            PyImage::F32(a) => ImageView::F32(a.as_array()),
        }
    }

    /// The spatial shape: `[rows, columns]` or `[slices, rows, columns]`.
    pub(crate) fn spatial(&self) -> Vec<usize> {
        let s = match self {
            PyImage::U8(a) => a.shape(),
            PyImage::U16(a) => a.shape(),
            PyImage::F32(a) => a.shape(),
        };
        s[..s.len().saturating_sub(1)].to_vec()
    }

    /// `(rows, columns)` of a 2-D image.
    pub(crate) fn dims(&self) -> (usize, usize) {
        let s = self.spatial();
        match s.as_slice() {
            [r, c] => (*r, *c),
            _ => (0, 0),
        }
    }
}

impl<'a> ImageView<'a> {
    /// The view of a 2-D image given as `(rows, columns)` (grey) or `(rows, columns,
    /// channels)`: a grey one gets its channel axis; anything else is refused, naming
    /// `what`.
    pub(crate) fn planar(self, what: &str) -> Result<ImageView<'a>, String> {
        fn grow<'v, T>(a: ArrayViewD<'v, T>, what: &str) -> Result<ArrayViewD<'v, T>, String> {
            match a.ndim() {
                2 => Ok(a.insert_axis(ndarray::Axis(2))),
                3 => Ok(a),
                _ => Err(format!(
                    "{what} must be (rows, columns) or (rows, columns, channels), got shape {:?}",
                    a.shape()
                )),
            }
        }
        Ok(match self {
            ImageView::U8(a) => ImageView::U8(grow(a, what)?),
            ImageView::U16(a) => ImageView::U16(grow(a, what)?),
            ImageView::F32(a) => ImageView::F32(grow(a, what)?),
        })
    }
}

/// Copies a view's samples in row-major, channel-interleaved order (one `memcpy` when the
/// array is C-contiguous).
fn gather<T: Copy>(v: &ArrayViewD<'_, T>) -> Vec<T> {
    match v.as_slice() {
        Some(s) => s.to_vec(),
        None => v.iter().copied().collect(),
    }
}

impl ImageView<'_> {
    /// The library image.
    pub(crate) fn to_image(&self) -> Result<Image, String> {
        let shape = match self {
            ImageView::U8(a) => a.shape().to_vec(),
            ImageView::U16(a) => a.shape().to_vec(),
            ImageView::F32(a) => a.shape().to_vec(),
        };
        let (d, h, w, c) = match shape.as_slice() {
            [h, w, c] => (1, *h, *w, *c),
            [d, h, w, c] => (*d, *h, *w, *c),
            other => {
                return Err(format!(
                    "image must be 3-D or 4-D here, got shape {other:?}"
                ));
            }
        };
        let d32 = u32::try_from(d).map_err(|_| format!("image depth {d} is too large"))?;
        let w32 = u32::try_from(w).map_err(|_| format!("image width {w} is too large"))?;
        let h32 = u32::try_from(h).map_err(|_| format!("image height {h} is too large"))?;
        let c16 = u16::try_from(c).map_err(|_| format!("{c} channels are too many"))?;
        let samples = match self {
            ImageView::U8(a) => Samples::U8(gather(a)),
            ImageView::U16(a) => Samples::U16(gather(a)),
            ImageView::F32(a) => Samples::F32(gather(a)),
        };
        if shape.len() == 4 {
            Image::new_volume(d32, w32, h32, c16, samples).map_err(|e| e.to_string())
        } else {
            Image::new(w32, h32, c16, samples).map_err(|e| e.to_string())
        }
    }
}

/// A `(rows, columns)` or `(slices, rows, columns)` boolean mask.
pub(crate) fn to_mask(mask: ArrayViewD<'_, bool>) -> Result<Mask, String> {
    let shape = mask.shape().to_vec();
    let inside = match mask.as_slice() {
        Some(s) => s.to_vec(),
        None => mask.iter().copied().collect(),
    };
    match shape.as_slice() {
        [h, w] => Mask::new(*w as u32, *h as u32, inside),
        [d, h, w] => Mask::new_volume(*d as u32, *w as u32, *h as u32, inside),
        other => return Err(format!("mask must be 2-D or 3-D, got shape {other:?}")),
    }
    .map_err(|e| e.to_string())
}

/// A label map given by Python: `(rows, columns)` of `u32`, any values; `UNLABELLED` marks
/// pixels outside every segment.
pub(crate) fn labels_of(a: ArrayView2<'_, u32>) -> Vec<u32> {
    match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    }
}

/// A segmentation from a label map whose values need not be sequential.
pub(crate) fn segmentation_of(a: ArrayView2<'_, u32>) -> Result<Segmentation, String> {
    let (h, w) = a.dim();
    Segmentation::relabel_sequential(w as u32, h as u32, labels_of(a)).map_err(|e| e.to_string())
}

/// The label map as a `(rows, columns)` (or `(slices, rows, columns)` for a volume)
/// `uint32` array (`UNLABELLED` outside the mask).
pub(crate) fn labels_to_py<'py>(
    py: Python<'py>,
    seg: Segmentation,
) -> PyResult<Bound<'py, PyArrayDyn<u32>>> {
    let (w, h, d) = (
        seg.width() as usize,
        seg.height() as usize,
        seg.depth() as usize,
    );
    let shape = if seg.is_volume() {
        vec![d, h, w]
    } else {
        vec![h, w]
    };
    let a = ndarray::ArrayD::from_shape_vec(IxDyn(&shape), seg.into_labels())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyArrayDyn::from_owned_array(py, a))
}

/// Checks that a companion array has the image's `(rows, columns)`.
pub(crate) fn check_dims(what: &str, got: (usize, usize), image: (usize, usize)) -> PyResult<()> {
    if got != image {
        return Err(PyValueError::new_err(format!(
            "{what} has shape {got:?}, the image {image:?}"
        )));
    }
    Ok(())
}

/// The `(rows, columns)` of a 2-D array.
pub(crate) fn dims2<T: numpy::Element>(a: &PyReadonlyArray2<'_, T>) -> (usize, usize) {
    let s = a.shape();
    (s[0], s[1])
}
