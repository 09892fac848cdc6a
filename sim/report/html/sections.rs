//! The sections of a report: the scenario's description, the headline figures (services,
//! jobs, cost), the estate at a glance and the incidents with their recovery figures.

use std::fmt::Write as _;

use super::markup::{
    Cell, Column, DASH, clip, clock, count, duration, escape, ms, number, share, table, usd,
};
use crate::infra::estate::Estate;
use crate::infra::ledger::CostCategory;
use crate::metrics::Summary;
use crate::metrics::recovery::IncidentSummary;
use crate::scenario::Scenario;
use crate::vocab::Tier;

/// The most characters of a description shown; a longer one is cut with a note.
const MAX_DESCRIPTION: usize = 20_000;

/// The most rows of an estate table (sites, pools, links, services, datasets).
const MAX_ESTATE_ROWS: usize = 200;

/// A paragraph of a description: an optional lead-in set in bold, and the text after it.
#[derive(Debug, PartialEq)]
pub(super) struct Paragraph {
    /// "What goes wrong:", or a policy's name.
    pub lead: Option<String>,
    /// The rest of the paragraph.
    pub text: String,
}

/// Splits a description into paragraphs: at blank lines, before a sentence that opens with a
/// short label and a colon ("What goes wrong: …", "What the run shows (seed 17): …"), and
/// before a sentence that opens with one of the policy `names` ("failover sends …").
pub(super) fn paragraphs(text: &str, names: &[&str]) -> Vec<Paragraph> {
    let mut out = Vec::new();
    for block in blocks(text) {
        let mut current: Option<Paragraph> = None;
        for sentence in sentences(&block, names) {
            let lead = label(sentence).or_else(|| named(sentence, names));
            match (current.as_mut(), lead) {
                (Some(p), None) => {
                    p.text.push(' ');
                    p.text.push_str(sentence);
                }
                (_, lead) => {
                    out.extend(current.take());
                    current = Some(match lead {
                        Some((lead, rest)) => Paragraph {
                            lead: Some(lead.to_string()),
                            text: rest.to_string(),
                        },
                        None => Paragraph {
                            lead: None,
                            text: sentence.to_string(),
                        },
                    });
                }
            }
        }
        out.extend(current);
    }
    out
}

