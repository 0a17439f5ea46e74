//! Pipelines a team can start from: the book's two examples (chapter 9's
//! notebook-based data pipeline and chapter 10's model-training pipeline),
//! opened in the editor as a new pipeline of the team. Each step takes the
//! catalog's notebook image and the team's object storage connection when
//! the team has one, so a template is valid as it opens wherever it can be.

use super::api::StepChoices;
use super::model::{Param, Pipeline, Step, Work};

/// A template as the pipelines page lists it.
pub struct Template {
    pub id: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
}

pub const TEMPLATES: &[Template] = &[
    Template {
        id: "flights-data",
        title: "Flight data pipeline",
        summary: "Notebooks read raw flight and airport files from the team's object storage, merge and clean them, and a script publishes the result (the book's chapter 9).",
    },
    Template {
        id: "flights-model",
        title: "Model training pipeline",
        summary: "Build features from the clean flight data, train a delay model, evaluate it, and register it in MLflow only if it beats the bar (the book's chapter 10).",
    },
];

/// The data connection the local stack (and the book) give every team.
const STORAGE: &str = "object-storage";

const PUBLISH: &str = r#"import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT"])
bucket = os.environ["AWS_S3_BUCKET"]
src, dst = "{{workflow.parameters.work-prefix}}", "{{workflow.parameters.output-prefix}}"
for item in s3.list_objects_v2(Bucket=bucket, Prefix=src).get("Contents", []):
    key = dst + item["Key"][len(src):]
    s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": item["Key"]})
    print("published", key)
"#;

const EVALUATE: &str = r#"import json, sys
metrics = json.load(open("/tmp/metrics.json")) if len(sys.argv) < 2 else json.loads(sys.argv[1])
bar = float("{{workflow.parameters.min-accuracy}}")
print("accuracy", metrics["accuracy"], "bar", bar)
sys.exit(0 if metrics["accuracy"] >= bar else 1)
"#;

const REGISTER: &str = r#"import mlflow
client = mlflow.MlflowClient()
run = client.search_runs(
    [client.get_experiment_by_name("{{workflow.parameters.experiment}}").experiment_id],
    order_by=["attributes.start_time DESC"], max_results=1)[0]
version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "{{workflow.parameters.model}}")
print("registered version", version.version)
"#;

/// Template `id` as a new pipeline of a team that may use `choices`.
pub fn start(id: &str, choices: &StepChoices) -> Option<Pipeline> {
    // The catalog's notebook image: a scientific Python one if there is one.
    let image = choices
        .images
        .iter()
        .find(|i| i.contains("scipy") || i.contains("datascience"))
        .or(choices.images.first())
        .cloned()
        .unwrap_or_default();
    let connections: Vec<String> = choices.connections.iter().filter(|c| *c == STORAGE).cloned().collect();
    let step = |name: &str, work: Work, after: &[&str]| Step {
        name: name.into(),
        image: image.clone(),
        work,
        after: after.iter().map(|a| a.to_string()).collect(),
        connections: connections.clone(),
        ..Default::default()
    };
    let param = |name: &str, default: &str| Param { name: name.into(), default: default.into() };
    let notebook = |path: &str| Work::Notebook(path.into());
    let pipeline = match id {
        "flights-data" => Pipeline {
            name: "flights-data".into(),
            description: "Merge and clean flight and airport data for the delay model".into(),
            params: vec![param("input-prefix", "raw/flights/"), param("work-prefix", "work/flights/"), param("output-prefix", "clean/flights/")],
            steps: vec![
                step("fetch", notebook("flights/01-fetch-data.ipynb"), &[]),
                step("merge", notebook("flights/02-merge-airports.ipynb"), &["fetch"]),
                Step { retries: 2, ..step("clean", notebook("flights/03-clean-data.ipynb"), &["merge"]) },
                step("publish", Work::Script(PUBLISH.into()), &["clean"]),
            ],
        },
        "flights-model" => Pipeline {
            name: "flights-model".into(),
            description: "Train, evaluate and register the flight delay model".into(),
            params: vec![param("experiment", "flights-delay"), param("model", "flights-delay"), param("min-accuracy", "0.8")],
            steps: vec![
                step("features", notebook("flights/04-features.ipynb"), &[]),
                Step { cpu: "2".into(), memory: "4Gi".into(), timeout_seconds: Some(3600), ..step("train", notebook("flights/05-train.ipynb"), &["features"]) },
                step("evaluate", Work::Script(EVALUATE.into()), &["train"]),
                step("register", Work::Script(REGISTER.into()), &["evaluate"]),
            ],
        },
        _ => return None,
    };
    Some(pipeline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_opens_valid_with_the_teams_image_and_storage() {
        let choices = StepChoices {
            images: vec!["quay.io/jupyter/minimal-notebook:2025-10-20".into(), "quay.io/jupyter/scipy-notebook:2025-10-20".into()],
            connections: vec!["object-storage".into(), "warehouse".into()],
            ..Default::default()
        };
        for t in TEMPLATES {
            let p = start(t.id, &choices).unwrap();
            assert_eq!(p.problems(&choices.images, Some(&choices.connections)), vec![], "{}", t.id);
            assert!(p.steps.iter().all(|s| s.image.contains("scipy") && s.connections == ["object-storage"]), "{}", t.id);
            assert!(p.steps.iter().any(|s| matches!(s.work, Work::Notebook(_))), "{}: the book's pipelines run notebooks", t.id);
            // Every parameter a step uses is declared.
            let used = super::super::workflow::to_template(&p, "team-a").to_string();
            for name in used.split("{{workflow.parameters.").skip(1).filter_map(|r| r.split("}}").next()) {
                assert!(p.params.iter().any(|x| x.name == name), "{}: {name} is not declared", t.id);
            }
        }
        // A team without object storage gets the template without it.
        let bare = StepChoices { images: choices.images.clone(), ..Default::default() };
        assert!(start("flights-model", &bare).unwrap().steps.iter().all(|s| s.connections.is_empty()));
        assert!(start("nope", &choices).is_none());
    }
}
