//! Elyra `.pipeline` files (pipeline-flow v3 JSON, as JupyterLab's Elyra
//! visual editor saves them), read into a pipeline and written back. Generic
//! nodes (a notebook, a Python or R script, with a runtime image, resources
//! and environment variables) become steps; links become "runs after".
//! Everything else is named in a report, never dropped silently.

use super::model::{Param, Pipeline, Step, Work};
use serde_json::{Value, json};

const NOTEBOOK_OP: &str = "execute-notebook-node";
const PYTHON_OP: &str = "execute-python-node";
const R_OP: &str = "execute-r-node";
/// Node properties a step keeps; others are reported.
const KEPT: [&str; 7] = ["filename", "runtime_image", "env_vars", "cpu", "memory", "gpu", "label"];

/// A pipeline read from an Elyra file, and what of the file it could not keep.
#[derive(Debug)]
pub struct Imported {
    pub pipeline: Pipeline,
    pub report: Vec<String>,
}

/// A step name from an Elyra label or file name: lowercase letters, digits
/// and '-', starting with a letter, unique among `taken`.
fn step_name(label: &str, taken: &[String]) -> String {
    let mut base: String = label
        .rsplit('/')
        .next()
        .unwrap_or(label)
        .trim_end_matches(".ipynb")
        .trim_end_matches(".py")
        .trim_end_matches(".r")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    let mut base = base.trim_matches('-').to_string();
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base = format!("step-{base}").trim_end_matches('-').to_string();
    }
    base.truncate(super::model::NAME_MAX - 4);
    let base = base.trim_end_matches('-').to_string();
    if !taken.contains(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|n| !taken.contains(n)).unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Environment variables in either of Elyra's shapes: `{"env_var", "value"}`
