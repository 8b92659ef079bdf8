//! [`RegionTable`]: the per-superpixel table (area, centroid, bounding box, mean colour) and
//! the region adjacency graph with border lengths, accumulated block by block so that a label
//! map too large for memory (a whole slide, tiled) can be summarised as its tiles go by.
//!
//! Memory is O(image width + labels + edges), never O(pixels): the table keeps the last row of
//! the previous row of blocks and the last column of the previous block, which is all it needs
//! to count the pixel pairs that straddle block edges. `Segmentation::adjacency` gives the
//! pairs of a whole label map without lengths, and `tessera_crf::RegionGraph` CIELAB
//! statistics of a whole image in memory; this is the streaming counterpart of both.

use crate::error::{Error, Result};
use crate::image::Image;
use crate::segmentation::{Segmentation, UNLABELLED};
use std::collections::HashMap;

/// One superpixel's row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Its label value.
    pub id: u32,
    /// Pixels in it.
    pub area: u64,
    /// Mean column of its pixels (pixel `(x, y)` counted at `x`; the top-left pixel is 0).
    pub centroid_x: f64,
    /// Mean row of its pixels.
    pub centroid_y: f64,
    /// Leftmost column (inclusive).
    pub x0: u32,
    /// Top row (inclusive).
    pub y0: u32,
    /// One past the rightmost column (exclusive, so `x1 - x0` is the width and
    /// `array[y0..y1, x0..x1]` the box in NumPy).
    pub x1: u32,
    /// One past the bottom row (exclusive).
    pub y1: u32,
    /// Mean of each channel over its pixels, in the units the samples were given in.
    pub mean: Vec<f64>,
}

/// Two 4-adjacent superpixels `a < b` and the length of their common border.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Border {
    /// Smaller label.
    pub a: u32,
    /// Larger label.
    pub b: u32,
    /// 4-neighbour pixel pairs with one pixel in each.
    pub length: u64,
}

/// Running sums of one label.
#[derive(Debug, Clone, Copy)]
struct Sums {
    id: u32,
    area: u64,
    // Integer coordinates summed in f64 are exact below 2^53, far beyond any real image.
    sum_x: f64,
    sum_y: f64,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

/// Where the blocks have got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    /// Top row and height of the current row of blocks.
    row_y0: u32,
    row_h: u32,
    /// Column the next block of this row must start at.
    next_x: u32,
}

/// Per-superpixel statistics and the region adjacency graph of a 2-D label map, fed in
/// blocks in raster order of blocks: left to right along a row of blocks (which share their
/// top row `y0` and height `h`), rows of blocks top to bottom. Blocks may have any size, and
/// rows of blocks may be cut into columns differently; the results are the same whatever the
/// cut. Labels are any `u32` except [`UNLABELLED`], whose pixels are skipped (and border
/// nothing); memory grows with the labels present, not with their values.
///
/// Area, centroids, bounding boxes and border lengths are exact whatever the blocks; the
/// colour means are f64 sums of the samples and can differ from one cut to another in the
/// last bits, as the summation order changes.
///
/// ```
/// use tessera::{Border, RegionTable};
/// // A 4x2 grey label map, 0 0 1 1 over 0 1 1 1, in two blocks of 2x2.
/// let mut table = RegionTable::new(1);
/// table.add_block(0, 0, 2, 2, &[0, 0, 0, 1], &[0.0, 0.0, 0.0, 1.0])?;
/// table.add_block(2, 0, 2, 2, &[1, 1, 1, 1], &[1.0, 1.0, 0.5, 0.5])?;
/// let regions = table.regions();
/// assert_eq!((regions[0].id, regions[0].area), (0, 3));
/// assert_eq!((regions[0].x0, regions[0].y0, regions[0].x1, regions[0].y1), (0, 0, 2, 2));
/// assert!((regions[0].centroid_x - 1.0 / 3.0).abs() < 1e-12);
/// assert_eq!(regions[1].mean, vec![0.8]);
/// // Two pairs side by side (one across the block edge) and one above the other.
/// assert_eq!(table.edges(), vec![Border { a: 0, b: 1, length: 3 }]);
/// # Ok::<(), tessera::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegionTable {
    channels: usize,
    /// The labels' sums, in order of first appearance, and where each label's are.
    sums: Vec<Sums>,
    colour: Vec<f64>,
    slot: HashMap<u32, usize>,
    /// Border lengths by `(a, b)`, `a < b`.
    borders: HashMap<(u32, u32), u64>,
    /// `None` before the first block.
    cursor: Option<Cursor>,
    /// Known once the first row of blocks is complete.
    width: Option<u32>,
    /// The row just above the current row of blocks (empty for the first).
    above: Vec<u32>,
    /// The bottom row of the current row of blocks, as far as its blocks have come.
    bottom: Vec<u32>,
    /// The right column of the previous block in this row.
    left: Vec<u32>,
}

