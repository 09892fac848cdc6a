//! From a drawing function to bytes: an SVG document in a `String`, or a PNG image drawn into
//! an in-memory RGB buffer and encoded with the `png` crate. Both backends are wrapped in
//! [`Typeset`] so text is measured (and, on the bitmap, drawn) from the bundled font. Nothing here reads the clock or
//! the environment, so equal inputs give equal bytes.

use plotters::backend::{BitMapBackend, SVGBackend};
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, IntoDrawingArea};
use plotters::prelude::DrawingBackend;

use super::typeset::Typeset;
use super::{ChartError, font};

/// A drawing area in backend pixels, the root of every chart.
pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// Draws a chart of `size` pixels with `draw` and returns the SVG document.
pub(super) fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&Area<Typeset<SVGBackend<'_>>>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    font::ensure_registered()?;
    let mut out = String::new();
    {
        let root = Typeset::new(SVGBackend::with_string(&mut out, size), false).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// Draws a chart of `size` pixels with `draw` and returns the PNG file's bytes.
pub(super) fn png(
    size: (u32, u32),
    draw: impl FnOnce(&Area<Typeset<BitMapBackend<'_>>>) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    font::ensure_registered()?;
    let (width, height) = size;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = Typeset::new(BitMapBackend::with_buffer(&mut rgb, size), true).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    encode_png(&rgb, width, height)
}

/// Encodes 8-bit RGB pixels as PNG. Compression and filter are set explicitly so the bytes
/// do not change if the crate's defaults do.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        encoder.set_filter(png::Filter::Adaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// Pixel size of `text` in `style` on `area`'s backend.
pub(super) fn text_size<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    style: &plotters::style::TextStyle,
) -> Result<(u32, u32), ChartError> {
    Ok(area.estimate_text_size(text, style)?)
}
