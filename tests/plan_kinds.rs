//! Scenario kinds, as `list`, the harness and reports show them: derived from what the steps
//! expect (an error status or no response makes a scenario `negative`), unless the scenario
//! declares its `kind` because its refusal is not an error status (an OAuth error redirect).

use std::path::Path;

use authconform::scenario::model::{ExpectedOutcome, ScenarioKind};
use authconform::{Target, load_plan};

#[test]
fn kinds_are_derived_from_expectations_or_declared() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_plan(
        &root.join("specs"),
        &root.join("scenarios"),
        Target::mock(),
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let find = |trial: &str| {
        plan.scenarios
            .iter()
            .find(|s| s.trial_name() == trial)
            .unwrap_or_else(|| panic!("no scenario `{trial}`"))
    };
    for (trial, kind) in [
        ("demo::basic::valid-credentials", "happy"),
        ("demo::basic::wrong-password", "negative"),
        ("demo::allowlist::unlisted-source-times-out", "negative"),
        (
            "monerium::authorization_code::plain-method-refused",
            "negative",
        ),
    ] {
        assert_eq!(find(trial).kind().as_str(), kind, "{trial}");
    }
    // The error redirect's statuses alone would make it `happy`: the declaration decides.
    let declared = find("monerium::authorization_code::plain-method-refused");
    assert_eq!(declared.scenario.kind, Some(ScenarioKind::Negative));
    let derivable = declared.scenario.steps.iter().any(|s| {
        s.expect.as_ref().is_some_and(|e| {
            e.outcome != ExpectedOutcome::Response
                || e.status
                    .as_ref()
                    .is_some_and(|set| set.0.iter().all(|c| c.lowest() >= 400))
        })
    });
    assert!(!derivable, "its steps expect no error status");
}