impl RegionTable {
    /// An empty table for samples of `channels` channels (0 for none: no colour means).
    pub fn new(channels: usize) -> Self {
        RegionTable {
            channels,
            sums: Vec::new(),
            colour: Vec::new(),
            slot: HashMap::new(),
            borders: HashMap::new(),
            cursor: None,
            width: None,
            above: Vec::new(),
            bottom: Vec::new(),
            left: Vec::new(),
        }
    }

    /// Channels per pixel the table takes.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Adds the block of `w x h` pixels whose top-left pixel is `(x0, y0)`: `labels` holds its
    /// `w * h` labels row-major, `pixels` its samples interleaved (`channels` per pixel, in
    /// the same order). The first block is at `(0, 0)`; each next one continues the current
    /// row of blocks (`x0` where the previous ended, same `y0` and `h`) or, once a row of
    /// blocks has reached the image's width (set by the first row), starts the next row at
    /// `x0 = 0`, `y0` below it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty block or one out of raster order,
    /// [`Error::SizeMismatch`] when `labels` or `pixels` has the wrong length, and
    /// [`Error::InvalidImage`] for a NaN or infinite sample. A refused block leaves the table
    /// as it was.
    pub fn add_block(
        &mut self,
        x0: u32,
        y0: u32,
        w: u32,
        h: u32,
        labels: &[u32],
        pixels: &[f32],
    ) -> Result<()> {
        let (next, new_row) = self.check_block(x0, y0, w, h, labels, pixels)?;
        if new_row {
            if self.width.is_none() {
                self.width = Some(self.bottom.len() as u32);
            }
            self.above = std::mem::take(&mut self.bottom);
        }
        self.cursor = Some(next);
        let (w, h) = (w as usize, h as usize);
        let c = self.channels;
        // The last slot looked up: superpixels come in runs along a row.
        let mut last: Option<(u32, usize)> = None;
        for r in 0..h {
            let row = &labels[r * w..(r + 1) * w];
            let y = y0 + r as u32;
            for (i, &l) in row.iter().enumerate() {
                let x = x0 + i as u32;
                if l != UNLABELLED {
                    let s = match last {
                        Some((id, s)) if id == l => s,
                        _ => {
                            let s = self.slot_of(l);
                            last = Some((l, s));
                            s
                        }
                    };
                    let sums = &mut self.sums[s];
                    sums.area += 1;
                    sums.sum_x += f64::from(x);
                    sums.sum_y += f64::from(y);
                    sums.x0 = sums.x0.min(x);
                    sums.y0 = sums.y0.min(y);
                    sums.x1 = sums.x1.max(x + 1);
                    sums.y1 = sums.y1.max(y + 1);
                    let p = (r * w + i) * c;
                    for (acc, &v) in self.colour[s * c..(s + 1) * c]
                        .iter_mut()
                        .zip(&pixels[p..p + c])
                    {
                        *acc += f64::from(v);
                    }
                }
                let left = if i > 0 {
                    Some(row[i - 1])
                } else {
                    (x0 > 0).then(|| self.left[r])
                };
                let up = if r > 0 {
                    Some(labels[(r - 1) * w + i])
                } else {
                    (y0 > 0).then(|| self.above[x as usize])
                };
                for n in [left, up].into_iter().flatten() {
                    self.border(n, l);
                }
            }
        }
        self.left.clear();
        self.left.extend((0..h).map(|r| labels[r * w + w - 1]));
        self.bottom.extend_from_slice(&labels[(h - 1) * w..]);
        Ok(())
    }