/// The text's blocks between blank lines, each on one line.
fn blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// The sentences of a block: cut after ". " when a capital letter or a policy name follows.
fn sentences<'a>(block: &'a str, names: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in block.match_indices(". ") {
        let rest = &block[i + 2..];
        let capital = rest.chars().next().is_some_and(char::is_uppercase);
        if capital || named(rest, names).is_some() {
            out.push(block[start..=i].trim());
            start = i + 2;
        }
    }
    out.push(block[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// A sentence's label — a capitalised lead-in of at most six words before ": ", with no
/// figures outside parentheses — and the rest.
fn label(sentence: &str) -> Option<(&str, &str)> {
    let colon = sentence.find(": ")?;
    let lead = &sentence[..colon];
    let mut depth = 0i32;
    let mut digit_outside = false;
    for c in lead.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c.is_ascii_digit() && depth == 0 => digit_outside = true,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    let fits = lead.chars().next().is_some_and(char::is_uppercase)
        && lead.chars().count() <= 40
        && lead.split_whitespace().count() <= 6;
    (fits && depth == 0 && !digit_outside).then(|| (&sentence[..=colon], sentence[colon + 2..].trim_start()))
}

/// A sentence that opens with a policy's name: the name and the rest.
fn named<'a>(sentence: &'a str, names: &[&str]) -> Option<(&'a str, &'a str)> {
    names.iter().find_map(|name| {
        let rest = sentence.strip_prefix(name)?;
        rest.starts_with([' ', '('])
            .then(|| (&sentence[..name.len()], rest.trim_start()))
    })
}

/// Writes the description as paragraphs.
pub(super) fn description(out: &mut String, text: &str, names: &[&str]) {
    let shown = clip(text, MAX_DESCRIPTION);
    if shown.trim().is_empty() {
        return;
    }
    out.push_str("<div class=\"description\">\n");
    for p in paragraphs(&shown, names) {
        let lead = p
            .lead
            .map(|l| format!("<strong>{}</strong> ", escape(&l)))
            .unwrap_or_default();
        let _ = writeln!(out, "<p>{lead}{}</p>", escape(&p.text));
    }
    if shown.len() < text.len() {
        out.push_str(
            "<p class=\"note\">The description is shortened here; the scenario file has all of it.</p>\n",
        );
    }
    out.push_str("</div>\n");
}

/// A few headline numbers as cards: total cost, requests, jobs, incidents.
pub(super) fn cards(out: &mut String, s: &Summary) {
    let mut cards = vec![(format!("${}", usd(s.cost.total_usd)), "total cost".to_string())];
    if !s.services.is_empty() {
        let arrived: u64 = s.services.values().map(|v| v.requests.arrived).sum();
        let failed: u64 = s.services.values().map(|v| v.requests.failed).sum();
        cards.push((count(arrived), "requests arrived".into()));
        cards.push((count(failed), "requests failed".into()));
    }
    if !s.jobs.is_empty() {
        let submitted: u64 = s.jobs.values().map(|j| j.submitted).sum();
        let completed: u64 = s.jobs.values().map(|j| j.completed).sum();
        cards.push((
            format!("{} / {}", count(completed), count(submitted)),
            "jobs completed / submitted".into(),
        ));
    }
    cards.push((count(s.incidents.len() as u64), "scripted incidents".into()));
    out.push_str("<div class=\"cards\">");
    for (value, label) in cards {
        let _ = write!(
            out,
            "<div class=\"card\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            escape(&value),
            escape(&label)
        );
    }
    out.push_str("</div>\n");
}

/// "p99 ≤ 4,500 ms".
fn slo_text(percentile: f64, target_ms: f64) -> String {
    let p = if percentile.fract() == 0.0 {
        format!("{percentile:.0}")
    } else {
        percentile.to_string()
    };
    format!("p{p} ≤ {} ms", ms(Some(target_ms)))
}

/// A table of the services: how requests ended, latency quantiles, the SLO and its attainment.
pub(super) fn services(out: &mut String, s: &Summary) {
    if s.services.is_empty() {
        out.push_str("<p>No inference services.</p>\n");
        return;
    }
    let columns = [
        Column::text("service"),
        Column::num("arrived"),
        Column::num("served"),
        Column::num("degraded"),
        Column::num("failed"),
        Column::num("p50 ms"),
        Column::num("p95 ms"),
        Column::num("p99 ms"),
        Column::text("SLO"),
        Column::num("within SLO"),
        Column::num("cost USD"),
    ];
    let rows: Vec<Vec<Cell>> = s
        .services
        .iter()
        .map(|(name, v)| {
            let r = &v.requests;
            let e2e = v.latency_ms.get("e2e");
            let reasons: Vec<String> = v
                .failed_by_reason
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(reason, n)| format!("{reason} {}", count(*n)))
                .collect();
            let failed = Cell::text(count(r.failed));
            let failed = if reasons.is_empty() {
                failed
            } else {
                failed.titled(reasons.join(", "))
            };
            vec![
                Cell::text(name),
                Cell::text(count(r.arrived)),
                Cell::text(count(r.served)),
                Cell::text(count(r.degraded)),
                failed,
                Cell::text(ms(e2e.and_then(|l| l.p50))),
                Cell::text(ms(e2e.and_then(|l| l.p95))),
                Cell::text(ms(e2e.and_then(|l| l.p99))),
                Cell::text(
                    v.slo
                        .as_ref()
                        .map_or("none".into(), |o| slo_text(o.percentile, o.target_ms)),
                ),
                Cell::text(share(v.slo.as_ref().and_then(|o| o.attainment))),
                Cell::text(usd(v.cost_usd)),
            ]
        })
        .collect();
    table(out, "figures", &columns, &rows);
}

