//! The story of a run: the decision log in time order, incident starts and ends standing out
//! among the placements, interruptions, restores and reroutes around them.
//!
//! A log can hold thousands of route changes, so the timeline is cut to [`MAX_SHOWN`]
//! decisions, chosen in this order:
//! 1. incident starts and ends;
//! 2. every other decision except route changes and scaling (failovers, placements,
//!    interruptions, degradation…), nearest an incident (or the start of the run) first;
//! 3. scaling within [`NEAR_S`] of an incident or of the start, nearest first;
//! 4. route changes within [`NEAR_S`] of an incident or of the start, nearest first, at most
//!    [`MAX_ROUTES_SHOWN`] of them — never those further away, so that routing, however busy,
//!    does not bury what the incident did.
//!
//! Shown decisions keep their time order; each run of left-out decisions between two shown
//! ones becomes one row counting them by kind. `decisions.csv` always has them all.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::markup::{DASH, clip, clock, count, escape};
use crate::policy::{Decision, DecisionKind};

/// The most decisions the timeline shows.
pub const MAX_SHOWN: usize = 300;

/// How near an incident (or the start) a route change or scaling decision must be to be
/// shown, in seconds: 30 minutes.
pub const NEAR_S: f64 = 1_800.0;

/// The most route changes the timeline shows.
pub(super) const MAX_ROUTES_SHOWN: usize = 40;

/// The most characters of a subject or choice shown; the rest is in `decisions.csv`.
const SHORT_CELL: usize = 120;
/// The most characters of the alternatives or the reason shown.
const LONG_CELL: usize = 280;
/// The most characters of a cut cell's tooltip.
const TOOLTIP: usize = 1_000;

/// When an incident was in force: from its start to its end (its start for an instant
/// incident, the horizon for one lasting to the end of the run), in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Span {
    /// Start.
    pub start_s: f64,
    /// End.
    pub end_s: f64,
}

/// A row of the timeline.
#[derive(Debug, PartialEq)]
pub(super) enum Row<'a> {
    /// A decision, shown.
    Shown(&'a Decision),
    /// Consecutive decisions left out.
    Omitted(Omitted),
}

/// Consecutive decisions left out of the timeline.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Omitted {
    /// How many of each kind.
    pub by_kind: BTreeMap<DecisionKind, u64>,
    /// Time of the first, in seconds.
    pub first_s: f64,
    /// Time of the last, in seconds.
    pub last_s: f64,
}

impl Omitted {
    fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }
}

/// Route changes and scaling: the decisions a run can have thousands of.
fn routine(kind: DecisionKind) -> bool {
    matches!(kind, DecisionKind::RouteChange | DecisionKind::Scale)
}

/// Seconds from `t_s` to the nearest span or the start of the run (0 inside a span).
fn distance(t_s: f64, spans: &[Span]) -> f64 {
    spans
        .iter()
        .map(|s| {
            if t_s < s.start_s {
                s.start_s - t_s
            } else {
                (t_s - s.end_s).max(0.0)
            }
        })
        .fold(t_s.abs(), f64::min)
}

/// Where a decision comes in the timeline's order (see the module documentation), or `None`
/// for one never shown.
fn rank(kind: DecisionKind, near: f64) -> Option<u8> {
    Some(match kind {
        DecisionKind::Incident => 0,
        kind if !routine(kind) => 1,
        _ if near > NEAR_S => return None,
        DecisionKind::Scale => 2,
        _ => 3,
    })
}

/// Which decisions of `log` the timeline shows (see the module documentation).
fn shown(log: &[Decision], spans: &[Span]) -> Vec<bool> {
    let mut candidates: Vec<(u8, f64, usize)> = log
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let near = distance(d.time.as_secs_f64(), spans);
            Some((rank(d.kind, near)?, near, i))
        })
        .collect();
    candidates.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut shown = vec![false; log.len()];
    let mut routes = 0;
    let mut taken = 0;
    for &(_, _, i) in &candidates {
        if taken == MAX_SHOWN {
            break;
        }
        if log[i].kind == DecisionKind::RouteChange {
            if routes == MAX_ROUTES_SHOWN {
                continue;
            }
            routes += 1;
        }
        shown[i] = true;
        taken += 1;
    }
    shown
}

