//! `report.html` in a real browser: headless Debian Chromium opens a run's page and a
//! comparison's page, logs no console message, and draws the text and the charts; at 1300
//! pixels wide no page or table scrolls sideways and every chart's text, its legend included,
//! lies inside the chart's canvas.
//!
//! A custom harness (libtest-mimic), so that a machine without Chromium shows the test as
//! *ignored*, with the reason printed, rather than passing it silently. Under `CI=true` a missing
//! Chromium is a failure: `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

const DRILL: &str = "scenarios/drills/eu-outage-dual.ron";

fn main() {
    let arguments = Arguments::from_args();
    let present = Path::new(CHROMIUM).exists();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !present && !in_ci {
        println!(
            "note: {CHROMIUM} not found, so the browser test is ignored; \
             install Debian's chromium (apt-get install chromium) to run it"
        );
    }
    let trial = Trial::test(
        "a_headless_browser_shows_the_report_without_console_errors",
        || {
            if !Path::new(CHROMIUM).exists() {
                return Err(Failed::from(format!(
                    "{CHROMIUM} not found, and CI=true requires the browser test: \
                 .ci/run installs Debian's chromium"
                )));
            }
            a_headless_browser_shows_the_report_without_console_errors();
            Ok(())
        },
    )
    .with_ignored_flag(!present && !in_ci);
    libtest_mimic::run(&arguments, vec![trial]).exit();
}

