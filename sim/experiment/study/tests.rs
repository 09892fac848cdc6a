//! Tests of study files: loading, the checks and their diagnostics, the grid of points and
//! runs, and the scenario at a point.

use super::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn combinations_are_decoded_first_parameter_slowest() {
    let grid = Combinations {
        how: Combine::Grid,
        sizes: vec![2, 3],
    };
    let all: Vec<Vec<usize>> = (0..grid.len()).map(|i| grid.get(i)).collect();
    assert_eq!(all, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
    let zip = Combinations {
        how: Combine::Zip,
        sizes: vec![3, 3],
    };
    assert_eq!((zip.len(), zip.get(2)), (3, vec![2, 2]));
    let none = Combinations {
        how: Combine::Grid,
        sizes: Vec::new(),
    };
    assert_eq!((none.len(), none.get(0)), (1, Vec::<usize>::new()));
}

#[test]
fn every_bundled_scenario_survives_the_round_trip_through_a_point() {
    let mut checked = 0;
    let mut stack = vec![root().join("scenarios")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "ron")
                || path.starts_with(root().join("scenarios/studies"))
            {
                continue;
            }
            let base = scenario::load(&path).unwrap();
            let study = Study {
                spec: crate::vocab::ron_options()
                    .from_str("(name: \"t\", scenario: \"x\")")
                    .unwrap(),
                path: path.clone(),
                text: String::new(),
                base_text: String::new(),
                parameters: Vec::new(),
                combinations: Combinations {
                    how: Combine::Grid,
                    sizes: Vec::new(),
                },
                variants: vec![Variant {
                    name: String::new(),
                    set: Vec::new(),
                }],
                policies: vec!["lowest_latency".into()],
                seeds: vec![1],
                base: base.clone(),
            };
            let again = study
                .scenario_at(0)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                serde_json::to_value(&again.spec).unwrap(),
                serde_json::to_value(&base.spec).unwrap(),
                "{}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
}