/// The timeline's rows: shown decisions in time order, with the left-out ones between them
/// folded into [`Row::Omitted`] rows.
pub(super) fn rows<'a>(log: &'a [Decision], spans: &[Span]) -> Vec<Row<'a>> {
    let shown = shown(log, spans);
    let mut rows = Vec::new();
    let mut gap: Option<Omitted> = None;
    for (d, show) in log.iter().zip(shown) {
        let t = d.time.as_secs_f64();
        if show {
            rows.extend(gap.take().map(Row::Omitted));
            rows.push(Row::Shown(d));
        } else {
            let g = gap.get_or_insert_with(|| Omitted {
                first_s: t,
                ..Omitted::default()
            });
            *g.by_kind.entry(d.kind).or_default() += 1;
            g.last_s = t;
        }
    }
    rows.extend(gap.map(Row::Omitted));
    rows
}

/// A kind of decision as readers say it, singular or plural by `n`.
fn kind_words(kind: DecisionKind, n: u64) -> String {
    let (one, many) = match kind {
        DecisionKind::RouteChange => ("route change", "route changes"),
        DecisionKind::Scale => ("scaling decision", "scaling decisions"),
        DecisionKind::Degrade => ("degradation", "degradations"),
        DecisionKind::Rejected => ("rejected answer", "rejected answers"),
        DecisionKind::Place => ("placement", "placements"),
        DecisionKind::Defer => ("deferral", "deferrals"),
        DecisionKind::Interrupt => ("interruption", "interruptions"),
        DecisionKind::Restore => ("restore", "restores"),
        DecisionKind::Fail => ("failed job", "failed jobs"),
        DecisionKind::Incident => ("incident start or end", "incident starts and ends"),
        DecisionKind::Migrate => ("migration", "migrations"),
    };
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// Writes the timeline of `log` as a note and a table.
pub(super) fn write(out: &mut String, log: &[Decision], spans: &[Span]) {
    if log.is_empty() {
        out.push_str("<p>The policy took no logged decisions in this run.</p>\n");
        return;
    }
    let rows = rows(log, spans);
    let shown = rows.iter().filter(|r| matches!(r, Row::Shown(_))).count();
    let _ = writeln!(out, "<p class=\"note\">{}</p>", note(shown, log.len()));
    out.push_str(
        "<div class=\"scroll\"><table class=\"timeline\">\n<thead><tr><th>time</th><th>kind</th>\
         <th>subject</th><th>choice</th><th>alternatives (score)</th><th>reason</th></tr></thead>\n<tbody>\n",
    );
    for row in &rows {
        match row {
            Row::Shown(d) => write_decision(out, d),
            Row::Omitted(o) => write_omitted(out, o),
        }
    }
    out.push_str("</tbody></table></div>\n");
}

/// What the timeline shows of the log.
fn note(shown: usize, total: usize) -> String {
    if shown == total {
        return format!(
            "All {} decisions of the run, in time order. Incident starts and ends are highlighted; \
             the same log is in <a href=\"decisions.csv\">decisions.csv</a>.",
            count(total as u64)
        );
    }
    format!(
        "{} of the run's {} decisions, in time order: every incident start and end, then the other \
         decisions nearest an incident or the start of the run (up to {MAX_SHOWN}); scaling, then \
         route changes (at most {MAX_ROUTES_SHOWN}), only within 30 minutes of an incident or the \
         start. The rows in grey count what is \
         left out between two shown decisions. Every decision is in \
         <a href=\"decisions.csv\">decisions.csv</a>.",
        count(shown as u64),
        count(total as u64)
    )
}

/// A cell of at most `max` characters, with (the start of) the whole text as its tooltip when
/// cut.
fn cell(text: &str, max: usize) -> String {
    if text.is_empty() {
        return format!("<td class=\"muted\">{DASH}</td>");
    }
    let short = clip(text, max);
    if short.len() == text.len() {
        format!("<td>{}</td>", escape(text))
    } else {
        format!(
            "<td title=\"{}\">{}</td>",
            escape(&clip(text, TOOLTIP)),
            escape(&short)
        )
    }
}

fn write_decision(out: &mut String, d: &Decision) {
    let kind = d.kind.as_str();
    let class = if d.kind == DecisionKind::Incident {
        " class=\"incident\""
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<tr{class}><td class=\"time\">{}</td><td><span class=\"kind k-{kind}\">{}</span></td>{}{}{}{}</tr>",
        clock(d.time.as_secs_f64()),
        kind.replace('_', " "),
        cell(&d.subject, SHORT_CELL),
        cell(&d.choice, SHORT_CELL),
        cell(&d.alternatives, LONG_CELL),
        cell(&d.reason, LONG_CELL),
    );
}

fn write_omitted(out: &mut String, o: &Omitted) {
    let kinds: Vec<String> = o.by_kind.iter().map(|(&k, &n)| kind_words(k, n)).collect();
    let when = if o.first_s == o.last_s {
        format!("at {}", clock(o.first_s))
    } else {
        format!("from {} to {}", clock(o.first_s), clock(o.last_s))
    };
    let total = o.total();
    let _ = writeln!(
        out,
        "<tr class=\"omitted\"><td class=\"time\">{}</td><td colspan=\"5\">… {} more {} {when}: {}</td></tr>",
        clock(o.first_s),
        count(total),
        if total == 1 { "decision" } else { "decisions" },
        kinds.join(", "),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SimTime;

    fn decision(t_s: u64, kind: DecisionKind) -> Decision {
        Decision {
            time: SimTime::from_nanos(t_s * 1_000_000_000),
            kind,
            subject: format!("s{t_s}"),
            choice: String::new(),
            alternatives: String::new(),
            reason: "why".into(),
        }
    }

    #[test]
    fn route_changes_far_from_incidents_are_folded_and_counted() {
        let spans = [Span {
            start_s: 36_000.0,
            end_s: 43_200.0,
        }];
        let log = vec![
            decision(10, DecisionKind::RouteChange),
            decision(5_000, DecisionKind::RouteChange),
            decision(6_000, DecisionKind::Scale),
            decision(20_000, DecisionKind::Place),
            decision(35_000, DecisionKind::RouteChange),
            decision(36_000, DecisionKind::Incident),
            decision(50_000, DecisionKind::RouteChange),
        ];
        let rows = rows(&log, &spans);
        let shown: Vec<&str> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Shown(d) => Some(d.subject.as_str()),
                Row::Omitted(_) => None,
            })
            .collect();
        assert_eq!(shown, ["s10", "s20000", "s35000", "s36000"]);
        let Row::Omitted(gap) = &rows[1] else {
            panic!("{rows:?}")
        };
        assert_eq!(gap.total(), 2);
        assert_eq!((gap.first_s, gap.last_s), (5_000.0, 6_000.0));
        assert!(matches!(rows.last(), Some(Row::Omitted(o)) if o.total() == 1));
    }

    #[test]
    fn the_timeline_is_capped_with_incidents_first() {
        let mut log: Vec<Decision> = (0..2_000).map(|t| decision(t, DecisionKind::Place)).collect();
        log.push(decision(5_000, DecisionKind::Incident));
        let rows = rows(&log, &[]);
        let shown: Vec<&Decision> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Shown(d) => Some(*d),
                Row::Omitted(_) => None,
            })
            .collect();
        assert_eq!(shown.len(), MAX_SHOWN);
        assert_eq!(shown.last().map(|d| d.kind), Some(DecisionKind::Incident));
        let omitted: u64 = rows
            .iter()
            .map(|r| match r {
                Row::Omitted(o) => o.total(),
                Row::Shown(_) => 0,
            })
            .sum();
        assert_eq!(omitted as usize + MAX_SHOWN, log.len());
    }

    #[test]
    fn route_changes_do_not_crowd_out_scaling_or_failovers() {
        let spans = [Span {
            start_s: 3_600.0,
            end_s: 7_200.0,
        }];
        let mut log: Vec<Decision> = (0..1_000)
            .map(|t| decision(3_600 + t, DecisionKind::RouteChange))
            .collect();
        log.push(decision(3_600, DecisionKind::Incident));
        log.extend((0..300).map(|t| decision(4_000 + t, DecisionKind::Scale)));
        log.push(decision(9_000, DecisionKind::Degrade));
        log.sort_by_key(|d| d.time);
        let rows = rows(&log, &spans);
        let shown = |kind| {
            rows.iter()
                .filter(|r| matches!(r, Row::Shown(d) if d.kind == kind))
                .count()
        };
        assert_eq!(shown(DecisionKind::Incident), 1);
        assert_eq!(shown(DecisionKind::Degrade), 1);
        assert_eq!(shown(DecisionKind::Scale), MAX_SHOWN - 2);
        assert_eq!(shown(DecisionKind::RouteChange), 0);
        let few: Vec<Decision> = log
            .iter()
            .filter(|d| d.kind != DecisionKind::Scale)
            .cloned()
            .collect();
        let rows = super::rows(&few, &spans);
        let routes = rows
            .iter()
            .filter(|r| matches!(r, Row::Shown(d) if d.kind == DecisionKind::RouteChange))
            .count();
        assert_eq!(routes, MAX_ROUTES_SHOWN);
    }

    #[test]
    fn long_cells_are_clipped_with_the_whole_text_as_tooltip() {
        let long = "x".repeat(500);
        let html = cell(&long, LONG_CELL);
        assert!(html.starts_with(&format!("<td title=\"{long}\">")));
        assert!(html.contains('…'));
        assert_eq!(cell("a<b", 10), "<td>a&lt;b</td>");
    }
}
