//! The report's five charts — latency, request rate, cost, recovery and utilization — and the
//! comparison charts that set several runs on the same axes, one colour per run or per group
//! of seeds, drawn as its mean with a 95% band (p99 latency, cumulative cost and GPUs in use by
//! run, [`RunsChart`]; small multiples when there are more groups than colours), drawn from
//! plain input data into
//! SVG text or PNG bytes. This module owns the chart input types, the layout and look of each
//! chart, and the bundled font (DejaVu Sans, `assets/fonts/`), so rendering needs no system
//! fonts and gives the same bytes for the same input on every machine.
//!
//! Each input type implements [`Chart`]: `chart.svg()` and `chart.png()` render it, and
//! [`Chart::NAME`] is the file stem used in an output folder (`latency.svg`, …). Times are
//! seconds since the start of the run; the x axis shows minutes, hours or days depending on
//! the span. Values that are not finite are treated as missing, and inputs with nothing to
//! show draw a chart with a "no data" note rather than failing.

mod cost;
mod font;
mod frame;
mod latency;
mod recovery;
mod render;
mod requests;
mod runs;
mod study;
mod style;
mod typeset;
mod utilization;

use plotters::drawing::DrawingAreaErrorKind;

pub use cost::{CostChart, CostPoint};
pub use latency::{LatencyChart, LatencyPoint, ServiceLatency};
pub use recovery::{IncidentRecovery, PolicyRecovery, RecoveryChart};
pub use requests::{RequestPoint, RequestRateChart, ServiceRequests};
pub use runs::{
    BAND_LEVEL, CostRuns, CostRunsChart, LatencyRuns, LatencyRunsChart, MeanPoint, RunGroup, RunSeries,
    RunsChart, RunsPanel, UtilizationRuns, UtilizationRunsChart, mean_band,
};
pub use study::{StudyChart, StudyLine};
pub use utilization::{
    PoolUtilization, SpilledUtilization, UtilizationChart, UtilizationPanels, UtilizationPoint,
};

/// Most panels in a chart of one panel per service or pool: a chart's size (and the memory to
/// draw it) grows with its panels, so an estate of thousands of services gets the ones that
/// matter most, and the title says how many were left out.
pub const MAX_PANELS: usize = 24;

/// The indices of the at most [`MAX_PANELS`] items that rank highest by `rank` (ties: the
/// earlier item), in their original order, and how many were left out.
pub fn select_panels(ranks: &[f64]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..ranks.len()).collect();
    order.sort_by(|&a, &b| ranks[b].total_cmp(&ranks[a]).then(a.cmp(&b)));
    order.truncate(MAX_PANELS);
    order.sort_unstable();
    let omitted = ranks.len() - order.len();
    (order, omitted)
}

/// A chart's title, saying which panels it shows when some were left out.
fn panel_title(title: &str, shown: usize, omitted: usize, which: &str) -> String {
    if omitted == 0 {
        title.to_string()
    } else {
        format!(
            "{title}: the {shown} {which} of {} (all are in timeseries.csv)",
            shown + omitted
        )
    }
}

/// An incident's time window, shaded and labelled on the time-based charts.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentWindow {
    /// The name shown on the band.
    pub label: String,
    /// Start, seconds from the start of the run.
    pub start_s: f64,
    /// End, seconds from the start of the run. Equal to `start_s` for an instant incident,
    /// which is drawn as a line; an incident lasting until the end of the run should end at
    /// the horizon.
    pub end_s: f64,
    /// The services it affects, when known: a chart with a panel per service shades it only on
    /// theirs, so a large estate's panels do not each carry every region's incidents. `None`:
    /// on every panel.
    pub services: Option<Vec<String>>,
}

impl IncidentWindow {
    /// The incidents a panel of `service` shades.
    pub(crate) fn on_service_panel(incidents: &[IncidentWindow], service: &str) -> Vec<IncidentWindow> {
        incidents
            .iter()
            .filter(|i| {
                i.services
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == service))
            })
            .cloned()
            .collect()
    }
}

/// Why a chart could not be rendered. Input data never causes one: these are failures of
/// the font, the drawing backend or the PNG encoder.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The bundled font could not be parsed or registered.
    #[error("the bundled chart font could not be loaded")]
    Font,
    /// The drawing backend failed.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("encoding the chart as PNG failed: {0}")]
    Png(#[from] png::EncodingError),
    /// The run's figures could not be read back from its spill file.
    #[error("reading the run's figures back failed: {0}")]
    Read(#[from] std::io::Error),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// A chart that can be rendered. Rendering is a pure function of the input: the same input
/// gives the same bytes.
pub trait Chart {
    /// The file stem used in an output folder: `latency`, `cost`, `recovery`, `utilization`.
    const NAME: &'static str;
    /// The title drawn at the top of the chart.
    const TITLE: &'static str;
    /// Width and height in pixels (of the PNG, and of the SVG's canvas).
    fn size(&self) -> (u32, u32);
    /// Renders the chart as an SVG document.
    fn svg(&self) -> Result<String, ChartError>;
    /// Renders the chart as a PNG image.
    fn png(&self) -> Result<Vec<u8>, ChartError>;
}

/// Implements [`Chart`] for an input type whose module has `size` and a backend-generic
/// `draw`: the two renderers only differ in the backend they hand to `draw`.
macro_rules! impl_chart {
    ($ty:ty, $module:ident, $name:literal, $title:literal) => {
        impl Chart for $ty {
            const NAME: &'static str = $name;
            const TITLE: &'static str = $title;

            fn size(&self) -> (u32, u32) {
                $module::size(self)
            }

            fn svg(&self) -> Result<String, ChartError> {
                render::svg(self.size(), |root| $module::draw(self, root))
            }

            fn png(&self) -> Result<Vec<u8>, ChartError> {
                render::png(self.size(), |root| $module::draw(self, root))
            }
        }
    };
}

impl_chart!(LatencyChart, latency, "latency", "Latency by service");
impl_chart!(CostChart, cost, "cost", "Cumulative cost");
impl_chart!(RequestRateChart, requests, "requests", "Request rate by service");
impl_chart!(RecoveryChart, recovery, "recovery", "Recovery times by incident");
impl_chart!(
    UtilizationChart,
    utilization,
    "utilization",
    "GPU utilization by pool"
);
impl_chart!(
    SpilledUtilization,
    utilization,
    "utilization",
    "GPU utilization by pool"
);
impl_chart!(LatencyRunsChart, runs, "latency", "p99 latency by run");
impl_chart!(CostRunsChart, runs, "cost", "Cumulative cost by run");
impl_chart!(UtilizationRunsChart, runs, "utilization", "GPUs in use by run");
