//! Helpers shared by the end-to-end tests.

use assert_cmd::Command;
use image::{Rgb, RgbImage};
use std::path::Path;

/// The real `tessera` binary.
pub fn tessera() -> Command {
    Command::cargo_bin("tessera").expect("the binary is built")
}

/// A small two-tone picture with some texture: red-ish left half, blue-ish right half.
pub fn write_photo(path: &Path, w: u32, h: u32) {
    let img = RgbImage::from_fn(w, h, |x, y| {
        if x < w / 2 {
            Rgb([200, (x * 3 % 40) as u8, 40])
        } else {
            Rgb([30, 90, (y * 5 % 60) as u8 + 150])
        }
    });
    img.save(path).expect("test image written");
}
