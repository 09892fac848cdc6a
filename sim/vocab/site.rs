//! The kinds of site an estate is made of.

use serde::{Deserialize, Serialize};

/// What kind of place a site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// A public cloud region.
    Cloud,
    /// An owned data centre.
    OnPrem,
    /// A colocation facility.
    Colo,
    /// An edge location (factory, store, cell site).
    Edge,
}

impl SiteKind {
    /// The name used in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteKind::Cloud => "cloud",
            SiteKind::OnPrem => "on_prem",
            SiteKind::Colo => "colo",
            SiteKind::Edge => "edge",
        }
    }
}
