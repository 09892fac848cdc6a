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
//!
//! The log is on disk and read twice as a stream: once to choose the shown decisions (the best
//! [`MAX_SHOWN`] candidates and [`MAX_ROUTES_SHOWN`] route changes are kept as they come), once to
//! lay out the rows, so the memory the timeline takes does not grow with the log.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write as _;
use std::io;

use super::markup::{DASH, clip, clock, count, escape};
use crate::policy::{Decision, DecisionKind, DecisionLog};

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
pub(super) enum Row {
    /// A decision, shown.
    Shown(Decision),
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

/// Reads a log in order, handing each decision to the visitor; a log on disk may fail.
type ReadLog<'a> = dyn Fn(&mut dyn FnMut(&Decision)) -> io::Result<()> + 'a;

/// A decision's place in the order the timeline picks from: rank, distance, then log order.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    rank: u8,
    near: f64,
    index: u64,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.rank.cmp(&other.rank))
            .then(self.near.total_cmp(&other.near))
            .then(self.index.cmp(&other.index))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// The `cap` first candidates in the timeline's order among those offered, kept as they come.
struct Best {
    cap: usize,
    /// The worst kept on top, to be dropped when a better one comes.
    kept: BinaryHeap<Candidate>,
}

impl Best {
    fn new(cap: usize) -> Self {
        Best {
            cap,
            kept: BinaryHeap::with_capacity(cap + 1),
        }
    }

    fn offer(&mut self, candidate: Candidate) {
        self.kept.push(candidate);
        if self.kept.len() > self.cap {
            self.kept.pop();
        }
    }
}

/// Which decisions of the log the timeline shows, by their index in it (see the module
/// documentation). Taking candidates in order and skipping route changes past
/// [`MAX_ROUTES_SHOWN`] shows the first [`MAX_SHOWN`] of the other candidates and the first
/// route changes merged, so only those need keeping.
fn shown(read: &ReadLog<'_>, spans: &[Span]) -> io::Result<BTreeSet<u64>> {
    let mut routes = Best::new(MAX_ROUTES_SHOWN);
    let mut others = Best::new(MAX_SHOWN);
    let mut index = 0;
    read(&mut |d| {
        let near = distance(d.time.as_secs_f64(), spans);
        if let Some(rank) = rank(d.kind, near) {
            let candidate = Candidate { rank, near, index };
            match d.kind {
                DecisionKind::RouteChange => routes.offer(candidate),
                _ => others.offer(candidate),
            }
        }
        index += 1;
    })?;
    let mut candidates: Vec<Candidate> = routes.kept.into_iter().chain(others.kept).collect();
    candidates.sort();
    Ok(candidates.iter().take(MAX_SHOWN).map(|c| c.index).collect())
}

/// The timeline's rows: shown decisions in time order, with the left-out ones between them
/// folded into [`Row::Omitted`] rows.
fn rows_of(read: &ReadLog<'_>, spans: &[Span]) -> io::Result<Vec<Row>> {
    let shown = shown(read, spans)?;
    let mut rows = Vec::new();
    let mut gap: Option<Omitted> = None;
    let mut index = 0;
    read(&mut |d| {
        let t = d.time.as_secs_f64();
        if shown.contains(&index) {
            rows.extend(gap.take().map(Row::Omitted));
            rows.push(Row::Shown(d.clone()));
        } else {
            let g = gap.get_or_insert_with(|| Omitted {
                first_s: t,
                ..Omitted::default()
            });
            *g.by_kind.entry(d.kind).or_default() += 1;
            g.last_s = t;
        }
        index += 1;
    })?;
    rows.extend(gap.map(Row::Omitted));
    Ok(rows)
}

/// The timeline's rows of `log`, read from its spill file.
pub(super) fn rows(log: &DecisionLog, spans: &[Span]) -> io::Result<Vec<Row>> {
    rows_of(&|visit| log.for_each(visit), spans)
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
pub(super) fn write(out: &mut String, log: &DecisionLog, spans: &[Span]) -> io::Result<()> {
    if log.is_empty() {
        out.push_str("<p>The policy took no logged decisions in this run.</p>\n");
        return Ok(());
    }
    let rows = rows(log, spans)?;
    let shown = rows.iter().filter(|r| matches!(r, Row::Shown(_))).count();
    let _ = writeln!(out, "<p class=\"note\">{}</p>", note(shown, log.len() as usize));
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
    Ok(())
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

    /// The rows of a log held in memory.
    fn rows(log: &[Decision], spans: &[Span]) -> Vec<Row> {
        rows_of(
            &|visit| {
                log.iter().for_each(visit);
                Ok(())
            },
            spans,
        )
        .unwrap()
    }

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
                Row::Shown(d) => Some(d),
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
        let few_rows = self::rows(&few, &spans);
        let routes = few_rows
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

    /// The order the timeline used to pick in, over the whole log in memory: every candidate
    /// sorted, taken in order, route changes past their cap skipped.
    fn picked_greedily(log: &[Decision], spans: &[Span]) -> BTreeSet<u64> {
        let mut candidates: Vec<Candidate> = log
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let near = distance(d.time.as_secs_f64(), spans);
                Some(Candidate {
                    rank: rank(d.kind, near)?,
                    near,
                    index: i as u64,
                })
            })
            .collect();
        candidates.sort();
        let (mut picked, mut routes) = (BTreeSet::new(), 0);
        for c in candidates {
            if picked.len() == MAX_SHOWN {
                break;
            }
            if log[c.index as usize].kind == DecisionKind::RouteChange {
                if routes == MAX_ROUTES_SHOWN {
                    continue;
                }
                routes += 1;
            }
            picked.insert(c.index);
        }
        picked
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn keeping_the_best_as_they_come_picks_what_sorting_the_whole_log_picks(
            log in proptest::collection::vec((0..11usize, 0..20_000u64), 0..1_500),
        ) {
            let spans = [Span { start_s: 5_000.0, end_s: 6_000.0 }, Span { start_s: 15_000.0, end_s: 15_000.0 }];
            let log: Vec<Decision> = log
                .into_iter()
                .map(|(kind, t)| decision(t, DecisionKind::ALL[kind]))
                .collect();
            let streamed = shown(
                &|visit| {
                    log.iter().for_each(visit);
                    Ok(())
                },
                &spans,
            )
            .unwrap();
            proptest::prop_assert_eq!(streamed, picked_greedily(&log, &spans));
        }
    }
}
