//! The input image type shared by every algorithm, and the optional pixel mask.
//!
//! An [`Image`] keeps the samples in the type they were decoded as (8-bit, 16-bit or float),
//! so that colour conversion can use exact lookup tables for integer data. Build one from an
//! [`image::DynamicImage`] (any of the `image` crate's buffers) or from an `ndarray` view.
//!
//! One type serves 2-D images and 3-D volumes: a volume is `depth` slices of `width x
//! height` pixels (voxels), stored slice after slice, each slice row-major, and a 2-D image
//! is a volume of depth 1. Any number of channels is accepted; what each algorithm does with
//! them (CIELAB for three-channel colour, the raw channels rescaled to 0..1 otherwise) is
//! said in its documentation, and an algorithm that only handles 2-D images refuses a volume
//! with [`Error::UnsupportedFormat`].

use crate::error::{Error, Result};
use image::{DynamicImage, GrayImage, RgbImage};
use ndarray::{ArrayView2, ArrayView3, ArrayView4};

/// The samples of an [`Image`], interleaved (`channels` values per pixel, row-major).
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// 8-bit samples; 0..=255 maps to 0.0..=1.0.
    U8(Vec<u8>),
    /// 16-bit samples; 0..=65535 maps to 0.0..=1.0.
    U16(Vec<u16>),
    /// Float samples, used as they are (nominally 0.0..=1.0 for colour data). Never NaN or
    /// infinite: the constructors refuse such values.
    F32(Vec<f32>),
}

impl Samples {
    /// Appends the samples `range` to `out` as floats, integer samples scaled to 0..=1 as
    /// everywhere in tessera ([`Image::to_planes`]), float samples as they are.
    ///
    /// ```
    /// use tessera::Samples;
    /// let mut out = Vec::new();
    /// Samples::U8(vec![0, 51, 255]).extend_scaled(1..3, &mut out);
    /// assert_eq!(out, vec![0.2, 1.0]);
    /// ```
    pub fn extend_scaled(&self, range: std::ops::Range<usize>, out: &mut Vec<f32>) {
        match self {
            Samples::U8(v) => out.extend(v[range].iter().map(|&s| f32::from(s) / 255.0)),
            Samples::U16(v) => out.extend(v[range].iter().map(|&s| f32::from(s) / 65535.0)),
            Samples::F32(v) => out.extend_from_slice(&v[range]),
        }
    }

    fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }
}

/// An image or volume to segment, with any number of channels: from `image` buffers, 1
/// channel (grey) or 3 (RGB; alpha is dropped on the way in); from `ndarray` views or
/// [`Image::new`], 1 to [`Image::MAX_CHANNELS`].
///
/// ```
/// use tessera::{Image, Samples};
/// // A 2-slice volume of 3x2 voxels with 5 channels.
/// let vol = Image::new_volume(2, 3, 2, 5, Samples::F32(vec![0.5; 2 * 3 * 2 * 5]))?;
/// assert_eq!((vol.depth(), vol.width(), vol.height(), vol.channels()), (2, 3, 2, 5));
/// assert_eq!(vol.pixel_count(), 12);
/// assert!(vol.is_volume());
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    depth: u32,
    width: u32,
    height: u32,
    channels: u16,
    samples: Samples,
}

impl Image {
    /// The largest channel count accepted.
    pub const MAX_CHANNELS: usize = u16::MAX as usize;

    /// Builds a 2-D image from interleaved samples, checking that the buffer matches the size
    /// and that float samples are finite.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] for an empty image, a buffer of the wrong length or non-finite
    /// float samples; [`Error::UnsupportedFormat`] for a channel count outside
    /// `1..=MAX_CHANNELS`.
    pub fn new(width: u32, height: u32, channels: u16, samples: Samples) -> Result<Self> {
        Self::new_volume(1, width, height, channels, samples)
    }

