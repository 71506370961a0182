//! OASIS CACAO 2.0 playbooks: checked, then their workflow walked from `workflow_start` into
//! the ordered steps a case's tasks are made from. A fault is reported with the JSON pointer of
//! the property at fault (`/workflow/action--…/on_completion: step "…" does not exist`).

use std::collections::{BTreeSet, VecDeque};

use serde_json::{Map, Value};

/// The step types of CACAO 2.0 (§4).
const STEP_TYPES: [&str; 8] = [
    "start",
    "end",
    "action",
    "playbook-action",
    "parallel",
    "if-condition",
    "while-condition",
    "switch-condition",
];

/// Properties of a step that name one other step.
const NEXT_ONE: [&str; 5] = [
    "on_completion",
    "on_success",
    "on_failure",
    "on_true",
    "on_false",
];

/// A playbook fault: where (a JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Fault {
    pub path: String,
    pub message: String,
}

fn fault(path: impl Into<String>, message: impl Into<String>) -> Fault {
    Fault {
        path: path.into(),
        message: message.into(),
    }
}

/// A step that becomes a task, in workflow order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub step_type: String,
    pub name: String,
    pub description: Option<String>,
}

/// A checked playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The steps that are work (not start, end or the branching of parallel and conditions),
    /// in the order a breadth-first walk from `workflow_start` reaches them.
    pub steps: Vec<Step>,
    /// The document as received.
    pub document: Value,
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn text<'a>(map: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, Fault> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(fault(format!("{at}/{key}"), "must be a non-empty string")),
        None => Err(fault(format!("{at}/{key}"), "is required")),
    }
}

fn check_id(id: &str, prefix: &str, at: &str) -> Result<(), Fault> {
    let valid = id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix("--"))
        .is_some_and(|uuid| uuid::Uuid::parse_str(uuid).is_ok());
    if valid {
        Ok(())
    } else {
        Err(fault(
            at,
            format!("`{id}` is not an identifier of the form {prefix}--<UUID>"),
        ))
    }
}

/// Checks a CACAO 2.0 playbook and orders its steps.
pub fn parse(text_in: &str) -> Result<Playbook, Fault> {
    let document: Value =
        serde_json::from_str(text_in).map_err(|e| fault("", format!("not JSON: {e}")))?;
    let Value::Object(top) = &document else {
        return Err(fault("", "a playbook is a JSON object"));
    };
    if text(top, "type", "")? != "playbook" {
        return Err(fault("/type", "must be `playbook`"));
    }
    if text(top, "spec_version", "")? != "cacao-2.0" {
        return Err(fault("/spec_version", "must be `cacao-2.0`"));
    }
    let id = text(top, "id", "")?;
    check_id(id, "playbook", "/id")?;
    let name = text(top, "name", "")?;
    for key in ["created", "modified"] {
        stix::Timestamp::parse(text(top, key, "")?)
            .map_err(|e| fault(format!("/{key}"), e.to_string()))?;
    }
    text(top, "created_by", "")?;
    let start = text(top, "workflow_start", "")?;
    let Some(Value::Object(workflow)) = top.get("workflow") else {
        return Err(fault(
            "/workflow",
            "is required and must be an object of steps",
        ));
    };
    for (key, step) in workflow {
        let at = format!("/workflow/{}", pointer_escape(key));
        let Value::Object(step) = step else {
            return Err(fault(at, "a step is an object"));
        };
        let step_type = text(step, "type", &at)?;
        if !STEP_TYPES.contains(&step_type) {
            return Err(fault(
                format!("{at}/type"),
                format!("`{step_type}` is not a CACAO 2.0 step type"),
            ));
        }
        check_id(key, step_type, &at)?;
        for property in NEXT_ONE {
            match step.get(property) {
                None => {}
                Some(Value::String(next)) if workflow.contains_key(next) => {}
                Some(Value::String(next)) => {
                    return Err(fault(
                        format!("{at}/{property}"),
                        format!("step \"{next}\" does not exist"),
                    ))
                }
                Some(_) => return Err(fault(format!("{at}/{property}"), "must be a step id")),
            }
        }
        if let Some(next) = step.get("next_steps") {
            let Value::Array(next) = next else {
                return Err(fault(
                    format!("{at}/next_steps"),
                    "must be a list of step ids",
                ));
            };
            for (i, n) in next.iter().enumerate() {
                match n.as_str() {
                    Some(n) if workflow.contains_key(n) => {}
                    Some(n) => {
                        return Err(fault(
                            format!("{at}/next_steps/{i}"),
                            format!("step \"{n}\" does not exist"),
                        ))
                    }
                    None => return Err(fault(format!("{at}/next_steps/{i}"), "must be a step id")),
                }
            }
        }
        match step_type {
            "parallel" if step.get("next_steps").is_none() => {
                return Err(fault(
                    format!("{at}/next_steps"),
                    "a parallel step names its branches",
                ))
            }
            "if-condition" | "while-condition" => {
                text(step, "condition", &at)?;
            }
            _ => {}
        }
    }
    match workflow
        .get(start)
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
    {
        Some("start") => {}
        Some(other) => {
            return Err(fault(
                "/workflow_start",
                format!("step \"{start}\" is a `{other}` step, not a `start` step"),
            ))
        }
        None => {
            return Err(fault(
                "/workflow_start",
                format!("step \"{start}\" does not exist"),
            ))
        }
    }
    let steps = walk(workflow, start);
    Ok(Playbook {
        id: id.to_owned(),
        name: name.to_owned(),
        description: top
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        steps,
        document: document.clone(),
    })
}

