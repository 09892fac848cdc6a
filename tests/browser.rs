//! `report.html` in a real browser: headless Debian Chromium opens a run's page and a
//! comparison's page, logs no console message, and draws the text and the charts.
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

    let out: PathBuf = root.path().join("run");
    run_into(&out, &[DRILL, "--policy", "failover"]);
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
