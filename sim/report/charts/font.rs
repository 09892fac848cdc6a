//! The bundled font: DejaVu Sans (regular and bold, `assets/fonts/`, Bitstream Vera licence),
//! compiled into the binary. It is registered with plotters as the sans-serif family, and
//! parsed once more here for [`super::typeset`], which measures and draws all chart text.
//! Nothing reads system fonts, so charts look the same on every machine and need no
//! fontconfig.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef};
use plotters::style::{FontStyle, register_font};

use super::ChartError;

static REGULAR: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
static BOLD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans-Bold.ttf"
));

/// The family name the fonts are registered under. It is the name plotters uses for
/// `FontFamily::SansSerif`, and SVG viewers fall back to their own sans-serif with it.
const FAMILY: &str = "sans-serif";

/// A parsed face and the metrics text layout needs.
pub(super) struct Face {
    /// The font.
    pub font: FontRef<'static>,
    /// Height of a lowercase "x" as a fraction of the em, for centring text vertically the
    /// way SVG viewers do (`0.5ex`).
    pub x_height_em: f32,
}

impl Face {
    fn parse(bytes: &'static [u8]) -> Option<Face> {
        let font = FontRef::try_from_slice(bytes).ok()?;
        let units_per_em = font.units_per_em()?;
        let x = font.outline(font.glyph_id('x'))?;
        // Outline bounds are in font units; the larger y of the "x" is its height above the
        // baseline whichever way the y axis points.
        let x_height = x.bounds.min.y.abs().max(x.bounds.max.y.abs());
        Some(Face {
            font,
            x_height_em: x_height / units_per_em,
        })
    }
}

/// The regular and bold faces, parsed once per process.
fn faces() -> Option<&'static (Face, Face)> {
    static FACES: OnceLock<Option<(Face, Face)>> = OnceLock::new();
    FACES
        .get_or_init(|| Some((Face::parse(REGULAR)?, Face::parse(BOLD)?)))
        .as_ref()
}

/// The face for a style: bold for bold, regular for everything else.
pub(super) fn face(style: FontStyle) -> Result<&'static Face, ChartError> {
    let (regular, bold) = faces().ok_or(ChartError::Font)?;
    Ok(if matches!(style, FontStyle::Bold) {
        bold
    } else {
        regular
    })
}

/// Registers the bundled fonts with plotters once per process; every render calls it before
/// drawing, because plotters looks fonts up when a text style is created.
pub(super) fn ensure_registered() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, REGULAR).is_ok()
            && register_font(FAMILY, FontStyle::Bold, BOLD).is_ok()
    });
    if ok && faces().is_some() {
        Ok(())
    } else {
        Err(ChartError::Font)
    }
}