/// objects (3.x) or `"NAME=value"` strings (older files).
fn env_vars(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| match e {
            Value::String(s) => s.split_once('=').map(|(k, v)| (k.trim().to_string(), v.to_string())),
            Value::Object(_) => Some((text(&e["env_var"]).trim().to_string(), text(&e["value"]))),
            _ => None,
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// Reads an Elyra file, or says why it is not one.
pub fn import(source: &str) -> Result<Imported, String> {
    let doc: Value = serde_json::from_str(source).map_err(|e| format!("This is not a .pipeline file: it is not JSON ({e})."))?;
    if doc["doc_type"].as_str() != Some("pipeline") {
        return Err("This is not an Elyra .pipeline file (doc_type is not \"pipeline\").".into());
    }
    let version = text(&doc["version"]);
    if !version.starts_with('3') {
        return Err(format!("Only pipeline-flow version 3 files can be read; this one is version “{version}”."));
    }
    let primary = doc["primary_pipeline"].as_str().unwrap_or_default();
    let pipelines = doc["pipelines"].as_array().ok_or("The file holds no pipelines.")?;
    let flow = pipelines.iter().find(|p| p["id"].as_str() == Some(primary)).or(pipelines.first()).ok_or("The file holds no pipelines.")?;
    let mut report = Vec::new();
    if pipelines.len() > 1 {
        report.push(format!("{} sub-pipelines (supernodes) are not kept; only the main pipeline is.", pipelines.len() - 1));
    }
    let app = &flow["app_data"];
    let props = &app["properties"];
    let runtime = text(&app["runtime_type"]);
    if !runtime.is_empty() && runtime != "KUBEFLOW_PIPELINES" && runtime != "LOCAL" && runtime != "ARGO" {
        report.push(format!("The file was made for runtime “{runtime}”; it will run on Argo Workflows here."));
    }
    let defaults = &props["pipeline_defaults"];
    let default_image = text(&defaults["runtime_image"]);
    let default_env = env_vars(&defaults["env_vars"]);
    for (key, value) in defaults.as_object().into_iter().flatten() {
        if !["runtime_image", "env_vars"].contains(&key.as_str()) && !is_empty(value) {
            report.push(format!("Pipeline default “{key}” is not kept."));
        }
    }
    let name_source = text(&props["name"]);
    let name_source = if name_source.is_empty() { text(&app["name"]) } else { name_source };
    let params = props["pipeline_parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| Param { name: text(&p["name"]), default: text(&p["default_value"]["value"]) })
        .filter(|p| !p.name.is_empty())
        .collect();

    let nodes = flow["nodes"].as_array().cloned().unwrap_or_default();
    let mut taken: Vec<String> = Vec::new();
    // Elyra node id → step name, for the links.
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut steps = Vec::new();
    for node in &nodes {
        let id = text(&node["id"]);
        let op = text(&node["op"]);
        let label = [&node["app_data"]["label"], &node["app_data"]["ui_data"]["label"]].into_iter().map(text).find(|l| !l.is_empty()).unwrap_or_else(|| id.clone());
        if node["type"].as_str() != Some("execution_node") || ![NOTEBOOK_OP, PYTHON_OP, R_OP].contains(&op.as_str()) {
            let what = if op.is_empty() { text(&node["type"]) } else { op };
            report.push(format!("Node “{label}” ({what}) is not a generic notebook or script node; it is not kept, and what waited for it no longer does."));
            continue;
        }
        let params = &node["app_data"]["component_parameters"];
        let file = text(&params["filename"]);
        let name = step_name(if label.is_empty() { &file } else { &label }, &taken);
        taken.push(name.clone());
        ids.push((id, name.clone()));
        for (key, value) in params.as_object().into_iter().flatten() {
            if !KEPT.contains(&key.as_str()) && !is_empty(value) {
                report.push(format!("Step “{name}”: “{key}” is not kept."));
            }
        }
        let work = match op.as_str() {
            NOTEBOOK_OP => Work::Notebook(file.clone()),
            PYTHON_OP => Work::Command(format!("python {file}")),
            _ => Work::Command(format!("Rscript {file}")),
        };
        let mut env = default_env.clone();
        for (k, v) in env_vars(&params["env_vars"]) {
            env.retain(|(x, _)| *x != k);
            env.push((k, v));
        }
        let image = text(&params["runtime_image"]);
        let memory = text(&params["memory"]);
        let cpu = text(&params["cpu"]);
        steps.push(Step {
            name,
            image: if image.is_empty() { default_image.clone() } else { image },
            work,
            after: Vec::new(),
            env,
            connections: Vec::new(),
            cpu,
            // Elyra's memory is in GB.
            memory: if memory.is_empty() { String::new() } else { format!("{memory}G") },
            gpus: params["gpu"].as_u64().or_else(|| text(&params["gpu"]).parse().ok()).unwrap_or(0) as u32,
            retries: 0,
            timeout_seconds: None,
        });
    }
    if !steps.is_empty() {
        report.push("Notebook and script files are run from the runtime image's working directory: make sure the image holds them (Elyra packs them with the pipeline; the portal does not).".into());
    }
    for node in &nodes {
        let Some((_, me)) = ids.iter().find(|(id, _)| *id == text(&node["id"])) else { continue };
        let me = me.clone();
        for port in node["inputs"].as_array().into_iter().flatten() {
            for link in port["links"].as_array().into_iter().flatten() {
                let from = text(&link["node_id_ref"]);
                if let Some((_, dep)) = ids.iter().find(|(id, _)| *id == from)
                    && let Some(s) = steps.iter_mut().find(|s| s.name == me)
                    && !s.after.contains(dep)
                {
                    s.after.push(dep.clone());
                }
            }
        }
    }
    let comments = app["ui_data"]["comments"].as_array().map(Vec::len).unwrap_or(0);
    if comments > 0 {
        report.push(format!("{comments} comments on the canvas are not kept."));
    }
    let name = step_name(&name_source, &[]);
    Ok(Imported { pipeline: Pipeline { name: if name_source.is_empty() { String::new() } else { name }, description: String::new(), params, steps }, report })
}

/// The pipeline as an Elyra file, and what of it Elyra cannot hold.
pub fn export(p: &Pipeline) -> (String, Vec<String>) {
    let mut report = Vec::new();
    let id = |name: &str| format!("atrium-{name}");
    let nodes: Vec<Value> = p
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let (op, file) = match &s.work {
                Work::Notebook(path) => (NOTEBOOK_OP, path.clone()),
                Work::Command(c) => {
                    let words: Vec<&str> = c.split_whitespace().collect();
                    match words.as_slice() {
                        ["python" | "python3", f] if f.ends_with(".py") => (PYTHON_OP, f.to_string()),
                        ["Rscript", f] if f.to_ascii_lowercase().ends_with(".r") => (R_OP, f.to_string()),
                        _ => {
                            report.push(format!("Step “{}” runs a command; Elyra runs only notebook, Python and R files, so it is left out.", s.name));
                            return None;
                        }
                    }
                }
                Work::Script(_) => {
                    report.push(format!("Step “{}” runs a script written here; Elyra runs only files, so it is left out.", s.name));
                    return None;
                }
            };
            if s.retries > 0 || s.timeout_seconds.is_some() {
                report.push(format!("Step “{}”: Elyra has no retries or timeout; they are left out.", s.name));
            }
            let mut params = json!({
                "filename": file,
                "runtime_image": s.image,
                "env_vars": s.env.iter().map(|(k, v)| json!({ "env_var": k, "value": v })).collect::<Vec<_>>(),
                "dependencies": [],
                "include_subdirectories": false,
                "outputs": [],
            });
            if !s.cpu.is_empty() {
                params["cpu"] = json!(s.cpu);
            }
            if let Some(gb) = s.memory.strip_suffix('G') {
                params["memory"] = json!(gb);
            } else if !s.memory.is_empty() {
                report.push(format!("Step “{}”: memory “{}” is not in whole GB, as Elyra takes it; left out.", s.name, s.memory));
            }
            if s.gpus > 0 {
                params["gpu"] = json!(s.gpus);
            }
            let links: Vec<Value> = s.after.iter().map(|a| json!({ "id": format!("{}-{}", id(a), id(&s.name)), "node_id_ref": id(a), "port_id_ref": "outPort" })).collect();
            Some(json!({
                "id": id(&s.name),
                "type": "execution_node",
                "op": op,
                "app_data": { "label": s.name, "component_parameters": params, "ui_data": { "label": s.name, "x_pos": 80 + 240 * i, "y_pos": 120 } },
                "inputs": [{ "id": "inPort", "app_data": { "ui_data": { "cardinality": { "min": 0, "max": -1 }, "label": "Input Port" } }, "links": links }],
                "outputs": [{ "id": "outPort", "app_data": { "ui_data": { "cardinality": { "min": 0, "max": -1 }, "label": "Output Port" } } }],
            }))
        })
        .collect();
    let doc = json!({
        "doc_type": "pipeline",
        "version": "3.0",
        "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json",
        "id": id(&p.name),
        "primary_pipeline": "primary",
        "pipelines": [{
            "id": "primary",
            "nodes": nodes,
            "app_data": {
                "ui_data": { "comments": [] },
                "version": 8,
                "runtime_type": "KUBEFLOW_PIPELINES",
                "properties": {
                    "name": p.name,
                    "description": p.description,
                    "pipeline_defaults": {},
                    "pipeline_parameters": p.params.iter().map(|x| json!({ "name": x.name, "default_value": { "type": "String", "value": x.default }, "required": false })).collect::<Vec<_>>(),
                },
            },
            "runtime_ref": "",
        }],
        "schemas": [],
    });
    (serde_json::to_string_pretty(&doc).unwrap_or_default(), report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as Elyra 3.15 saves it (trimmed): two notebooks and a script,
    /// a custom component, a comment and a pipeline default.
    const FILE: &str = r#"{
      "doc_type": "pipeline", "version": "3.0",
      "json_schema": "http://api.dataplatform.ibm.com/schemas/common-pipeline/pipeline-flow/pipeline-flow-v3-schema.json",
      "id": "elyra-auto-generated", "primary_pipeline": "p1",
      "pipelines": [{
        "id": "p1",
        "nodes": [
          { "id": "a", "type": "execution_node", "op": "execute-notebook-node",
            "app_data": { "label": "Load Data", "component_parameters": {
              "filename": "notebooks/load_data.ipynb", "runtime_image": "quay.io/jupyter/scipy-notebook:2025-10-20",
              "env_vars": [{ "env_var": "DATASET_URL", "value": "https://example.org/data.csv" }],
              "dependencies": ["requirements.txt"], "include_subdirectories": false, "outputs": [], "cpu": 2, "memory": 4 } },
            "inputs": [{ "id": "inPort", "links": [] }], "outputs": [{ "id": "outPort" }] },
          { "id": "b", "type": "execution_node", "op": "execute-python-node",
            "app_data": { "label": "clean.py", "component_parameters": { "filename": "clean.py", "env_vars": ["MODE=fast"] } },
            "inputs": [{ "id": "inPort", "links": [{ "id": "l1", "node_id_ref": "a", "port_id_ref": "outPort" }] }] },
          { "id": "c", "type": "execution_node", "op": "url-catalog:1234",
            "app_data": { "label": "Download", "component_parameters": {} } },
          { "id": "d", "type": "execution_node", "op": "execute-notebook-node",
            "app_data": { "label": "Train Model", "component_parameters": { "filename": "train.ipynb", "gpu": 1 } },
            "inputs": [{ "id": "inPort", "links": [
              { "id": "l2", "node_id_ref": "b", "port_id_ref": "outPort" },
              { "id": "l3", "node_id_ref": "c", "port_id_ref": "outPort" } ] }] }
        ],
        "app_data": {
          "ui_data": { "comments": [{ "id": "x", "content": "remember to tune" }] },
          "version": 8, "runtime_type": "KUBEFLOW_PIPELINES",
          "properties": { "name": "Fraud Detection", "pipeline_defaults": {
              "runtime_image": "quay.io/jupyter/minimal-notebook:2025-10-20",
              "env_vars": [{ "env_var": "STAGE", "value": "dev" }],
              "kubernetes_secrets": [{ "env_var": "KEY", "name": "s3", "key": "k" }] },
            "pipeline_parameters": [{ "name": "threshold", "default_value": { "type": "Float", "value": 0.5 } }] }
        }
      }],
      "schemas": []
    }"#;

    #[test]
    fn generic_nodes_become_steps_and_the_rest_is_reported() {
        let Imported { pipeline: p, report } = import(FILE).unwrap();
        assert_eq!(p.name, "fraud-detection");
        assert_eq!(p.params, vec![Param { name: "threshold".into(), default: "0.5".into() }]);
        let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["load-data", "clean", "train-model"]);
        let load = &p.steps[0];
        assert_eq!(load.work, Work::Notebook("notebooks/load_data.ipynb".into()));
        assert_eq!(load.image, "quay.io/jupyter/scipy-notebook:2025-10-20");
        assert_eq!((load.cpu.as_str(), load.memory.as_str()), ("2", "4G"));
        assert_eq!(load.env, [("STAGE".to_string(), "dev".to_string()), ("DATASET_URL".into(), "https://example.org/data.csv".into())]);
        let clean = &p.steps[1];
        assert_eq!(clean.work, Work::Command("python clean.py".into()));
        assert_eq!(clean.image, "quay.io/jupyter/minimal-notebook:2025-10-20", "the pipeline's default image");
        assert_eq!(clean.after, ["load-data"]);
        assert!(clean.env.contains(&("MODE".into(), "fast".into())), "older NAME=value variables");
        let train = &p.steps[2];
        assert_eq!(train.after, ["clean"], "the link from the dropped node is gone");
        assert_eq!(train.gpus, 1);
        let said = report.join("\n");
        assert!(said.contains("Node “Download” (url-catalog:1234) is not a generic"), "{said}");
        assert!(said.contains("Step “load-data”: “dependencies” is not kept."), "{said}");
        assert!(said.contains("Pipeline default “kubernetes_secrets” is not kept."), "{said}");
        assert!(said.contains("1 comments on the canvas"), "{said}");
    }

    #[test]
    fn what_is_not_a_pipeline_file_is_refused_in_words() {
        assert!(import("{").unwrap_err().contains("not JSON"));
        assert!(import(r#"{"doc_type": "notebook"}"#).unwrap_err().contains("not an Elyra .pipeline file"));
        assert!(import(r#"{"doc_type": "pipeline", "version": "2.0", "pipelines": []}"#).unwrap_err().contains("version 3"));
    }

    #[test]
    fn export_reads_back_as_the_same_pipeline() {
        let mut p = import(FILE).unwrap().pipeline;
        p.steps[0].env.retain(|(k, _)| k != "STAGE");
        let (text, report) = export(&p);
        assert!(report.is_empty(), "{report:?}");
        let back = import(&text).unwrap().pipeline;
        assert_eq!(back, p);
        // What Elyra cannot hold is named.
        p.steps.push(Step { name: "inline".into(), work: Work::Script("print(1)".into()), ..Default::default() });
        let (_, report) = export(&p);
        assert!(report.iter().any(|r| r.contains("Step “inline” runs a script written here")), "{report:?}");
    }
}