    /// Checks a block before anything is changed: the cursor after it, and whether it starts
    /// a new row of blocks.
    fn check_block(
        &self,
        x0: u32,
        y0: u32,
        w: u32,
        h: u32,
        labels: &[u32],
        pixels: &[f32],
    ) -> Result<(Cursor, bool)> {
        if w == 0 || h == 0 {
            return Err(Error::param(
                "block",
                format!("the block is {w}x{h}: empty"),
            ));
        }
        let (Some(x_end), Some(_)) = (x0.checked_add(w), y0.checked_add(h)) else {
            return Err(Error::param(
                "block",
                format!("a {w}x{h} block at ({x0}, {y0}) ends beyond the largest coordinate"),
            ));
        };
        let n = w as usize * h as usize;
        if labels.len() != n {
            return Err(Error::SizeMismatch(format!(
                "the block is {w}x{h} ({n} pixels), its labels {}",
                labels.len()
            )));
        }
        if Some(pixels.len()) != n.checked_mul(self.channels) {
            return Err(Error::SizeMismatch(format!(
                "the block is {w}x{h} pixels of {} channel(s) ({} samples), its pixels {}",
                self.channels,
                n.saturating_mul(self.channels),
                pixels.len()
            )));
        }
        if let Some(k) = pixels.iter().position(|v| !v.is_finite()) {
            let p = k / self.channels.max(1);
            return Err(Error::InvalidImage(format!(
                "the sample at ({}, {}) is {}",
                x0 as usize + p % w as usize,
                y0 as usize + p / w as usize,
                pixels[k]
            )));
        }
        let order = |expected: String| {
            Error::param(
                "block",
                format!(
                    "blocks come in raster order: expected {expected}, got a block at ({x0}, {y0})"
                ),
            )
        };
        let (next, new_row) = match self.cursor {
            None if x0 == 0 && y0 == 0 => (
                Cursor {
                    row_y0: 0,
                    row_h: h,
                    next_x: 0,
                },
                false,
            ),
            None => return Err(order("the first block at (0, 0)".into())),
            Some(cur) => {
                let below = cur.row_y0 + cur.row_h;
                let width = self.width.unwrap_or(cur.next_x);
                if x0 == 0 && y0 == below && cur.next_x == width {
                    (
                        Cursor {
                            row_y0: y0,
                            row_h: h,
                            next_x: 0,
                        },
                        true,
                    )
                } else if x0 == cur.next_x && y0 == cur.row_y0 && Some(x0) != self.width {
                    if h != cur.row_h {
                        return Err(Error::param(
                            "block",
                            format!(
                                "the blocks of a row share their height: this row's are {} high, the block at ({x0}, {y0}) {h}",
                                cur.row_h
                            ),
                        ));
                    }
                    (cur, false)
                } else if cur.next_x == width {
                    return Err(order(format!(
                        "the first block of the next row, at (0, {below})"
                    )));
                } else {
                    return Err(order(format!(
                        "the next block of the row, at ({}, {})",
                        cur.next_x, cur.row_y0
                    )));
                }
            }
        };
        // The first row of blocks sets the width as the second starts.
        let width = match (self.width, self.cursor) {
            (Some(width), _) => Some(width),
            (None, Some(cur)) if new_row => Some(cur.next_x),
            _ => None,
        };
        if let Some(width) = width
            && x_end > width
        {
            return Err(Error::param(
                "block",
                format!(
                    "the block at ({x0}, {y0}) ends at column {x_end}, past the image's width {width}"
                ),
            ));
        }
        Ok((
            Cursor {
                next_x: x_end,
                ..next
            },
            new_row,
        ))
    }

