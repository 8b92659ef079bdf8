//! Small arbitrary images for the algorithm targets.

use arbitrary::Arbitrary;
use tessera::{Image, Samples};

/// An image of 1..=48 x 1..=48 pixels, 1 to 8 channels, 8-bit, 16-bit or float samples taken
/// from the fuzzer's bytes (cycled); float samples may be NaN or infinite, which `Image::new`
/// must refuse with an error.
#[derive(Debug, Arbitrary)]
pub struct SmallImage {
    w: u8,
    h: u8,
    channels: u8,
    kind: u8,
    bytes: Vec<u8>,
}

impl SmallImage {
    /// The image, or `None` when `Image::new` refused it (it must not panic).
    pub fn build(&self) -> Option<Image> {
        let (w, h) = (1 + self.w as u32 % 48, 1 + self.h as u32 % 48);
        let c = 1 + u16::from(self.channels % 8);
        let n = (w * h * u32::from(c)) as usize;
        let byte = |i: usize| {
            self.bytes
                .get(i % self.bytes.len().max(1))
                .copied()
                .unwrap_or(0)
        };
        let samples = match self.kind % 3 {
            0 => Samples::U8((0..n).map(byte).collect()),
            1 => Samples::U16(
                (0..n)
                    .map(|i| u16::from_le_bytes([byte(2 * i), byte(2 * i + 1)]))
                    .collect(),
            ),
            _ => Samples::F32(
                (0..n)
                    .map(|i| f32::from_le_bytes(std::array::from_fn(|b| byte(4 * i + b))))
                    .collect(),
            ),
        };
        Image::new(w, h, c, samples).ok()
    }
}