/// Breadth-first from the start, each step once, so parallel branches come in the order they
/// are listed and a loop does not repeat.
fn walk(workflow: &Map<String, Value>, start: &str) -> Vec<Step> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([start.to_owned()]);
    let mut steps = Vec::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(step) = workflow.get(&id) else {
            continue;
        };
        let step_type = step.get("type").and_then(Value::as_str).unwrap_or_default();
        if matches!(step_type, "action" | "playbook-action") {
            steps.push(Step {
                id: id.clone(),
                step_type: step_type.to_owned(),
                name: step
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| id.clone(), str::to_owned),
                description: step
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
        let branches = step
            .get("next_steps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        let following = [
            "on_true",
            "on_false",
            "on_success",
            "on_failure",
            "on_completion",
        ]
        .into_iter()
        .filter_map(|p| step.get(p).and_then(Value::as_str));
        queue.extend(branches.chain(following).map(str::to_owned));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYBOOK: &str = include_str!("../../testdata/cacao/containment.json");

    #[test]
    fn a_playbook_orders_its_work_steps_along_the_workflow() {
        let playbook = parse(PLAYBOOK).unwrap_or_else(|f| panic!("{f}"));
        let names: Vec<&str> = playbook.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Collect the sighting's context",
                "Block the domain at the resolvers",
                "Block the C2 address at the border",
                "Isolate the infected hosts",
                "Tell the partners",
            ]
        );
    }

    #[test]
    fn faults_name_their_json_path() {
        let broken =
            |from: &str, to: &str| parse(&PLAYBOOK.replacen(from, to, 1)).expect_err("refused");
        let missing = broken(
            r#""on_completion": "action--6b617761-6c2d-4000-8000-0000000000a5""#,
            r#""on_completion": "action--6b617761-6c2d-4000-8000-0000000000ff""#,
        );
        assert_eq!(
            missing.to_string(),
            "/workflow/action--6b617761-6c2d-4000-8000-0000000000a4/on_completion: step \"action--6b617761-6c2d-4000-8000-0000000000ff\" does not exist"
        );
        let start = broken(
            r#""workflow_start": "start--6b617761-6c2d-4000-8000-000000000001""#,
            r#""workflow_start": "end--6b617761-6c2d-4000-8000-000000000009""#,
        );
        assert_eq!(start.path, "/workflow_start");
        let kind = broken(r#""type": "parallel""#, r#""type": "fork""#);
        assert!(kind.path.ends_with("/type"), "{kind}");
        let version = broken(
            r#""spec_version": "cacao-2.0""#,
            r#""spec_version": "cacao-1.0""#,
        );
        assert_eq!(version.path, "/spec_version");
        assert_eq!(parse("[").expect_err("refused").path, "");
    }
}
