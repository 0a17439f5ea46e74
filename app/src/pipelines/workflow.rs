//! A pipeline as Argo Workflows runs it: a `WorkflowTemplate` whose
//! entrypoint is a DAG with one task per step, each task running a template
//! of its own (a container, or a script). Reading one back gives the same
//! pipeline, so a template edited as YAML returns to the diagram; what the
//! diagram cannot show is named, never dropped silently.

use super::model::{DEFAULT_CPU, DEFAULT_MEMORY, Param, Pipeline, Step, Work, split_command};
use serde_json::{Value, json};

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
/// The DAG template every pipeline starts at.
pub const ENTRYPOINT: &str = "main";
/// Marks objects the portal writes.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "atrium");
const DESCRIPTION: &str = "atrium.io/description";
/// The notebook file a step runs (lineage: the run page lists them).
pub const NOTEBOOK: &str = "atrium.io/notebook";
/// The label a step's pod carries with its step's name.
pub const STEP_LABEL: &str = "atrium.io/step";
/// Where a notebook step writes the executed notebook.
const EXECUTED: &str = "/tmp/executed.ipynb";
/// The MLflow run tag naming the pipeline run a run was logged from
/// (lineage: the MLflow run's page links to the pipeline run, and back).
pub const PIPELINE_RUN_TAG: &str = "atrium.pipeline-run";
/// The Secret holding a token of the team namespace's `default`
/// ServiceAccount, which pipeline steps run as: their MLflow token.
pub const TRACKING_SECRET: &str = "pipeline-mlflow";
/// The label Argo gives a run's pods, naming the run.
const WORKFLOW_LABEL: &str = "workflows.argoproj.io/workflow";

/// Lets every step of a run log to the team's MLflow workspace with a plain
/// MLflow client, as notebooks do: a pod spec patch (Argo applies it to each
/// step's pod) giving the `main` container the portal's gateway address, the
/// workspace, the token of [`TRACKING_SECRET`] and, as `MLFLOW_RUN_CONTEXT`
/// (tags MLflow's client adds to every run it starts), the run's name read by
/// the kubelet from the pod's own label. The saved pipeline is untouched, so
/// its YAML still round-trips.
pub fn tracking_patch(tracking_uri: &str, team: &str) -> String {
    json!({ "containers": [{ "name": "main", "env": [
        { "name": "MLFLOW_TRACKING_URI", "value": tracking_uri },
        { "name": "MLFLOW_WORKSPACE", "value": team },
        { "name": "MLFLOW_TRACKING_TOKEN", "valueFrom": { "secretKeyRef": { "name": TRACKING_SECRET, "key": "token", "optional": true } } },
        { "name": "ATRIUM_PIPELINE_RUN", "valueFrom": { "fieldRef": { "fieldPath": format!("metadata.labels['{WORKFLOW_LABEL}']") } } },
        { "name": "MLFLOW_RUN_CONTEXT", "value": format!("{{\"{PIPELINE_RUN_TAG}\": \"$(ATRIUM_PIPELINE_RUN)\"}}") },
    ]}]})
    .to_string()
}

/// A run (a `Workflow`, or a `CronWorkflow`'s runs) whose steps log to
/// MLflow (see [`tracking_patch`]); unchanged without a tracking address.
pub fn with_tracking(mut object: Value, tracking_uri: Option<&str>, team: &str) -> Value {
    if let Some(uri) = tracking_uri {
        let spec = if object["kind"] == "CronWorkflow" { &mut object["spec"]["workflowSpec"] } else { &mut object["spec"] };
        spec["podSpecPatch"] = json!(tracking_patch(uri, team));
    }
    object
}

pub fn api_resource(kind: &str) -> kube::discovery::ApiResource {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    kube::discovery::ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: kind.into(),
        plural,
    }
}

/// The name of a step's template (tasks and templates share no names with
/// the entrypoint this way).
fn template_name(step: &str) -> String {
    format!("step-{step}")
}

