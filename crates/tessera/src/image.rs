//! The input image type shared by every algorithm, and the optional pixel mask.
//!
//! An [`Image`] keeps the samples in the type they were decoded as (8-bit, 16-bit or float),
//! so that colour conversion can use exact lookup tables for integer data. Build one from an
//! [`image::DynamicImage`] (any of the `image` crate's buffers) or from an `ndarray` view.

use crate::error::{Error, Result};
use image::{DynamicImage, GrayImage, RgbImage};
use ndarray::{ArrayView2, ArrayView3};

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
    fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }
}

/// An image to segment: 1 channel (grey) or 3 channels (RGB; alpha is dropped on the way in),
/// or, from `ndarray`, any number of float channels from 1 to [`Image::MAX_CHANNELS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    width: u32,
    height: u32,
    channels: u8,
    samples: Samples,
}

impl Image {
    /// The largest channel count accepted from `ndarray` input.
    pub const MAX_CHANNELS: usize = 4;

    /// Builds an image from interleaved samples, checking that the buffer matches the size and
    /// that float samples are finite.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] for an empty image, a buffer of the wrong length or non-finite
    /// float samples; [`Error::UnsupportedFormat`] for a channel count outside
    /// `1..=MAX_CHANNELS`.
    pub fn new(width: u32, height: u32, channels: u8, samples: Samples) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidImage(format!(
                "the image is {width}x{height}: it has no pixels"
            )));
        }
        if channels == 0 || channels as usize > Self::MAX_CHANNELS {
            return Err(Error::UnsupportedFormat(format!(
                "{channels} channels (1 to {} are supported)",
                Self::MAX_CHANNELS
            )));
        }
        let expected = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(channels as usize))
            .ok_or_else(|| Error::InvalidImage(format!("{width}x{height} is too large")))?;
        if samples.len() != expected {
            return Err(Error::InvalidImage(format!(
                "{width}x{height}x{channels} needs {expected} samples, the buffer has {}",
                samples.len()
            )));
        }
        if let Samples::F32(v) = &samples
            && let Some(i) = v.iter().position(|s| !s.is_finite())
        {
            let px = i / channels as usize;
            return Err(Error::InvalidImage(format!(
                "sample at pixel ({}, {}) is {} (NaN and infinity are not allowed)",
                px % width as usize,
                px / width as usize,
                v[i]
            )));
        }
        Ok(Image {
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

    /// Builds an image from a `(rows, columns, channels)` float array.
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn from_array(view: ArrayView3<'_, f32>) -> Result<Self> {
        let (h, w, c) = view.dim();
        let (w, h, c) = dims(w, h, c)?;
        let samples: Vec<f32> = view.iter().copied().collect();
        Self::new(w, h, c, Samples::F32(samples))
    }

    /// Builds a one-channel image from a `(rows, columns)` float array.
    ///
    /// # Errors
    /// As [`Image::new`].
    pub fn from_gray_array(view: ArrayView2<'_, f32>) -> Result<Self> {
        let (h, w) = view.dim();
        let (w, h, _) = dims(w, h, 1)?;
        Self::new(w, h, 1, Samples::F32(view.iter().copied().collect()))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Samples per pixel.
    pub fn channels(&self) -> usize {
        self.channels as usize
    }

    /// Number of pixels.
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
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
    /// stretched from its minimum to its maximum). With 2 or 4 channels, the first is shown
    /// as grey.
    pub fn to_rgb8(&self) -> RgbImage {
        let c = self.channels();
        let n = self.pixel_count();
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

fn dims(w: usize, h: usize, c: usize) -> Result<(u32, u32, u8)> {
    let w = u32::try_from(w).map_err(|_| Error::InvalidImage(format!("width {w} too large")))?;
    let h = u32::try_from(h).map_err(|_| Error::InvalidImage(format!("height {h} too large")))?;
    let c = u8::try_from(c).map_err(|_| Error::UnsupportedFormat(format!("{c} channels")))?;
    Ok((w, h, c))
}

fn drop_alpha<T: Copy>(raw: &[T], stride: usize) -> Vec<T> {
    raw.chunks_exact(stride)
        .flat_map(|px| px[..stride - 1].iter().copied())
        .collect()
}

/// Which pixels to segment. Pixels outside the mask get no superpixel: their label in a
/// [`Segmentation`](crate::Segmentation) is [`UNLABELLED`](crate::UNLABELLED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    inside: Vec<bool>,
}

impl Mask {
    /// Builds a mask from one flag per pixel, row-major (`true` = segment this pixel).
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the buffer does not hold `width * height` flags.
    pub fn new(width: u32, height: u32, inside: Vec<bool>) -> Result<Self> {
        if inside.len() != width as usize * height as usize {
            return Err(Error::SizeMismatch(format!(
                "a {width}x{height} mask needs {} flags, got {}",
                width as usize * height as usize,
                inside.len()
            )));
        }
        Ok(Mask {
            width,
            height,
            inside,
        })
    }

    /// Builds a mask from a grey image: every non-zero pixel is inside.
    pub fn from_gray(img: &GrayImage) -> Self {
        Mask {
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

    /// One flag per pixel, row-major.
    pub fn as_slice(&self) -> &[bool] {
        &self.inside
    }

    /// How many pixels are inside.
    pub fn count(&self) -> usize {
        self.inside.iter().filter(|&&b| b).count()
    }

    pub(crate) fn check_size(&self, image: &Image) -> Result<()> {
        if self.width != image.width() || self.height != image.height() {
            return Err(Error::SizeMismatch(format!(
                "the mask is {}x{}, the image {}x{}",
                self.width,
                self.height,
                image.width(),
                image.height()
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
        assert!(Image::new(1, 1, 5, Samples::U8(vec![0; 5])).is_err());
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
    fn mask_size_is_checked() {
        assert!(Mask::new(2, 2, vec![true; 3]).is_err());
        let m = Mask::new(2, 1, vec![true, false]).unwrap();
        assert_eq!(m.count(), 1);
    }
}