    /// Builds a volume of `depth` slices of `width x height` voxels from interleaved samples
    /// (`channels` per voxel; slice after slice, each row-major). A depth of 1 is a 2-D image.
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn new_volume(
        depth: u32,
        width: u32,
        height: u32,
        channels: u16,
        samples: Samples,
    ) -> Result<Self> {
        let size = shape_text(depth, width, height);
        if width == 0 || height == 0 || depth == 0 {
            return Err(Error::InvalidImage(format!(
                "the image is {size}: it has no pixels"
            )));
        }
        if channels == 0 {
            return Err(Error::UnsupportedFormat(format!(
                "0 channels (1 to {} are supported)",
                Self::MAX_CHANNELS
            )));
        }
        let expected = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(depth as usize))
            .and_then(|n| n.checked_mul(channels as usize))
            .ok_or_else(|| Error::InvalidImage(format!("{size} is too large")))?;
        if samples.len() != expected {
            return Err(Error::InvalidImage(format!(
                "{size} with {channels} channels needs {expected} samples, the buffer has {}",
                samples.len()
            )));
        }
        if let Samples::F32(v) = &samples
            && let Some(i) = v.iter().position(|s| !s.is_finite())
        {
            let px = i / channels as usize;
            let (x, y, z) = (
                px % width as usize,
                px / width as usize % height as usize,
                px / (width as usize * height as usize),
            );
            let at = if depth > 1 {
                format!("voxel ({x}, {y}, slice {z})")
            } else {
                format!("pixel ({x}, {y})")
            };
            return Err(Error::InvalidImage(format!(
                "sample at {at} is {} (NaN and infinity are not allowed)",
                v[i]
            )));
        }
        Ok(Image {
            depth,
            width,
            height,
            channels,
            samples,
        })
    }

    /// Converts any decoded image. Grey and grey+alpha become 1 channel, RGB and RGBA become 3
    /// (alpha is ignored); 8-bit, 16-bit and 32-bit float buffers keep their sample type.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] for an empty image or non-finite float samples,
    /// [`Error::UnsupportedFormat`] for a pixel format added to `image` after this release.
    pub fn from_dynamic(img: &DynamicImage) -> Result<Self> {
        let (w, h) = (img.width(), img.height());
        match img {
            DynamicImage::ImageLuma8(b) => Self::new(w, h, 1, Samples::U8(b.as_raw().clone())),
            DynamicImage::ImageLumaA8(b) => {
                Self::new(w, h, 1, Samples::U8(drop_alpha(b.as_raw(), 2)))
            }
            DynamicImage::ImageRgb8(b) => Self::new(w, h, 3, Samples::U8(b.as_raw().clone())),
            DynamicImage::ImageRgba8(b) => {
                Self::new(w, h, 3, Samples::U8(drop_alpha(b.as_raw(), 4)))
            }
            DynamicImage::ImageLuma16(b) => Self::new(w, h, 1, Samples::U16(b.as_raw().clone())),
            DynamicImage::ImageLumaA16(b) => {
                Self::new(w, h, 1, Samples::U16(drop_alpha(b.as_raw(), 2)))
            }
            DynamicImage::ImageRgb16(b) => Self::new(w, h, 3, Samples::U16(b.as_raw().clone())),
            DynamicImage::ImageRgba16(b) => {
                Self::new(w, h, 3, Samples::U16(drop_alpha(b.as_raw(), 4)))
            }
            DynamicImage::ImageRgb32F(b) => Self::new(w, h, 3, Samples::F32(b.as_raw().clone())),
            DynamicImage::ImageRgba32F(b) => {
                Self::new(w, h, 3, Samples::F32(drop_alpha(b.as_raw(), 4)))
            }
            other => Err(Error::UnsupportedFormat(format!("{:?}", other.color()))),
        }
    }

    /// Builds an image from a `(rows, columns, channels)` float array (any memory layout).
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn from_array(view: ArrayView3<'_, f32>) -> Result<Self> {
        let (h, w, c) = view.dim();
        let (_, w, h, c) = dims(1, w, h, c)?;
        let samples: Vec<f32> = view.iter().copied().collect();
        Self::new(w, h, c, Samples::F32(samples))
    }

    /// Builds a one-channel image from a `(rows, columns)` float array (any memory layout).
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn from_gray_array(view: ArrayView2<'_, f32>) -> Result<Self> {
        let (h, w) = view.dim();
        let (_, w, h, _) = dims(1, w, h, 1)?;
        Self::new(w, h, 1, Samples::F32(view.iter().copied().collect()))
    }

    /// Builds a volume from a `(slices, rows, columns, channels)` float array (any memory
    /// layout).
    ///
    /// ```
    /// let a = ndarray::Array4::<f32>::zeros((4, 3, 2, 8));
    /// let vol = tessera::Image::from_volume_array(a.view())?;
    /// assert_eq!((vol.depth(), vol.height(), vol.width(), vol.channels()), (4, 3, 2, 8));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn from_volume_array(view: ArrayView4<'_, f32>) -> Result<Self> {
        let (d, h, w, c) = view.dim();
        let (d, w, h, c) = dims(d, w, h, c)?;
        Self::new_volume(d, w, h, c, Samples::F32(view.iter().copied().collect()))
    }

    /// Builds a one-channel volume from a `(slices, rows, columns)` float array (any memory
    /// layout).
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn from_gray_volume_array(view: ArrayView3<'_, f32>) -> Result<Self> {
        let (d, h, w) = view.dim();
        let (d, w, h, _) = dims(d, w, h, 1)?;
        Self::new_volume(d, w, h, 1, Samples::F32(view.iter().copied().collect()))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of slices: 1 for a 2-D image.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Whether this is a volume of more than one slice.
    pub fn is_volume(&self) -> bool {
        self.depth > 1
    }

    /// Samples per pixel.
    pub fn channels(&self) -> usize {
        self.channels as usize
    }

    /// Number of pixels (voxels, for a volume).
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize * self.depth as usize
    }

    /// `Ok` for a 2-D image; for a volume an [`Error::UnsupportedFormat`] saying that
    /// `algorithm` segments 2-D images only.
    pub(crate) fn require_2d(&self, algorithm: &str) -> Result<()> {
        if self.is_volume() {
            return Err(Error::UnsupportedFormat(format!(
                "{algorithm} segments 2-D images; this is a volume of {} slices",
                self.depth
            )));
        }
        Ok(())
    }

    /// Slice `z` of a volume as a 2-D image with the same channels and sample type.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `z` is not below [`Image::depth`].
    pub fn slice(&self, z: u32) -> Result<Image> {
        if z >= self.depth {
            return Err(Error::param(
                "z",
                format!("slice {z} of a volume of {} slices", self.depth),
            ));
        }
        let n = self.width as usize * self.height as usize * self.channels();
        let r = z as usize * n..(z as usize + 1) * n;
        let samples = match &self.samples {
            Samples::U8(v) => Samples::U8(v[r].to_vec()),
            Samples::U16(v) => Samples::U16(v[r].to_vec()),
            Samples::F32(v) => Samples::F32(v[r].to_vec()),
        };
        Image::new(self.width, self.height, self.channels, samples)
    }

    /// The rectangle of `width x height` pixels at column `x`, row `y` of a 2-D image, with
    /// the same channels and sample type (what a tiled run reads of an image in memory).
    ///
    /// ```
    /// use tessera::{Image, Samples};
    /// let img = Image::new(4, 3, 1, Samples::U8((0..12).collect()))?;
    /// let part = img.crop(1, 1, 2, 2)?;
    /// assert_eq!(part.samples(), &Samples::U8(vec![5, 6, 9, 10]));
    /// # Ok::<(), tessera::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty rectangle or one that leaves the image, or a
    /// volume.
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Image> {
        self.require_2d("crop")?;
        let fits = |at: u32, len: u32, total: u32| {
            len > 0 && at.checked_add(len).is_some_and(|e| e <= total)
        };
        if !fits(x, width, self.width) || !fits(y, height, self.height) {
            return Err(Error::param(
                "rectangle",
                format!(
                    "{width}x{height} at ({x}, {y}) is not inside the {}x{} image",
                    self.width, self.height
                ),
            ));
        }
        let c = self.channels();
        let (x, w, full) = (x as usize * c, width as usize * c, self.width as usize * c);
        fn rows<T: Copy>(
            v: &[T],
            x: usize,
            w: usize,
            full: usize,
            ys: std::ops::Range<usize>,
        ) -> Vec<T> {
            ys.flat_map(|r| v[r * full + x..r * full + x + w].iter().copied())
                .collect()
        }
        let ys = y as usize..(y + height) as usize;
        let samples = match &self.samples {
            Samples::U8(v) => Samples::U8(rows(v, x, w, full, ys)),
            Samples::U16(v) => Samples::U16(rows(v, x, w, full, ys)),
            Samples::F32(v) => Samples::F32(rows(v, x, w, full, ys)),
        };
        Image::new(width, height, self.channels, samples)
    }

    /// The samples, interleaved.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// The channels as separate planes of floats: integer samples scaled to 0..=1, float
    /// samples as they are.
    pub fn to_planes(&self) -> Vec<Vec<f32>> {
        fn split<T: Copy>(v: &[T], c: usize, n: usize, f: impl Fn(T) -> f32) -> Vec<Vec<f32>> {
            (0..c)
                .map(|ch| (0..n).map(|p| f(v[p * c + ch])).collect())
                .collect()
        }
        let (c, n) = (self.channels(), self.pixel_count());
        match &self.samples {
            Samples::U8(v) => split(v, c, n, |s| s as f32 / 255.0),
            Samples::U16(v) => split(v, c, n, |s| s as f32 / 65535.0),
            Samples::F32(v) => split(v, c, n, |s| s),
        }
    }

    /// An 8-bit RGB rendering of the image, for overlays: grey is replicated, 16-bit keeps its
    /// high byte, and float data is clamped to 0..=1 (or, when it lies outside that range,
    /// stretched from its minimum to its maximum). With other than 3 channels, the first is
    /// shown as grey. Of a volume, the first slice is rendered (see [`Image::slice`]).
    pub fn to_rgb8(&self) -> RgbImage {
        let c = self.channels();
        let n = self.width as usize * self.height as usize;
        let grey = |i: usize| i * c;
        let mut out = Vec::with_capacity(n * 3);
        let to_u8: Box<dyn Fn(usize) -> u8> = match &self.samples {
            Samples::U8(v) => Box::new(move |i| v[i]),
            Samples::U16(v) => Box::new(move |i| (v[i] >> 8) as u8),
            Samples::F32(v) => {
                let (lo, hi) = v
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &s| {
                        (a.min(s), b.max(s))
                    });
                let (lo, scale) = if lo >= 0.0 && hi <= 1.0 {
                    (0.0, 1.0)
                } else if hi > lo {
                    (lo, 1.0 / (hi - lo))
                } else {
                    (lo, 0.0)
                };
                Box::new(move |i| (((v[i] - lo) * scale).clamp(0.0, 1.0) * 255.0).round() as u8)
            }
        };
        for p in 0..n {
            if c == 3 {
                out.extend_from_slice(&[to_u8(p * 3), to_u8(p * 3 + 1), to_u8(p * 3 + 2)]);
            } else {
                let g = to_u8(grey(p));
                out.extend_from_slice(&[g, g, g]);
            }
        }
        RgbImage::from_raw(self.width, self.height, out)
            .unwrap_or_else(|| RgbImage::new(self.width, self.height))
    }
}

