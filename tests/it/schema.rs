//! The scenario format reference is generated from the parser's types and kept in the repo.

fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.extend(v.as_str().map(str::to_owned));
                }
                refs(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&standin::scenario::schema()).unwrap() + "\n";
    let committed = std::fs::read_to_string("docs/scenario.schema.json").unwrap();
    assert!(
        committed == generated,
        "docs/scenario.schema.json is stale: run `cargo run -- schema > docs/scenario.schema.json`"
    );
}

#[test]
fn every_reference_resolves_and_every_profile_has_its_options() {
    let schema = standin::scenario::schema();
    let mut all = Vec::new();
    refs(&schema, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(schema.pointer(pointer).is_some(), "{r} does not resolve");
    }
    let per_profile = schema.pointer("/$defs/StandFields/allOf").unwrap().as_array().unwrap();
    assert_eq!(per_profile.len(), standin::profiles::ALL.len());
    let junos = &per_profile[0]["then"]["properties"]["options"]["properties"];
    assert!(junos.get("cookie_style").is_some(), "{junos}");
}

#[test]
fn the_readme_scenario_example_is_a_valid_scenario() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("```toml\nseed = 42").expect("the README's scenario example") + "```toml\n".len();
    let len = readme[start..].find("```").unwrap();
    let scenario = standin::Scenario::parse(&readme[start..start + len], "README.md").unwrap_or_else(|e| panic!("{e}"));
    let stand = &scenario.stands[0];
    assert_eq!((stand.resources.len(), stand.faults.len(), stand.journal), (1, 1, 1000));
}