/// A table of the jobs per class: how many ran and finished, interruptions, goodput.
pub(super) fn jobs(out: &mut String, s: &Summary) {
    if s.jobs.is_empty() {
        out.push_str("<p>No jobs.</p>\n");
        return;
    }
    let columns = [
        Column::text("class"),
        Column::num("submitted"),
        Column::num("completed"),
        Column::num("failed"),
        Column::num("interruptions"),
        Column::num("goodput"),
        Column::num("GPU-h held"),
        Column::num("GPU-h lost"),
        Column::num("mean wait"),
        Column::num("cost USD"),
    ];
    let rows: Vec<Vec<Cell>> = s
        .jobs
        .iter()
        .map(|(class, j)| {
            let causes: Vec<String> = j
                .interruptions
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(cause, n)| format!("{cause} {}", count(*n)))
                .collect();
            let interrupted = Cell::text(count(j.interrupted));
            vec![
                Cell::text(class),
                Cell::text(count(j.submitted)),
                Cell::text(count(j.completed)),
                Cell::text(count(j.failed)),
                if causes.is_empty() {
                    interrupted
                } else {
                    interrupted.titled(causes.join(", "))
                },
                Cell::text(share(j.goodput)),
                Cell::text(number(j.gpu_hours.held, 1)),
                Cell::text(number(j.gpu_hours.lost, 1)),
                Cell::text(duration(j.wait_h.as_ref().map(|w| w.mean * 3_600.0))),
                Cell::text(usd(j.cost_usd)),
            ]
        })
        .collect();
    table(out, "figures", &columns, &rows);
}

/// The cost by category, by tier and by site, as three small tables side by side; the
/// ledger is `cost.csv` in `folder` (`""` or `"name/"`).
pub(super) fn cost(out: &mut String, s: &Summary, folder: &str) {
    let c = &s.cost;
    let _ = writeln!(
        out,
        "<p>Total cost <strong>{} USD</strong>, summed over every charge of the ledger \
         (<a href=\"{1}cost.csv\">{1}cost.csv</a>).</p>",
        usd(c.total_usd),
        escape(folder)
    );
    out.push_str("<div class=\"side\">\n");
    let small = |out: &mut String, title: &str, items: Vec<(String, f64)>| {
        let rows: Vec<Vec<Cell>> = items
            .into_iter()
            .map(|(k, v)| vec![Cell::text(k), Cell::text(usd(v))])
            .collect();
        out.push_str("<div>");
        table(
            out,
            "figures small",
            &[Column::text(title), Column::num("USD")],
            &rows,
        );
        out.push_str("</div>\n");
    };
    let named = |m: &std::collections::BTreeMap<&'static str, f64>| -> Vec<(String, f64)> {
        m.iter().map(|(k, v)| (k.replace('_', " "), *v)).collect()
    };
    // Categories by their shown names (idle capacity is named the same as in the charts).
    let categories = CostCategory::ALL
        .iter()
        .filter_map(|k| Some((k.label().to_string(), *c.by_category.get(k.as_str())?)))
        .collect();
    small(out, "by category", categories);
    small(out, "by tier", named(&c.by_tier));
    let sites: Vec<(String, f64)> = c
        .by_site
        .iter()
        .take(MAX_ESTATE_ROWS)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    small(out, "by site", sites);
    out.push_str("</div>\n");
}

/// Rows past [`MAX_ESTATE_ROWS`] are left out with a note.
fn capped(out: &mut String, columns: &[Column], rows: Vec<Vec<Cell>>) {
    let total = rows.len();
    let rows: Vec<Vec<Cell>> = rows.into_iter().take(MAX_ESTATE_ROWS).collect();
    table(out, "estate", columns, &rows);
    if total > rows.len() {
        let _ = writeln!(
            out,
            "<p class=\"note\">… and {} more; <code>hybridsim validate</code> lists them all.</p>",
            count((total - rows.len()) as u64)
        );
    }
}

/// The estate as the scenario sets it up: sites, pools with tiers and prices, links,
/// services and datasets.
pub(super) fn estate(out: &mut String, scenario: &Scenario) {
    let estate = Estate::build(scenario.spec.estate());
    out.push_str("<h3>Sites</h3>\n");
    sites(out, &estate);
    out.push_str("<h3>GPU pools</h3>\n<p class=\"note\">GPUs × price per GPU-hour at the start of the run, per capacity tier (owned: capex over the lifetime plus power).</p>\n");
    pools(out, &estate);
    links(out, scenario);
    deployments(out, scenario);
    datasets(out, scenario, &estate);
}

