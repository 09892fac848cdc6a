//! Chart text, measured and drawn from the bundled font. [`Typeset`] wraps a plotters
//! backend: shapes pass straight through, text is measured with the font's real advances and
//! kerning, and on bitmaps each glyph is rasterized at its sub-pixel position on a proper
//! baseline. plotters' own `ab_glyph` text drops each glyph's side bearing (uneven letter
//! spacing) and sits text off its anchor; on SVG the text stays `<text>` for the viewer to
//! draw, placed with the same measurements.

use ab_glyph::{Font, Glyph, PxScale, ScaleFont, point};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

use super::font::{self, Face};

/// plotters sizes text so that the em is `size / 1.24` (its SVG backend writes that as the
/// `font-size`); the same ratio here keeps the bitmap and the SVG alike.
const EM_PER_SIZE: f32 = 1.0 / 1.24;

/// A backend whose text is typeset from the bundled font; see the module documentation.
pub(super) struct Typeset<B> {
    inner: B,
    /// Whether to draw glyphs as pixels (bitmaps) rather than hand text to the backend (SVG).
    rasterize: bool,
}

impl<B: DrawingBackend> Typeset<B> {
    /// Wraps `inner`; `rasterize` for pixel backends.
    pub(super) fn new(inner: B, rasterize: bool) -> Self {
        Typeset { inner, rasterize }
    }
}

/// One line of text laid out from x = 0 on its baseline.
struct Line<'f> {
    face: &'f Face,
    scale: PxScale,
    em: f32,
    glyphs: Vec<Glyph>,
    width: f32,
}

/// Lays `text` out in the face and size of `style`.
fn layout<S: BackendTextStyle>(text: &str, style: &S) -> Option<Line<'static>> {
    let face = font::face(style.style()).ok()?;
    let em = style.size() as f32 * EM_PER_SIZE;
    let units_per_em = face.font.units_per_em()?;
    let scale = PxScale::from(em * face.font.height_unscaled() / units_per_em);
    let scaled = face.font.as_scaled(scale);
    let mut x = 0.0;
    let mut prev = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(x, 0.0)));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    Some(Line {
        face,
        scale,
        em,
        glyphs,
        width: x,
    })
}

/// The width in pixels of `text` in `style`, as [`Typeset`] measures it on any backend; `None`
/// if the bundled font is unavailable. Lets a chart size its canvas before it draws.
pub(super) fn text_width<S: BackendTextStyle>(text: &str, style: &S) -> Option<u32> {
    layout(text, style).map(|line| line.width.ceil() as u32)
}

/// Where the line's origin (start of the baseline) goes relative to the anchor point,
/// matching the SVG backend's `text-anchor` and `dy` choices.
fn origin<S: BackendTextStyle>(line: &Line<'_>, style: &S) -> (f32, f32) {
    let anchor = style.anchor();
    let dx = match anchor.h_pos {
        HPos::Left => 0.0,
        HPos::Center => -line.width / 2.0,
        HPos::Right => -line.width,
    };
    let ex = line.face.x_height_em * line.em;
    let dy = match anchor.v_pos {
        VPos::Top => 0.76 * line.em,
        VPos::Center => 0.5 * ex,
        VPos::Bottom => -0.5 * ex,
    };
    (dx, dy)
}

impl<B: DrawingBackend> Typeset<B> {
    /// Rasterizes `text` glyph by glyph, blending coverage into the backend's pixels.
    fn rasterize_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let Some(line) = layout(text, style) else {
            return Err(DrawingErrorKind::FontError(
                "the bundled font is unavailable".into(),
            ));
        };
        let (dx, dy) = origin(&line, style);
        let color = style.color();
        let transform = style.transform();
        let (width, height) = self.inner.get_size();
        let mut pixels: Vec<(BackendCoord, f32)> = Vec::new();
        for glyph in &line.glyphs {
            let mut glyph = glyph.clone();
            glyph.position = point(glyph.position.x + dx, dy);
            glyph.scale = line.scale;
            let Some(outline) = line.face.font.outline_glyph(glyph) else {
                continue; // blank glyphs (spaces) have no outline
            };
            let min = outline.px_bounds().min;
            outline.draw(|x, y, coverage| {
                let local = (min.x as i32 + x as i32, min.y as i32 + y as i32);
                let (rx, ry) = transform.transform(local.0, local.1);
                pixels.push(((pos.0 + rx, pos.1 + ry), coverage));
            });
        }
        for ((x, y), coverage) in pixels {
            let inside = x >= 0 && y >= 0 && (x as u32) < width && (y as u32) < height;
            if inside && coverage > 0.0 {
                self.inner
                    .draw_pixel((x, y), color.mix(f64::from(coverage.min(1.0))))?;
            }
        }
        Ok(())
    }
}

impl<B: DrawingBackend> DrawingBackend for Typeset<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if self.rasterize {
            self.rasterize_text(text, style, pos)
        } else {
            self.inner.draw_text(text, style, pos)
        }
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        match layout(text, style) {
            Some(line) => Ok((line.width.ceil() as u32, line.em.round() as u32)),
            None => Err(DrawingErrorKind::FontError(
                "the bundled font is unavailable".into(),
            )),
        }
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }
}

#[cfg(test)]
mod tests {
    use super::super::style::{self, INK};
    use super::*;

    #[test]
    fn wider_text_measures_wider_and_bold_is_bolder() {
        font::ensure_registered().unwrap();
        let (regular, bold) = (style::text(20.0, INK), style::bold(20.0, INK));
        let w =
            |text: &str, style: &plotters::style::TextStyle| layout(text, style).map(|l| l.width).unwrap();
        assert!(w("mmmm", &regular) > w("iiii", &regular) * 2.0);
        assert!(w("latency", &bold) > w("latency", &regular));
        assert_eq!(w("", &regular), 0.0);
    }
}