/// The WorkflowTemplate for `p` in namespace `team` (checked beforehand:
/// `Pipeline::problems` is empty).
pub fn to_template(p: &Pipeline, team: &str) -> Value {
    let tasks: Vec<Value> = p
        .steps
        .iter()
        .map(|s| {
            let mut t = json!({ "name": s.name, "template": template_name(&s.name) });
            if !s.after.is_empty() {
                t["dependencies"] = json!(s.after);
            }
            t
        })
        .collect();
    let mut templates = vec![json!({ "name": ENTRYPOINT, "dag": { "tasks": tasks } })];
    templates.extend(p.steps.iter().map(step_template));
    let mut meta = json!({ "name": p.name, "namespace": team, "labels": { MANAGED_BY.0: MANAGED_BY.1 } });
    if !p.description.trim().is_empty() {
        meta["annotations"] = json!({ DESCRIPTION: p.description.trim() });
    }
    let mut spec = json!({ "entrypoint": ENTRYPOINT, "templates": templates });
    if !p.params.is_empty() {
        spec["arguments"] = json!({ "parameters": p.params.iter().map(|x| json!({ "name": x.name, "value": x.default })).collect::<Vec<_>>() });
    }
    json!({ "apiVersion": format!("{GROUP}/{VERSION}"), "kind": "WorkflowTemplate", "metadata": meta, "spec": spec })
}

fn step_template(s: &Step) -> Value {
    let cpu = if s.cpu.trim().is_empty() { DEFAULT_CPU } else { s.cpu.trim() };
    let memory = if s.memory.trim().is_empty() { DEFAULT_MEMORY } else { s.memory.trim() };
    let mut limits = json!({ "cpu": cpu, "memory": memory });
    if s.gpus > 0 {
        limits["nvidia.com/gpu"] = json!(s.gpus.to_string());
    }
    let mut body = json!({
        "image": s.image,
        "resources": { "requests": { "cpu": cpu, "memory": memory }, "limits": limits },
    });
    if !s.env.is_empty() {
        body["env"] = json!(s.env.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>());
    }
    if !s.connections.is_empty() {
        body["envFrom"] = json!(s.connections.iter().map(|c| json!({ "secretRef": { "name": c } })).collect::<Vec<_>>());
    }
    let mut t = json!({ "name": template_name(&s.name), "metadata": { "labels": { STEP_LABEL: s.name } } });
    match &s.work {
        Work::Command(line) => {
            body["command"] = json!(split_command(line).unwrap_or_default());
            t["container"] = body;
        }
        Work::Script(source) => {
            body["command"] = json!(["python"]);
            body["source"] = json!(source);
            t["script"] = body;
        }
        Work::Notebook(path) => {
            body["command"] = json!(["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", EXECUTED, path.trim()]);
            t["container"] = body;
            t["metadata"]["annotations"] = json!({ NOTEBOOK: path.trim() });
        }
    }
    if s.retries > 0 {
        t["retryStrategy"] = json!({ "limit": s.retries.to_string() });
    }
    if let Some(secs) = s.timeout_seconds {
        t["activeDeadlineSeconds"] = json!(secs);
    }
    t
}

