//! `segment --table`: each image's per-superpixel table, `<name>.superpixels.csv`, and its
//! region adjacency graph, `<name>.adjacency.csv`, both written atomically.
//!
//! Ids are the values the label map files hold (label + 1; 0, "no superpixel", never
//! appears), so that a row joins the `.labels.png` / `.labels.npy` pixels it describes.
//!
//! `<name>.superpixels.csv`: `id,area,centroid_x,centroid_y,x0,y0,x1,y1,` then the mean colour
//! (`mean_r,mean_g,mean_b` for colour images, `mean_grey` for grey ones) on the image's scale
//! mapped to 0..1 (8-bit 255 and 16-bit 65535 are 1). Area in pixels; the centroid is the mean
//! pixel position, the top-left pixel being (0, 0), to 1/1000 pixel; the bounding box is
//! half-open: columns `x0..x1`, rows `y0..y1` (`x1 - x0` is its width, `labels[y0:y1, x0:x1]`
//! the box in NumPy). One row per superpixel, by id.
//!
//! `<name>.adjacency.csv`: `a,b,border`, one row per pair of 4-adjacent superpixels `a < b`,
//! `border` the number of 4-neighbour pixel pairs with one pixel in each; sorted by `(a, b)`.

use crate::labels_io::stored;
use crate::output::write_atomic;
use anyhow::Result;
use std::path::Path;
use tessera::{Border, Image, Region, RegionTable, Segmentation};

/// Writes both files for `seg` of `image`.
pub fn write_tables(
    superpixels: &Path,
    adjacency: &Path,
    seg: &Segmentation,
    image: &Image,
) -> Result<()> {
    let mut table = RegionTable::new(image.channels());
    table.add_segmentation(seg, image)?;
    write_superpixels(superpixels, &table.regions(), image.channels())?;
    write_adjacency(adjacency, &table.edges())
}

/// The mean colour columns for `channels` channels.
fn mean_columns(channels: usize) -> Vec<String> {
    match channels {
        1 => vec!["mean_grey".into()],
        3 => ["mean_r", "mean_g", "mean_b"].map(String::from).to_vec(),
        // The command line reads grey and RGB images only; numbered columns for the rest.
        n => (0..n).map(|c| format!("mean_{c}")).collect(),
    }
}

fn write_superpixels(path: &Path, regions: &[Region], channels: usize) -> Result<()> {
    write_atomic(path, |out| {
        write!(out, "id,area,centroid_x,centroid_y,x0,y0,x1,y1")?;
        for column in mean_columns(channels) {
            write!(out, ",{column}")?;
        }
        writeln!(out)?;
        for r in regions {
            write!(
                out,
                "{},{},{:.3},{:.3},{},{},{},{}",
                stored(r.id),
                r.area,
                r.centroid_x,
                r.centroid_y,
                r.x0,
                r.y0,
                r.x1,
                r.y1
            )?;
            for m in &r.mean {
                write!(out, ",{m:.6}")?;
            }
            writeln!(out)?;
        }
        Ok(())
    })
}

fn write_adjacency(path: &Path, edges: &[Border]) -> Result<()> {
    write_atomic(path, |out| {
        writeln!(out, "a,b,border")?;
        for e in edges {
            writeln!(out, "{},{},{}", stored(e.a), stored(e.b), e.length)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::Samples;

    #[test]
    fn tables_use_the_label_files_ids() {
        let dir = tempfile::tempdir().unwrap();
        // 0 0 1 over 0 1 1, grey 0, 0, 255 over 0, 255, 255.
        let image = Image::new(3, 2, 1, Samples::U8(vec![0, 0, 255, 0, 255, 255])).unwrap();
        let seg = Segmentation::from_labels(3, 2, vec![0, 0, 1, 0, 1, 1]).unwrap();
        let (sp, adj) = (
            dir.path().join("x.superpixels.csv"),
            dir.path().join("x.adjacency.csv"),
        );
        write_tables(&sp, &adj, &seg, &image).unwrap();
        assert_eq!(
            std::fs::read_to_string(&sp).unwrap(),
            "id,area,centroid_x,centroid_y,x0,y0,x1,y1,mean_grey\n\
             1,3,0.333,0.333,0,0,2,2,0.000000\n\
             2,3,1.667,0.667,1,0,3,2,1.000000\n"
        );
        assert_eq!(
            std::fs::read_to_string(&adj).unwrap(),
            "a,b,border\n1,2,3\n"
        );
        assert_eq!(mean_columns(3).join(","), "mean_r,mean_g,mean_b");
    }
}