impl TryFrom<&DynamicImage> for Image {
    type Error = Error;
    fn try_from(img: &DynamicImage) -> Result<Self> {
        Image::from_dynamic(img)
    }
}

impl TryFrom<&RgbImage> for Image {
    type Error = Error;
    fn try_from(img: &RgbImage) -> Result<Self> {
        Image::new(
            img.width(),
            img.height(),
            3,
            Samples::U8(img.as_raw().clone()),
        )
    }
}

impl TryFrom<&GrayImage> for Image {
    type Error = Error;
    fn try_from(img: &GrayImage) -> Result<Self> {
        Image::new(
            img.width(),
            img.height(),
            1,
            Samples::U8(img.as_raw().clone()),
        )
    }
}

fn dims(d: usize, w: usize, h: usize, c: usize) -> Result<(u32, u32, u32, u16)> {
    let d = u32::try_from(d).map_err(|_| Error::InvalidImage(format!("depth {d} too large")))?;
    let w = u32::try_from(w).map_err(|_| Error::InvalidImage(format!("width {w} too large")))?;
    let h = u32::try_from(h).map_err(|_| Error::InvalidImage(format!("height {h} too large")))?;
    let c = u16::try_from(c).map_err(|_| {
        Error::UnsupportedFormat(format!(
            "{c} channels (1 to {} are supported)",
            Image::MAX_CHANNELS
        ))
    })?;
    Ok((d, w, h, c))
}

