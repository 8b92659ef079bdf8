//! The interface every superpixel algorithm implements.

use crate::error::Result;
use crate::image::Image;
use crate::segmentation::Segmentation;

/// A superpixel algorithm with its parameters.
///
/// Implementations are deterministic: the same image and parameters (and seed, for the
/// randomised ones) give the same [`Segmentation`] whatever the number of threads.
pub trait Superpixels {
    /// Short lower-case name, as used on the command line (`"slic"`).
    fn name(&self) -> &'static str;

    /// Checks the parameters without running anything.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) naming the first bad one.
    fn validate(&self) -> Result<()>;

    /// Over-segments `image`.
    ///
    /// # Errors
    /// Bad parameters, or an image the algorithm cannot handle.
    fn segment(&self, image: &Image) -> Result<Segmentation>;

    /// Over-segments `image` and also returns what the algorithm chose by itself while
    /// running, as `(name, value)` pairs (for example the `scale` Felzenszwalb's target-count
    /// search settled on). The default has nothing to add.
    ///
    /// # Errors
    /// As [`Superpixels::segment`].
    fn segment_explained(&self, image: &Image) -> Result<(Segmentation, Vec<(&'static str, f64)>)> {
        self.segment(image).map(|seg| (seg, Vec::new()))
    }
}