fn sites(out: &mut String, estate: &Estate) {
    let columns = [
        Column::text("site"),
        Column::text("kind"),
        Column::text("jurisdiction"),
        Column::num("GPUs"),
        Column::num("egress USD/GB"),
    ];
    let rows = estate
        .sites
        .iter()
        .map(|site| {
            let gpus: u64 = estate
                .pools
                .iter()
                .filter(|p| p.site == site.id)
                .map(|p| p.capacity())
                .sum();
            vec![
                Cell::text(&site.name),
                Cell::text(site.kind.as_str().replace('_', "-")),
                Cell::text(&site.jurisdiction),
                Cell::text(count(gpus)),
                Cell::text(number(site.egress_usd_per_gb, 3)),
            ]
        })
        .collect();
    capped(out, &columns, rows);
}

fn pools(out: &mut String, estate: &Estate) {
    let mut columns = vec![
        Column::text("pool"),
        Column::text("site"),
        Column::text("accelerator"),
    ];
    columns.extend(
        Tier::ALL
            .iter()
            .map(|t| Column::num(t.as_str().replace('_', "-"))),
    );
    let rows = estate
        .pools
        .iter()
        .map(|pool| {
            let site = estate
                .sites
                .get(pool.site.index())
                .map_or("", |s| s.name.as_str());
            let accelerator = estate
                .accelerators
                .get(pool.accelerator.index())
                .map_or("", |a| a.name.as_str());
            let mut row = vec![Cell::text(&pool.name), Cell::text(site), Cell::text(accelerator)];
            row.extend(Tier::ALL.iter().map(|&t| {
                pool.tier(t)
                    .map_or(Cell::html(format!("<span class=\"muted\">{DASH}</span>")), |s| {
                        Cell::text(format!(
                            "{} × {}",
                            count(u64::from(s.capacity)),
                            usd(s.base_price_per_gpu_hour)
                        ))
                    })
            }));
            row
        })
        .collect();
    capped(out, &columns, rows);
}

fn links(out: &mut String, scenario: &Scenario) {
    let spec = &scenario.spec;
    if spec.links.is_empty() {
        return;
    }
    out.push_str("<h3>Links</h3>\n");
    let columns = [
        Column::text("link"),
        Column::num("bandwidth"),
        Column::num("one-way latency"),
        Column::num("loss"),
        Column::num("price"),
    ];
    let rows = spec
        .links
        .iter()
        .map(|link| {
            let name = link
                .name
                .clone()
                .unwrap_or_else(|| format!("{}--{}", link.a, link.b));
            vec![
                Cell::text(name),
                Cell::text(link.bandwidth.to_string()),
                Cell::text(link.latency.to_string()),
                Cell::text(link.loss.to_string()),
                Cell::text(link.price.map_or_else(|| DASH.to_string(), |p| p.to_string())),
            ]
        })
        .collect();
    capped(out, &columns, rows);
}

fn deployments(out: &mut String, scenario: &Scenario) {
    let spec = &scenario.spec;
    if spec.services.is_empty() {
        return;
    }
    out.push_str("<h3>Services</h3>\n");
    let columns = [
        Column::text("service"),
        Column::text("replicas (pool, tier)"),
        Column::text("demand from"),
        Column::text("SLO"),
    ];
    let rows = spec
        .services
        .iter()
        .map(|service| {
            let replicas: Vec<String> = service
                .replicas
                .iter()
                .map(|r| format!("{} × {} {}", r.count, r.pool, r.tier.as_str()))
                .collect();
            let origins: Vec<&str> = service.demand.iter().map(|d| d.origin.as_str()).collect();
            let slo = service.slo.as_ref().map_or("none".to_string(), |o| {
                slo_text(o.percentile, o.latency.as_secs_f64() * 1e3)
            });
            vec![
                Cell::text(&service.name),
                Cell::text(clip(&replicas.join(", "), 400)),
                Cell::text(clip(&origins.join(", "), 400)),
                Cell::text(slo),
            ]
        })
        .collect();
    capped(out, &columns, rows);
}

fn datasets(out: &mut String, scenario: &Scenario, estate: &Estate) {
    if estate.datasets.is_empty() {
        return;
    }
    out.push_str("<h3>Datasets</h3>\n");
    let columns = [
        Column::text("dataset"),
        Column::num("size"),
        Column::text("home"),
        Column::text("may live in"),
    ];
    let rows = estate
        .datasets
        .iter()
        .zip(&scenario.spec.datasets)
        .map(|(data, spec)| {
            let home = estate
                .sites
                .get(data.home.index())
                .map_or("", |s| s.name.as_str());
            let residency = if data.residency.is_empty() {
                "anywhere".to_string()
            } else {
                data.residency.join(", ")
            };
            vec![
                Cell::text(&data.name),
                Cell::text(spec.size.to_string()),
                Cell::text(home),
                Cell::text(residency),
            ]
        })
        .collect();
    capped(out, &columns, rows);
}