/// `"WxH"` for one slice, `"WxHxD"` for a volume.
pub(crate) fn shape_text(depth: u32, width: u32, height: u32) -> String {
    if depth == 1 {
        format!("{width}x{height}")
    } else {
        format!("{width}x{height}x{depth}")
    }
}

fn drop_alpha<T: Copy>(raw: &[T], stride: usize) -> Vec<T> {
    raw.chunks_exact(stride)
        .flat_map(|px| px[..stride - 1].iter().copied())
        .collect()
}

/// Which pixels (voxels) to segment. Pixels outside the mask get no superpixel: their label in
/// a [`Segmentation`](crate::Segmentation) is [`UNLABELLED`](crate::UNLABELLED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    depth: u32,
    width: u32,
    height: u32,
    inside: Vec<bool>,
}

impl Mask {
    /// Builds a 2-D mask from one flag per pixel, row-major (`true` = segment this pixel).
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the buffer does not hold `width * height` flags.
    pub fn new(width: u32, height: u32, inside: Vec<bool>) -> Result<Self> {
        Self::new_volume(1, width, height, inside)
    }

    /// Builds a mask for a volume from one flag per voxel, slice after slice, each row-major.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the buffer does not hold `depth * width * height` flags.
    pub fn new_volume(depth: u32, width: u32, height: u32, inside: Vec<bool>) -> Result<Self> {
        let n = depth as usize * width as usize * height as usize;
        if inside.len() != n {
            return Err(Error::SizeMismatch(format!(
                "a {} mask needs {n} flags, got {}",
                shape_text(depth, width, height),
                inside.len()
            )));
        }
        Ok(Mask {
            depth,
            width,
            height,
            inside,
        })
    }