/// The pipeline a WorkflowTemplate holds, or what in it the editor cannot
/// show (so an edit in YAML never silently loses anything).
pub fn from_template(t: &Value) -> Result<Pipeline, String> {
    if t["kind"].as_str() != Some("WorkflowTemplate") {
        return Err("This is not a WorkflowTemplate (kind: WorkflowTemplate).".into());
    }
    let spec = &t["spec"];
    let entry = spec["entrypoint"].as_str().ok_or("The template names no entrypoint.")?;
    let templates = spec["templates"].as_array().ok_or("The template has no templates.")?;
    let find = |name: &str| templates.iter().find(|x| x["name"].as_str() == Some(name));
    let main = find(entry).ok_or_else(|| format!("The entrypoint “{entry}” is not one of the templates."))?;
    let tasks = main["dag"]["tasks"].as_array().ok_or_else(|| format!("The entrypoint “{entry}” is not a DAG; only DAG pipelines can be edited here."))?;
    let known_spec = ["entrypoint", "templates", "arguments"];
    if let Some(other) = spec.as_object().and_then(|o| o.keys().find(|k| !known_spec.contains(&k.as_str()))) {
        return Err(format!("The editor cannot keep “spec.{other}”; remove it or edit this pipeline as YAML only."));
    }
    let mut steps = Vec::new();
    for task in tasks {
        let name = task["name"].as_str().ok_or("A task has no name.")?.to_string();
        if let Some(other) = task.as_object().and_then(|o| o.keys().find(|k| !["name", "template", "dependencies"].contains(&k.as_str()))) {
            return Err(format!("Step “{name}”: the editor cannot keep “{other}” (use dependencies between steps)."));
        }
        let tname = task["template"].as_str().ok_or_else(|| format!("Step “{name}” names no template."))?;
        let tpl = find(tname).ok_or_else(|| format!("Step “{name}” runs “{tname}”, which is not one of the templates."))?;
        steps.push(read_step(name, task, tpl)?);
    }
    let used: Vec<&str> = tasks.iter().filter_map(|t| t["template"].as_str()).chain([entry]).collect();
    if let Some(extra) = templates.iter().filter_map(|x| x["name"].as_str()).find(|n| !used.contains(n)) {
        return Err(format!("The template “{extra}” is run by no step; remove it."));
    }
    let params = spec["arguments"]["parameters"]
        .as_array()
        .map(|ps| ps.iter().map(|p| Param { name: p["name"].as_str().unwrap_or_default().into(), default: value_text(&p["value"]) }).collect())
        .unwrap_or_default();
    Ok(Pipeline {
        name: t["metadata"]["name"].as_str().unwrap_or_default().into(),
        description: t["metadata"]["annotations"][DESCRIPTION].as_str().unwrap_or_default().into(),
        params,
        steps,
    })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn read_step(name: String, task: &Value, tpl: &Value) -> Result<Step, String> {
    let known = ["name", "metadata", "container", "script", "retryStrategy", "activeDeadlineSeconds"];
    if let Some(other) = tpl.as_object().and_then(|o| o.keys().find(|k| !known.contains(&k.as_str()))) {
        return Err(format!("Step “{name}”: the editor cannot keep “{other}” of its template."));
    }
    let (body, script) = match (&tpl["container"], &tpl["script"]) {
        (c @ Value::Object(_), Value::Null) => (c, false),
        (Value::Null, s @ Value::Object(_)) => (s, true),
        _ => return Err(format!("Step “{name}” must run one container or one script.")),
    };
    let known_body = ["image", "command", "args", "source", "env", "envFrom", "resources"];
    if let Some(other) = body.as_object().and_then(|o| o.keys().find(|k| !known_body.contains(&k.as_str()))) {
        return Err(format!("Step “{name}”: the editor cannot keep “{other}” of its container."));
    }
    let words: Vec<String> = body["command"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(body["args"].as_array().into_iter().flatten())
        .map(value_text)
        .collect();
    let notebook = tpl["metadata"]["annotations"][NOTEBOOK].as_str();
    let work = if script {
        if words != ["python"] {
            return Err(format!("Step “{name}”: only Python scripts (command: [python]) can be edited here."));
        }
        Work::Script(body["source"].as_str().unwrap_or_default().into())
    } else if let Some(path) = notebook {
        Work::Notebook(path.into())
    } else {
        Work::Command(words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
    };
    let env = body["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            if e.get("valueFrom").is_some() {
                Err(format!("Step “{name}”: the variable “{}” comes from elsewhere (valueFrom), which the editor cannot keep.", e["name"].as_str().unwrap_or("?")))
            } else {
                Ok((e["name"].as_str().unwrap_or_default().to_string(), value_text(&e["value"])))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let connections = body["envFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            // Only `{ secretRef: { name } }` is a data connection.
            let only = |v: &Value, key: &str| v.as_object().is_some_and(|o| o.len() == 1 && o.contains_key(key));
            match e["secretRef"]["name"].as_str() {
                Some(n) if only(e, "secretRef") && only(&e["secretRef"], "name") => Ok(n.to_string()),
                _ => Err(format!("Step “{name}”: the editor keeps only data connections in envFrom (a secretRef with a name).")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let res = &body["resources"];
    let retries = match &tpl["retryStrategy"]["limit"] {
        Value::Null => 0,
        v => value_text(v).parse().map_err(|_| format!("Step “{name}”: the retry limit “{}” is not a number.", value_text(v)))?,
    };
    Ok(Step {
        image: body["image"].as_str().unwrap_or_default().into(),
        work,
        after: task["dependencies"].as_array().into_iter().flatten().filter_map(|d| d.as_str().map(String::from)).collect(),
        env,
        connections,
        cpu: value_text(&res["requests"]["cpu"]),
        memory: value_text(&res["requests"]["memory"]),
        gpus: value_text(&res["limits"]["nvidia.com/gpu"]).parse().unwrap_or(0),
        retries,
        timeout_seconds: tpl["activeDeadlineSeconds"].as_u64(),
        name,
    })
}

/// A word as a shell would need it written to stay one word.
fn quote(w: &str) -> String {
    if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+{}".contains(c)) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// A run of `template` with `params` (name, value): a Workflow that refers
/// to the template, so what ran is what was saved.
pub fn run_of(template: &str, team: &str, params: &[(String, String)], by: &str) -> Value {
    let mut spec = json!({ "workflowTemplateRef": { "name": template } });
    if !params.is_empty() {
        spec["arguments"] = json!({ "parameters": params.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>() });
    }
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "Workflow",
        "metadata": {
            "generateName": format!("{template}-"),
            "namespace": team,
            "labels": { MANAGED_BY.0: MANAGED_BY.1, "workflows.argoproj.io/workflow-template": template },
            "annotations": { "atrium.io/started-by": by },
        },
        "spec": spec,
    })
}

/// The label a schedule carries with its pipeline's name.
pub const PIPELINE_LABEL: &str = "atrium.io/pipeline";

/// The `CronWorkflow` that runs pipeline `template` on schedule `s` (checked
/// beforehand). Its runs carry the same labels as runs started by hand, and
/// say which schedule started them.
pub fn schedule_of(s: &super::schedules::Schedule, template: &str, team: &str, by: &str) -> Value {
    let mut workflow = json!({ "workflowTemplateRef": { "name": template } });
    if !s.params.is_empty() {
        workflow["arguments"] = json!({ "parameters": s.params.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>() });
    }
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "CronWorkflow",
        "metadata": {
            "name": s.name,
            "namespace": team,
            "labels": { MANAGED_BY.0: MANAGED_BY.1, PIPELINE_LABEL: template },
            "annotations": { "atrium.io/created-by": by },
        },
        "spec": {
            "schedules": [s.cron.trim()],
            "timezone": s.timezone.trim(),
            "concurrencyPolicy": s.concurrency.as_str(),
            "suspend": s.suspended,
            "successfulJobsHistoryLimit": s.keep,
            "failedJobsHistoryLimit": s.keep,
            "workflowMetadata": {
                "labels": { MANAGED_BY.0: MANAGED_BY.1, "workflows.argoproj.io/workflow-template": template },
                "annotations": { "atrium.io/started-by": format!("schedule {}", s.name) },
            },
            "workflowSpec": workflow,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pipeline {
        Pipeline {
            name: "churn".into(),
            description: "Daily churn model".into(),
            params: vec![Param { name: "day".into(), default: "2026-11-29".into() }],
            steps: vec![
                Step {
                    name: "fetch".into(),
                    image: "quay.io/jupyter/scipy-notebook:2025-10-20".into(),
                    work: Work::Command("python fetch.py --day {{workflow.parameters.day}}".into()),
                    env: vec![("MODE".into(), "full".into())],
                    connections: vec!["s3-raw".into()],
                    ..Default::default()
                },
                Step {
                    name: "clean".into(),
                    image: "quay.io/jupyter/scipy-notebook:2025-10-20".into(),
                    work: Work::Script("import pandas\nprint('clean')\n".into()),
                    after: vec!["fetch".into()],
                    cpu: "2".into(),
                    memory: "4Gi".into(),
                    gpus: 1,
                    retries: 2,
                    timeout_seconds: Some(600),
                    ..Default::default()
                },
                Step {
                    name: "report".into(),
                    image: "quay.io/jupyter/scipy-notebook:2025-10-20".into(),
                    work: Work::Notebook("notebooks/report.ipynb".into()),
                    after: vec!["clean".into(), "fetch".into()],
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn a_pipeline_becomes_a_dag_template_and_comes_back_the_same() {
        let p = sample();
        let t = to_template(&p, "team-a");
        assert_eq!(t["spec"]["entrypoint"], "main");
        assert_eq!(t["spec"]["templates"][0]["dag"]["tasks"][2]["dependencies"], json!(["clean", "fetch"]));
        assert_eq!(t["spec"]["templates"][2]["script"]["command"], json!(["python"]));
        assert_eq!(t["spec"]["templates"][2]["retryStrategy"]["limit"], "2");
        assert_eq!(t["spec"]["templates"][2]["script"]["resources"]["limits"]["nvidia.com/gpu"], "1");
        assert_eq!(t["spec"]["templates"][1]["container"]["resources"]["requests"]["cpu"], DEFAULT_CPU, "a default request");
        assert_eq!(t["spec"]["templates"][1]["container"]["envFrom"], json!([{ "secretRef": { "name": "s3-raw" } }]));
        let mut back = from_template(&t).unwrap();
        // A command comes back as words a shell would read the same way.
        let mut quoted = p.clone();
        quoted.steps[0].work = Work::Command("echo 'two words' \"it's\"".into());
        let again = from_template(&to_template(&quoted, "team-a")).unwrap();
        assert_eq!(again.steps[0].work, Work::Command(r"echo 'two words' 'it'\''s'".into()));
        // Defaults are written out; everything else is as it was.
        back.steps[0].cpu.clear();
        back.steps[0].memory.clear();
        back.steps[2].cpu.clear();
        back.steps[2].memory.clear();
        assert_eq!(back, p);
    }

    #[test]
    fn the_yaml_tab_round_trips_and_names_its_mistakes() {
        let p = sample();
        let yaml = serde_saphyr::to_string(&to_template(&p, "team-a")).unwrap();
        assert!(yaml.contains("kind: WorkflowTemplate"), "{yaml}");
        let back: Value = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(from_template(&back).unwrap(), from_template(&to_template(&p, "team-a")).unwrap());
        // A mistake in the YAML is named.
        let edited = yaml.replacen("kind: WorkflowTemplate", "kind: WorkflowTemplat", 1);
        let v: Value = serde_saphyr::from_str(&edited).unwrap();
        assert!(from_template(&v).unwrap_err().contains("not a WorkflowTemplate"));
        assert!(serde_saphyr::from_str::<Value>("spec: [unclosed").is_err());
    }

    #[test]
    fn what_the_editor_cannot_show_is_named() {
        let mut t = to_template(&sample(), "team-a");
        t["spec"]["templates"][1]["container"]["volumeMounts"] = json!([]);
        assert_eq!(from_template(&t).unwrap_err(), "Step “fetch”: the editor cannot keep “volumeMounts” of its container.");
        let mut t = to_template(&sample(), "team-a");
        t["spec"]["templates"][1]["container"]["envFrom"] = json!([{ "configMapRef": { "name": "settings" } }]);
        assert!(from_template(&t).unwrap_err().contains("only data connections in envFrom"));
        let mut t = to_template(&sample(), "team-a");
        t["spec"]["onExit"] = json!("cleanup");
        assert!(from_template(&t).unwrap_err().contains("spec.onExit"));
        let mut t = to_template(&sample(), "team-a");
        t["spec"]["templates"][0] = json!({ "name": "main", "steps": [] });
        assert!(from_template(&t).unwrap_err().contains("not a DAG"));
        assert!(from_template(&json!({ "kind": "Pod" })).unwrap_err().contains("not a WorkflowTemplate"));
    }

    #[test]
    fn runs_log_to_mlflow_as_the_team_with_their_own_name_as_a_tag() {
        let w = with_tracking(run_of("churn", "team-a", &[], "dave"), Some("http://portal/mlflow/team-a"), "team-a");
        let patch: Value = serde_json::from_str(w["spec"]["podSpecPatch"].as_str().unwrap()).unwrap();
        let env = patch["containers"][0]["env"].as_array().unwrap();
        let get = |n: &str| env.iter().find(|e| e["name"] == n).unwrap().clone();
        assert_eq!(patch["containers"][0]["name"], "main", "Argo's main container, not its wait or init");
        assert_eq!(get("MLFLOW_TRACKING_URI")["value"], "http://portal/mlflow/team-a");
        assert_eq!(get("MLFLOW_TRACKING_TOKEN")["valueFrom"]["secretKeyRef"]["name"], TRACKING_SECRET);
        // The kubelet expands $(VAR) of variables defined before it.
        let at = |n: &str| env.iter().position(|e| e["name"] == n).unwrap();
        assert!(at("ATRIUM_PIPELINE_RUN") < at("MLFLOW_RUN_CONTEXT"));
        assert_eq!(get("MLFLOW_RUN_CONTEXT")["value"], "{\"atrium.pipeline-run\": \"$(ATRIUM_PIPELINE_RUN)\"}");
        assert_eq!(get("ATRIUM_PIPELINE_RUN")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.labels['workflows.argoproj.io/workflow']");
        let plain = with_tracking(run_of("churn", "team-a", &[], "dave"), None, "team-a");
        assert!(plain["spec"].get("podSpecPatch").is_none(), "no MLflow, no patch");
    }

    #[test]
    fn a_run_refers_to_its_template_with_the_values_given() {
        let w = run_of("churn", "team-a", &[("day".into(), "2026-12-01".into())], "dave");
        assert_eq!(w["spec"]["workflowTemplateRef"]["name"], "churn");
        assert_eq!(w["spec"]["arguments"]["parameters"][0], json!({ "name": "day", "value": "2026-12-01" }));
        assert_eq!(w["metadata"]["generateName"], "churn-");
    }
}