/// A table of the incidents with their recovery figures, narrow enough for the page; what
/// each affects and the notes on figures that cannot be given follow it as a list (a missing
/// figure also shows its reason as a tooltip).
pub(super) fn incidents(out: &mut String, incidents: &[IncidentSummary]) {
    if incidents.is_empty() {
        out.push_str("<p>The scenario scripts no incidents.</p>\n");
        return;
    }
    let columns = [
        Column::text("incident"),
        Column::text("kind"),
        Column::num("from – to"),
        Column::num("time to detect"),
        Column::num("time to recover"),
        Column::num("backlog drain"),
        Column::num("requests failed"),
        Column::num("degraded"),
        Column::num("jobs inter\u{ad}rupted"),
        Column::num("cost during (USD)"),
    ];
    let rows: Vec<Vec<Cell>> = incidents.iter().map(incident_row).collect();
    table(out, "figures incidents", &columns, &rows);
    out.push_str("<ul class=\"incident-notes\">\n");
    for i in incidents {
        let _ = writeln!(
            out,
            "<li><strong>{}</strong>: {}</li>",
            escape(&i.name),
            escape(&incident_note(i))
        );
    }
    out.push_str("</ul>\n");
}

fn incident_row(i: &IncidentSummary) -> Vec<Cell> {
    let figure = |key: &str, v: Option<f64>| {
        let cell = Cell::text(duration(v));
        match i.notes.get(key) {
            Some(why) if v.is_none() => cell.titled(why),
            _ => cell,
        }
    };
    let end = i.end_s.map_or_else(|| DASH.to_string(), clock);
    vec![
        Cell::text(&i.name),
        Cell::text(i.kind.replace('_', " ")),
        Cell::text(format!("{} – {end}", clock(i.start_s))),
        figure("time_to_detect_s", i.time_to_detect_s),
        figure("time_to_recover_s", i.time_to_recover_s),
        figure("backlog_drain_s", i.backlog_drain_s),
        Cell::text(count(i.requests_failed)),
        Cell::text(count(i.requests_degraded)),
        Cell::text(count(i.jobs_interrupted)),
        Cell::text(usd(i.cost_during_usd)),
    ]
}

/// What an incident affects, and why any of its figures is missing.
fn incident_note(i: &IncidentSummary) -> String {
    let affects = if i.affected_services.is_empty() {
        "affects no service".to_string()
    } else {
        format!("affects {}", clip(&i.affected_services.join(", "), 400))
    };
    let notes = i
        .notes
        .iter()
        .map(|(key, why)| format!("; {}: {why}", key.trim_end_matches("_s").replace('_', " ")));
    std::iter::once(affects).chain(notes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_split_at_blank_lines_labels_and_policy_names() {
        let text = "Drill: a site goes dark. The estate: two regions at 12:00. What the run shows (seed 17): \
                    at 10:00 it fails. The copilot meets its SLO from 12:02: later.\n\nUnder other policies: \
                    cheapest sends it all. failover (copilot: the region) moves. e.g. this stays.";
        let got = paragraphs(text, &["cheapest", "failover"]);
        let leads: Vec<Option<&str>> = got.iter().map(|p| p.lead.as_deref()).collect();
        assert_eq!(
            leads,
            [
                Some("Drill:"),
                Some("The estate:"),
                Some("What the run shows (seed 17):"),
                Some("Under other policies:"),
                Some("failover"),
            ]
        );
        assert_eq!(
            got[2].text,
            "at 10:00 it fails. The copilot meets its SLO from 12:02: later."
        );
        assert_eq!(got[4].text, "(copilot: the region) moves. e.g. this stays.");
        assert_eq!(paragraphs("one\nline", &[])[0].text, "one line");
        assert!(paragraphs("  \n ", &[]).is_empty());
    }

    #[test]
    fn descriptions_are_escaped() {
        let mut out = String::new();
        description(&mut out, "Tom & Jerry: <script>alert(1)</script>", &[]);
        assert!(out.contains("<strong>Tom &amp; Jerry:</strong> &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!out.contains("<script>"));
    }
}