    /// The slot of label `l`, made if new.
    fn slot_of(&mut self, l: u32) -> usize {
        if let Some(&s) = self.slot.get(&l) {
            return s;
        }
        let s = self.sums.len();
        self.sums.push(Sums {
            id: l,
            area: 0,
            sum_x: 0.0,
            sum_y: 0.0,
            x0: u32::MAX,
            y0: u32::MAX,
            x1: 0,
            y1: 0,
        });
        self.colour.resize(self.colour.len() + self.channels, 0.0);
        self.slot.insert(l, s);
        s
    }

    /// Counts one pixel pair.
    fn border(&mut self, a: u32, b: u32) {
        if a != b && a != UNLABELLED && b != UNLABELLED {
            *self.borders.entry((a.min(b), a.max(b))).or_insert(0) += 1;
        }
    }

    /// Adds a whole 2-D segmentation of `image` (integer samples scaled to 0..=1, as
    /// [`Image::to_planes`] does), in bands of rows so that only one band's samples are
    /// converted at a time. The table must be new.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the two sizes or the channel counts differ,
    /// [`Error::UnsupportedFormat`] for a volume, [`Error::InvalidParameter`] when blocks were
    /// added already.
    pub fn add_segmentation(&mut self, seg: &Segmentation, image: &Image) -> Result<()> {
        if seg.is_volume() || image.is_volume() {
            return Err(Error::UnsupportedFormat(
                "a region table is for 2-D label maps, not volumes".into(),
            ));
        }
        Error::check_sizes(
            "image",
            (image.width(), image.height(), image.depth()),
            "segmentation",
            (seg.width(), seg.height(), seg.depth()),
        )?;
        if image.channels() != self.channels {
            return Err(Error::SizeMismatch(format!(
                "the table is for {} channel(s), the image has {}",
                self.channels,
                image.channels()
            )));
        }
        /// Rows converted to f32 at a time.
        const BAND: usize = 64;
        let (w, h, c) = (seg.width() as usize, seg.height() as usize, self.channels);
        let mut band = Vec::with_capacity(BAND * w * c);
        for y0 in (0..h).step_by(BAND) {
            let rows = BAND.min(h - y0);
            let range = y0 * w * c..(y0 + rows) * w * c;
            band.clear();
            image.samples().extend_scaled(range, &mut band);
            self.add_block(
                0,
                y0 as u32,
                w as u32,
                rows as u32,
                &seg.labels()[y0 * w..(y0 + rows) * w],
                &band,
            )?;
        }
        Ok(())
    }

    /// The table: one row per label seen, sorted by label.
    pub fn regions(&self) -> Vec<Region> {
        let c = self.channels;
        let mut out: Vec<Region> = self
            .sums
            .iter()
            .enumerate()
            .map(|(s, sums)| {
                let area = sums.area as f64;
                Region {
                    id: sums.id,
                    area: sums.area,
                    centroid_x: sums.sum_x / area,
                    centroid_y: sums.sum_y / area,
                    x0: sums.x0,
                    y0: sums.y0,
                    x1: sums.x1,
                    y1: sums.y1,
                    mean: self.colour[s * c..(s + 1) * c]
                        .iter()
                        .map(|&t| t / area)
                        .collect(),
                }
            })
            .collect();
        out.sort_by_key(|r| r.id);
        out
    }

