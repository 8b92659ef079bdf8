//! Helpers shared by the unit tests of the algorithms.

use crate::image::{Image, Samples};

/// A deterministic 8-bit test image of `channels` channels: blocks of random flat colour
/// (cut by a slanted edge) plus a little noise, so that the algorithms have structure to find.
pub(crate) fn noisy_image(width: u32, height: u32, channels: u8, seed: u64) -> Image {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let palette: Vec<u8> = (0..64 * channels as usize).map(|_| next() as u8).collect();
    let mut s = Vec::with_capacity((width * height) as usize * channels as usize);
    for y in 0..height {
        for x in 0..width {
            let block = ((x + y / 2) / 7 + 5 * (y / 6)) as usize % 64;
            for c in 0..channels as usize {
                let noise = (next() % 9) as i32 - 4;
                let v = palette[block * channels as usize + c] as i32 + noise;
                s.push(v.clamp(0, 255) as u8);
            }
        }
    }
    Image::new(width, height, channels.into(), Samples::U8(s)).expect("sizes match")
}

/// Uniform 8-bit noise of `channels` channels (xorshift from `seed`).
pub(crate) fn noise_image(w: u32, h: u32, channels: u8, seed: u64) -> Image {
    let mut x = seed | 1;
    let samples = (0..w * h * channels as u32)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    Image::new(w, h, channels.into(), Samples::U8(samples)).expect("sizes match")
}

/// An 8-bit RGB image whose pixel `(x, y)` is `px(x, y)`.
pub(crate) fn rgb(w: u32, h: u32, px: impl Fn(u32, u32) -> [u8; 3]) -> Image {
    let data = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| px(x, y))
        .collect();
    Image::new(w, h, 3, Samples::U8(data)).expect("sizes match")
}

/// Runs `f` inside a rayon pool of one thread and inside one of two threads.
pub(crate) fn on_1_and_2_threads<T: Send>(f: impl Fn() -> T + Sync) -> (T, T) {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("thread pool")
    };
    (pool(1).install(&f), pool(2).install(&f))
}