    /// Builds a mask from a grey image: every non-zero pixel is inside.
    pub fn from_gray(img: &GrayImage) -> Self {
        Mask {
            depth: 1,
            width: img.width(),
            height: img.height(),
            inside: img.as_raw().iter().map(|&v| v != 0).collect(),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of slices: 1 for a 2-D mask.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// One flag per pixel, slice after slice, each row-major.
    pub fn as_slice(&self) -> &[bool] {
        &self.inside
    }

    /// How many pixels are inside.
    pub fn count(&self) -> usize {
        self.inside.iter().filter(|&&b| b).count()
    }

    pub(crate) fn check_size(&self, image: &Image) -> Result<()> {
        if (self.depth, self.width, self.height) != (image.depth(), image.width(), image.height()) {
            return Err(Error::SizeMismatch(format!(
                "the mask is {}, the image {}",
                shape_text(self.depth, self.width, self.height),
                shape_text(image.depth(), image.width(), image.height())
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    #[test]
    fn rgba_drops_alpha() {
        let img = RgbaImage::from_pixel(2, 1, Rgba([10, 20, 30, 40]));
        let im = Image::from_dynamic(&DynamicImage::ImageRgba8(img)).unwrap();
        assert_eq!(im.channels(), 3);
        assert_eq!(im.samples(), &Samples::U8(vec![10, 20, 30, 10, 20, 30]));
    }

    #[test]
    fn refuses_nan_and_empty() {
        let err = Image::new(1, 1, 1, Samples::F32(vec![f32::NAN])).unwrap_err();
        assert!(matches!(err, Error::InvalidImage(_)));
        assert!(Image::new(0, 5, 1, Samples::U8(vec![])).is_err());
        assert!(Image::new(2, 2, 1, Samples::U8(vec![0; 3])).is_err());
        assert!(Image::new(1, 1, 0, Samples::U8(vec![])).is_err());
        assert!(Image::new_volume(0, 1, 1, 1, Samples::U8(vec![])).is_err());
        let err = Image::new_volume(2, 1, 1, 1, Samples::F32(vec![0.0, f32::INFINITY]));
        assert!(format!("{}", err.unwrap_err()).contains("slice 1"));
    }

    #[test]
    fn planes_are_normalised() {
        let im = Image::new(1, 1, 3, Samples::U16(vec![0, 65535, 32768])).unwrap();
        let p = im.to_planes();
        assert_eq!(p[0], vec![0.0]);
        assert_eq!(p[1], vec![1.0]);
        assert!((p[2][0] - 0.5).abs() < 1e-4);
    }

    #[test]
    fn array_layout_is_rows_columns_channels() {
        let a = ndarray::Array3::from_shape_fn((2, 3, 1), |(r, c, _)| (r * 3 + c) as f32 / 10.0);
        let im = Image::from_array(a.view()).unwrap();
        assert_eq!((im.width(), im.height()), (3, 2));
        assert_eq!(im.to_planes()[0][4], 0.4);
    }

    #[test]
    fn volumes_and_many_channels() {
        let a = ndarray::Array4::from_shape_fn((2, 3, 4, 6), |(z, y, x, c)| {
            (z * 1000 + y * 100 + x * 10 + c) as f32
        });
        let vol = Image::from_volume_array(a.view()).unwrap();
        assert_eq!((vol.depth(), vol.height(), vol.width()), (2, 3, 4));
        assert_eq!((vol.channels(), vol.pixel_count()), (6, 24));
        let planes = vol.to_planes();
        assert_eq!(planes.len(), 6);
        // Voxel (x 1, y 2, z 1), channel 5: index 1 * 12 + 2 * 4 + 1.
        assert_eq!(planes[5][12 + 8 + 1], 1215.0);
        let s = vol.slice(1).unwrap();
        assert_eq!((s.depth(), s.to_planes()[0][0]), (1, 1000.0));
        assert!(vol.slice(2).is_err());
        assert!(vol.require_2d("x").is_err() && s.require_2d("x").is_ok());
        // A transposed (non-standard layout) view is read in logical order.
        let t = ndarray::Array3::from_shape_fn((3, 2, 2), |(z, y, x)| (z * 4 + y * 2 + x) as f32);
        let tv = t.view().permuted_axes([0, 2, 1]);
        let g = Image::from_gray_volume_array(tv).unwrap();
        assert_eq!(g.to_planes()[0][..4], [0.0, 2.0, 1.0, 3.0]);
    }

    #[test]
    fn mask_size_is_checked() {
        assert!(Mask::new_volume(2, 2, 1, vec![true; 3]).is_err());
        let img = Image::new_volume(2, 2, 1, 1, Samples::U8(vec![0; 4])).unwrap();
        assert!(
            Mask::new(2, 1, vec![true; 2])
                .unwrap()
                .check_size(&img)
                .is_err()
        );
        assert!(
            Mask::new_volume(2, 2, 1, vec![true; 4])
                .unwrap()
                .check_size(&img)
                .is_ok()
        );
        assert!(Mask::new(2, 2, vec![true; 3]).is_err());
        let m = Mask::new(2, 1, vec![true, false]).unwrap();
        assert_eq!(m.count(), 1);
    }
}