fn hybridsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs `hybridsim run --quiet --out DIR EXTRA…` and expects success.
fn run_into(dir: &Path, extra: &[&str]) {
    let mut args = vec!["run", "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let result = hybridsim(&args);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Loads `url` in headless Chromium, saves a `width`×`height` screenshot to `png` and returns
/// what Chromium logged. Gives up after two minutes.
fn chromium(url: &str, png: &Path, profile: &Path, (width, height): (u32, u32)) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut text);
        text
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("chromium runs") {
            let log = reader.join().expect("stderr is read");
            assert!(status.success(), "chromium failed ({status}):\n{log}");
            return log;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within two minutes on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Messages the page sent to the console, and uncaught errors, from Chromium's log. Chromium
/// writes every console message (log, warning or error) as
/// `[…:INFO:CONSOLE:2] "message", source: file:///…/page.html (2)` — older versions as
/// `…:CONSOLE(2)] …` — and an uncaught exception as a console message starting "Uncaught".
/// The report runs no script, so any of them is a failure.
fn console_messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

/// Measures a page's layout in the browser: a copy of `page` beside it (so its links still
/// resolve) with a script appended that logs, as one console line, how many chart texts it
/// checked and every problem — the page or a table wider than its box, or a chart's text
/// outside its canvas. Returns (texts checked, problems). The report itself runs no script.
fn layout_problems(page: &Path, root: &Path, name: &str) -> (usize, Vec<String>) {
    const PROBE: &str = r#"<script>(function () {
  var d = document.documentElement, bad = [], texts = 0;
  if (d.scrollWidth > d.clientWidth) bad.push('the page scrolls: ' + d.scrollWidth + ' > ' + d.clientWidth);
  document.querySelectorAll('.scroll').forEach(function (e) {
    if (e.scrollWidth > e.clientWidth + 1) {
      var t = e.querySelector('table');
      bad.push('table.' + (t ? t.className.replace(/ /g, '.') : '?') + ' scrolls: ' + e.scrollWidth + ' > ' + e.clientWidth);
    }
  });
  document.querySelectorAll('svg').forEach(function (svg, i) {
    // On-screen boxes, so that rotated axis titles and the page's scaling are accounted for.
    var c = svg.getBoundingClientRect();
    svg.querySelectorAll('text').forEach(function (t) {
      texts++;
      var b = t.getBoundingClientRect();
      if (b.left < c.left - 1 || b.top < c.top - 1 || b.right > c.right + 1 || b.bottom > c.bottom + 1) {
        bad.push('chart ' + i + ': [' + t.textContent.replace(/\s+/g, ' ').trim() + '] at ' +
          [b.left - c.left, b.top - c.top, b.width, b.height].map(Math.round) + ' outside ' +
          Math.round(c.width) + 'x' + Math.round(c.height));
      }
    });
  });
  console.log('LAYOUT texts=' + texts + ' problems: ' + bad.join(' | '));
})();</script>"#;
    let html = std::fs::read_to_string(page).unwrap();
    let probe = page.with_file_name(format!("probe-{name}.html"));
    std::fs::write(&probe, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let log = chromium(
        &file_url(&probe),
        &root.join(format!("probe-{name}.png")),
        &root.join(format!("profile-probe-{name}")),
        (1300, 2_000),
    );
    let line = log
        .lines()
        .find_map(|l| l.split_once("LAYOUT texts=").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("{name}: the layout probe logged nothing:\n{log}"));
    let (texts, problems) = line.split_once(" problems: ").expect("the probe's format");
    let texts: usize = texts.parse().expect("a count");
    // Chromium quotes the message and appends its source.
    let problems = problems
        .split("\", source:")
        .next()
        .unwrap_or("")
        .trim_end_matches('"');
    let problems = problems
        .split(" | ")
        .filter(|p| !p.trim().is_empty())
        .map(str::to_string)
        .collect();
    (texts, problems)
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// The page's background around the report's white sheet (`html { background }`).
const BACKGROUND: (u8, u8, u8) = (0xf4, 0xf5, 0xf7);

/// Pixels of the PNG at `path`: (width, height, drawn — neither white nor background —,
/// strongly coloured).
fn pixel_counts(path: &Path) -> (u32, u32, usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let (mut ink, mut colour) = (0, 0);
    for px in buffer[..info.buffer_size()].chunks(channels) {
        let (r, g, b) = (px[0], px[1], px[2]);
        if (r, g, b) != (255, 255, 255) && (r, g, b) != BACKGROUND {
            ink += 1;
        }
        if r.max(g).max(b) - r.min(g).min(b) > 60 {
            colour += 1;
        }
    }
    (info.width, info.height, ink, colour)
}

/// Opens a run's page and a comparison's page in headless Chromium: no console message, and a
/// screenshot with the page's text and its charts' colours.
fn a_headless_browser_shows_the_report_without_console_errors() {
    let root = tempfile::tempdir().unwrap();
    // The check must be able to fail: a page with a deliberate console error is caught.
    let bad = root.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><title>t</title><p>x</p><script>console.error('deliberate error'); nope();</script>",
    )
    .unwrap();
    let log = chromium(
        &file_url(&bad),
        &root.path().join("bad.png"),
        &root.path().join("profile-bad"),
        (400, 300),
    );
    let caught = console_messages(&log);
    assert!(
        caught.iter().any(|l| l.contains("deliberate error"))
            && caught.iter().any(|l| l.contains("Uncaught")),
        "the console check no longer sees console errors in chromium's log:\n{log}"
    );

    // The layout check must be able to fail too: a table wider than its box and a text
    // outside its canvas are both caught.
    let cramped = root.path().join("cramped.html");
    std::fs::write(
        &cramped,
        "<!DOCTYPE html><title>t</title><body><div class=\"scroll\" style=\"overflow-x:auto;width:100px\">\
         <table class=\"wide\"><tr><td style=\"white-space:nowrap\">a cell far wider than its box</td></tr></table></div>\
         <svg width=\"100\" height=\"50\" viewBox=\"0 0 100 50\"><text x=\"90\" y=\"20\">a legend past the edge</text></svg></body>",
    )
    .unwrap();
    let (texts, problems) = layout_problems(&cramped, root.path(), "cramped");
    assert_eq!(texts, 1);
    assert_eq!(
        problems.len(),
        2,
        "the layout probe misses what it should catch: {problems:#?}"
    );

    let out: PathBuf = root.path().join("run");
    run_into(&out, &[DRILL, "--policy", "failover"]);
    let (texts, problems) = layout_problems(&out.join("report.html"), root.path(), "run");
    assert!(texts > 100, "only {texts} chart texts checked");
    assert!(problems.is_empty(), "the run's page at 1300 px: {problems:#?}");
    let quickstart = root.path().join("quickstart");
    run_into(&quickstart, &[]);
    let (_, problems) = layout_problems(&quickstart.join("report.html"), root.path(), "quickstart");
    assert!(
        problems.is_empty(),
        "the quickstart's page at 1300 px: {problems:#?}"
    );
    // Tall enough to hold the whole page, charts included (about 9,500 pixels).
    let screenshot = root.path().join("report.png");
    let log = chromium(
        &file_url(&out.join("report.html")),
        &screenshot,
        &root.path().join("profile"),
        (1280, 12_000),
    );
    let errors = console_messages(&log);
    assert!(errors.is_empty(), "console messages: {errors:#?}");
    let (width, height, ink, colour) = pixel_counts(&screenshot);
    assert_eq!((width, height), (1280, 12_000));
    let pixels = (width * height) as usize;
    assert!(
        ink > pixels / 50,
        "the page is mostly blank: {ink} of {pixels} pixels drawn"
    );
    assert!(
        colour > 100_000,
        "the charts' coloured areas are missing: {colour} strongly coloured pixels"
    );

    // The comparison's page: the runs' lines on shared axes, and no console errors either.
    let compared = root.path().join("compared");
    let result = hybridsim(&[
        "compare",
        "--quiet",
        "--out",
        compared.to_str().unwrap(),
        DRILL,
        "--policy",
        "lowest_latency,failover",
    ]);
    assert_eq!(result.status.code(), Some(0));
    let (texts, problems) = layout_problems(&compared.join("report.html"), root.path(), "comparison");
    assert!(texts > 100, "only {texts} chart texts checked");
    assert!(
        problems.is_empty(),
        "the comparison's page at 1300 px: {problems:#?}"
    );
    let screenshot = root.path().join("comparison.png");
    let log = chromium(
        &file_url(&compared.join("report.html")),
        &screenshot,
        &root.path().join("profile-comparison"),
        (1280, 8_000),
    );
    let errors = console_messages(&log);
    assert!(errors.is_empty(), "console messages: {errors:#?}");
    let (_, _, ink, colour) = pixel_counts(&screenshot);
    assert!(
        ink > 1280 * 8_000 / 50,
        "the comparison page is mostly blank: {ink}"
    );
    assert!(colour > 20_000, "the comparison charts are missing: {colour}");
}