    /// The region adjacency graph: every pair of labels that touch (4-neighbours), with the
    /// length of their border, sorted by `(a, b)`.
    pub fn edges(&self) -> Vec<Border> {
        let mut out: Vec<Border> = self
            .borders
            .iter()
            .map(|(&(a, b), &length)| Border { a, b, length })
            .collect();
        out.sort_unstable_by_key(|e| (e.a, e.b));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Samples;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The table computed the obvious way from the whole map.
    fn naive(
        w: usize,
        h: usize,
        c: usize,
        labels: &[u32],
        pixels: &[f32],
    ) -> (Vec<Region>, Vec<Border>) {
        let mut regions: BTreeMap<u32, Region> = BTreeMap::new();
        let mut borders: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        for y in 0..h {
            for x in 0..w {
                let l = labels[y * w + x];
                if l == UNLABELLED {
                    continue;
                }
                let r = regions.entry(l).or_insert(Region {
                    id: l,
                    area: 0,
                    centroid_x: 0.0,
                    centroid_y: 0.0,
                    x0: u32::MAX,
                    y0: u32::MAX,
                    x1: 0,
                    y1: 0,
                    mean: vec![0.0; c],
                });
                r.area += 1;
                r.centroid_x += x as f64;
                r.centroid_y += y as f64;
                r.x0 = r.x0.min(x as u32);
                r.y0 = r.y0.min(y as u32);
                r.x1 = r.x1.max(x as u32 + 1);
                r.y1 = r.y1.max(y as u32 + 1);
                for k in 0..c {
                    r.mean[k] += f64::from(pixels[(y * w + x) * c + k]);
                }
                for (nx, ny) in [(x + 1, y), (x, y + 1)] {
                    if nx < w && ny < h {
                        let m = labels[ny * w + nx];
                        if m != l && m != UNLABELLED {
                            *borders.entry((l.min(m), l.max(m))).or_default() += 1;
                        }
                    }
                }
            }
        }
        let regions = regions
            .into_values()
            .map(|mut r| {
                let a = r.area as f64;
                r.centroid_x /= a;
                r.centroid_y /= a;
                r.mean.iter_mut().for_each(|m| *m /= a);
                r
            })
            .collect();
        let borders = borders
            .into_iter()
            .map(|((a, b), length)| Border { a, b, length })
            .collect();
        (regions, borders)
    }

    /// Feeds the map in rows of blocks `heights` high (cycled), each row cut into columns
    /// `widths` wide (cycled, starting at a different width in each row).
    fn blocked(
        w: usize,
        h: usize,
        c: usize,
        labels: &[u32],
        pixels: &[f32],
        heights: &[usize],
        widths: &[usize],
    ) -> RegionTable {
        let mut table = RegionTable::new(c);
        let (mut y0, mut row) = (0, 0);
        while y0 < h {
            let bh = heights[row % heights.len()].min(h - y0);
            let (mut x0, mut col) = (0, row);
            while x0 < w {
                let bw = widths[col % widths.len()].min(w - x0);
                let mut l = Vec::new();
                let mut p = Vec::new();
                for y in y0..y0 + bh {
                    l.extend_from_slice(&labels[y * w + x0..y * w + x0 + bw]);
                    p.extend_from_slice(&pixels[(y * w + x0) * c..(y * w + x0 + bw) * c]);
                }
                table
                    .add_block(x0 as u32, y0 as u32, bw as u32, bh as u32, &l, &p)
                    .unwrap();
                x0 += bw;
                col += 1;
            }
            y0 += bh;
            row += 1;
        }
        table
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any cut into blocks gives the whole-image table. The samples are multiples of
        /// 1/256, whose sums are exact in any order, so everything is compared exactly.
        #[test]
        fn blocks_give_the_whole_image_table(
            (w, h, labels) in (1usize..14, 1usize..14).prop_flat_map(|(w, h)| {
                // Label 5 stands for UNLABELLED.
                (Just(w), Just(h), proptest::collection::vec(0u32..6, w * h))
            }),
            c in 0usize..4,
            seed in any::<u64>(),
            heights in proptest::collection::vec(1usize..6, 1..4),
            widths in proptest::collection::vec(1usize..6, 1..5),
        ) {
            let labels: Vec<u32> = labels
                .into_iter()
                .map(|l| if l == 5 { UNLABELLED } else { l * 1000 })
                .collect();
            let pixels: Vec<f32> = (0..w * h * c)
                .map(|i| ((seed >> (i % 57)) as u8 as f32) / 256.0)
                .collect();
            let expected = naive(w, h, c, &labels, &pixels);
            let one = blocked(w, h, c, &labels, &pixels, &[h], &[w]);
            let cut = blocked(w, h, c, &labels, &pixels, &heights, &widths);
            for table in [one, cut] {
                prop_assert_eq!(&table.regions(), &expected.0);
                prop_assert_eq!(&table.edges(), &expected.1);
            }
        }
    }

    #[test]
    fn blocks_out_of_order_are_refused_and_change_nothing() {
        let mut t = RegionTable::new(1);
        let err = t.add_block(1, 0, 1, 1, &[0], &[0.0]).unwrap_err();
        assert!(err.to_string().contains("(0, 0)"), "{err}");
        t.add_block(0, 0, 2, 2, &[0, 1, 0, 1], &[0.0; 4]).unwrap();
        // A different height within a row, a gap, wrong lengths, a NaN, an empty block.
        assert!(t.add_block(2, 0, 2, 1, &[2, 2], &[0.0; 2]).is_err());
        assert!(t.add_block(3, 0, 1, 2, &[2, 2], &[0.0; 2]).is_err());
        assert!(
            t.add_block(2, 0, 1, 2, &[2], &[0.0; 2]).is_err(),
            "labels too short"
        );
        assert!(
            t.add_block(2, 0, 1, 2, &[2, 2], &[0.0]).is_err(),
            "pixels too short"
        );
        assert!(t.add_block(2, 0, 1, 2, &[2, 2], &[0.0, f32::NAN]).is_err());
        assert!(t.add_block(2, 0, 0, 2, &[], &[]).is_err(), "empty");
        t.add_block(2, 0, 1, 2, &[2, 2], &[0.0; 2]).unwrap();
        // The next row sets the width to 3: it must start at (0, 2) and stop at column 3.
        assert!(t.add_block(0, 3, 1, 1, &[2], &[0.0]).is_err());
        let err = t.add_block(0, 2, 4, 1, &[2; 4], &[0.0; 4]).unwrap_err();
        assert!(err.to_string().contains("width 3"), "{err}");
        t.add_block(0, 2, 3, 1, &[0, 0, 2], &[0.0; 3]).unwrap();
        let err = t.add_block(3, 2, 1, 1, &[2], &[0.0]).unwrap_err();
        assert!(err.to_string().contains("(0, 3)"), "{err}");
        let edges: Vec<(u32, u32, u64)> = t.edges().iter().map(|e| (e.a, e.b, e.length)).collect();
        // 0 1 2 / 0 1 2 / 0 0 2: 0-1 twice side by side and once above, 1-2 twice, 0-2 once.
        assert_eq!(edges, vec![(0, 1, 3), (0, 2, 1), (1, 2, 2)]);
    }

    #[test]
    fn whole_segmentations_match_one_block() {
        let (w, h) = (9u32, 70u32); // more rows than one band
        let samples: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let image = Image::new(w, h, 3, Samples::U8(samples.clone())).unwrap();
        let labels: Vec<u32> = (0..w * h)
            // Rows of superpixels 8 high: one border falls on the seam between bands (row 64).
            .map(|i| (i % w) / 4 + 3 * ((i / w) / 8))
            .collect();
        let seg = Segmentation::relabel_sequential(w, h, labels).unwrap();
        let mut whole = RegionTable::new(3);
        whole.add_segmentation(&seg, &image).unwrap();
        let pixels: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 255.0).collect();
        let (regions, edges) = naive(w as usize, h as usize, 3, seg.labels(), &pixels);
        assert_eq!(whole.edges(), edges);
        let got = whole.regions();
        assert_eq!(got.len(), regions.len());
        for (g, r) in got.iter().zip(&regions) {
            assert_eq!(
                (g.id, g.area, g.x0, g.y0, g.x1, g.y1),
                (r.id, r.area, r.x0, r.y0, r.x1, r.y1)
            );
            assert_eq!((g.centroid_x, g.centroid_y), (r.centroid_x, r.centroid_y));
            for (a, b) in g.mean.iter().zip(&r.mean) {
                assert!((a - b).abs() < 1e-9);
            }
        }
        assert!(
            whole.add_segmentation(&seg, &image).is_err(),
            "the table is not new"
        );
        let grey = Image::new(w, h, 1, Samples::U8(vec![0; (w * h) as usize])).unwrap();
        assert!(RegionTable::new(3).add_segmentation(&seg, &grey).is_err());
    }
}
