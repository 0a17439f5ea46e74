//! Data connections: a team's S3-compatible storage credentials, kept as a
//! Secret labelled `atrium.io/data-connection=true` (keys named as the Open
//! Data Hub dashboard names them), which notebooks receive as environment
//! variables. Made, listed and deleted as the person; secret values are
//! never read back, shown or logged.

#[cfg(feature = "ssr")]
use crate::audit::server::Actor;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A connection as listed (no secret values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub name: String,
    pub endpoint: String,
    pub bucket: String,
}

/// The form that makes one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionForm {
    pub name: String,
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

impl ConnectionForm {
    /// Every problem, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = super::model::check_name(&self.name) {
            out.push(format!("Name: {e}"));
        }
        let endpoint = self.endpoint.trim();
        let scheme_ok = endpoint.starts_with("https://") || endpoint.starts_with("http://");
        if !scheme_ok || endpoint.contains(char::is_whitespace) || endpoint.split_once("://").is_some_and(|(_, h)| h.is_empty()) {
            out.push(format!("Endpoint: “{endpoint}” is not an http(s) address like https://s3.example.org."));
        }
        if self.bucket.trim().is_empty() {
            out.push("Bucket: give the bucket's name.".into());
        }
        if self.access_key.trim().is_empty() || self.secret_key.trim().is_empty() {
            out.push("Keys: give both the access key and the secret key.".into());
        }
        out
    }
}

pub const ENDPOINT_KEY: &str = "AWS_S3_ENDPOINT";
pub const BUCKET_KEY: &str = "AWS_S3_BUCKET";
pub const REGION_KEY: &str = "AWS_DEFAULT_REGION";
pub const ACCESS_KEY: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The annotation KServe's storage initializer reads a data connection's
/// endpoint from (scheme included: `http://` turns TLS off).
pub const KSERVE_S3_ENDPOINT: &str = "serving.kserve.io/s3-endpoint";

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::error::AppResult;
    use crate::notebooks::manifest::CONNECTION_LABEL;
    use crate::platform::kube::{UserClient, explain};
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::api::{Api, DeleteParams, ListParams, PostParams};
    use std::collections::BTreeMap;

    /// The team's connections. Endpoint and bucket are kept as annotations,
    /// so listing needs only the Secrets' metadata.
    pub async fn list(client: &UserClient, team: &str) -> AppResult<Vec<Connection>> {
        let lp = ListParams::default().labels(&format!("{CONNECTION_LABEL}=true"));
        let secrets = Api::<Secret>::namespaced(client.client(), team)
            .list_metadata(&lp)
            .await
            .map_err(|e| explain(e, "this team's data connections"))?;
        let mut out: Vec<Connection> = secrets
            .items
            .into_iter()
            .map(|s| {
                let a = s.metadata.annotations.unwrap_or_default();
                Connection {
                    name: s.metadata.name.unwrap_or_default(),
                    endpoint: a.get("atrium.io/endpoint").cloned().unwrap_or_default(),
                    bucket: a.get("atrium.io/bucket").cloned().unwrap_or_default(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn create(client: &UserClient, team: &str, form: &ConnectionForm) -> AppResult<()> {
        let problems = form.problems();
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems.join(" ")));
        }
        let mut data = BTreeMap::from([
            (ENDPOINT_KEY.to_string(), form.endpoint.trim().to_string()),
            (BUCKET_KEY.to_string(), form.bucket.trim().to_string()),
            (ACCESS_KEY.to_string(), form.access_key.trim().to_string()),
            (SECRET_KEY.to_string(), form.secret_key.trim().to_string()),
        ]);
        if !form.region.trim().is_empty() {
            data.insert(REGION_KEY.to_string(), form.region.trim().to_string());
        }
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(form.name.clone()),
                labels: Some(BTreeMap::from([(CONNECTION_LABEL.to_string(), "true".to_string())])),
                annotations: Some(BTreeMap::from([
                    ("atrium.io/connection-type".to_string(), "s3".to_string()),
                    ("atrium.io/endpoint".to_string(), form.endpoint.trim().to_string()),
                    ("atrium.io/bucket".to_string(), form.bucket.trim().to_string()),
                    // Where KServe's storage initializer finds the endpoint
                    // (it reads the keys, and the region, from the data).
                    (KSERVE_S3_ENDPOINT.to_string(), form.endpoint.trim().to_string()),
                ])),
                ..Default::default()
            },
            string_data: Some(data),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        Api::<Secret>::namespaced(client.client(), team)
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| explain(e, &format!("data connection “{}”", form.name)))?;
        Ok(())
    }

    /// Deletes a data connection; other Secrets of the team are refused.
    pub async fn delete(client: &UserClient, team: &str, name: &str) -> AppResult<()> {
        let api = Api::<Secret>::namespaced(client.client(), team);
        let what = format!("data connection “{name}”");
        let found = api.get_metadata(name).await.map_err(|e| explain(e, &what))?;
        let labelled = found.metadata.labels.as_ref().and_then(|l| l.get(CONNECTION_LABEL)).is_some_and(|v| v == "true");
        if !labelled {
            return Err(AppError::NotFound(format!("There is no {what}, or it was removed.")));
        }
        api.delete(name, &DeleteParams::default()).await.map_err(|e| explain(e, &what))?;
        Ok(())
    }
}

#[server(endpoint = "connections")]
pub async fn get_connections(team: String) -> Result<Vec<Connection>, AppError> {
    let me = Actor::current().await?;
    server::list(&me.client, &team).await
}

#[server(endpoint = "connection-create", input = leptos::server_fn::codec::Json)]
pub async fn create_connection(team: String, form: ConnectionForm) -> Result<(), AppError> {
    let me = Actor::current().await?;
    // The audit names the connection and where it points, never its keys.
    let object = format!("data connection {} ({} {})", form.name, form.endpoint.trim(), form.bucket.trim());
    me.audited(Some(&team), "connection.create", &object, server::create(&me.client, &team, &form)).await
}

#[server(endpoint = "connection-delete")]
pub async fn delete_connection(team: String, name: String) -> Result<(), AppError> {
    let me = Actor::current().await?;
    let object = format!("data connection {name}");
    me.audited(Some(&team), "connection.delete", &object, server::delete(&me.client, &team, &name)).await
}

/// The team's data connections, with a form to add one. `initial` is the
/// list the page came with, kept in step with what the person creates and
/// deletes here.
#[component]
pub fn Connections(team: String, initial: Result<Vec<Connection>, AppError>) -> impl IntoView {
    use crate::components::notice::ActionNotice;
    let create = ServerAction::<CreateConnection>::new();
    let delete = ServerAction::<DeleteConnection>::new();
    let list = RwSignal::new(initial);
    let form = RwSignal::new(ConnectionForm::default());
    // The person's own changes, as Kubernetes accepted them.
    Effect::new(move |_| {
        if let Some(Ok(())) = create.value().get() {
            let f = form.get_untracked();
            let made = Connection { name: f.name.clone(), endpoint: f.endpoint.trim().into(), bucket: f.bucket.trim().into() };
            list.update(|l| {
                if let Ok(items) = l {
                    items.retain(|c| c.name != made.name);
                    items.push(made);
                    items.sort_by(|a, b| a.name.cmp(&b.name));
                }
            });
        }
    });
    let deleting = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            let gone = deleting.get_untracked();
            list.update(|l| {
                if let Ok(items) = l {
                    items.retain(|c| c.name != gone);
                }
            });
        }
    });
    let field = move |label: &'static str, testid: &'static str, secret: bool, set: fn(&mut ConnectionForm, String)| {
        view! {
            <label class="form-row">{label}
                <input class="input" type=if secret { "password" } else { "text" } autocomplete="off" data-testid=testid
                    on:input=move |e| form.update(|f| set(f, event_target_value(&e)))/>
            </label>
        }
    };
    let problems = move || form.with(|f| if f.name.is_empty() { vec![] } else { f.problems() });
    let team_for_delete = team.clone();
    view! {
        <section class="card space-y-3" data-testid="connections">
            <h2 class="section-title">"Data connections"</h2>
            <p class="hint">"S3-compatible storage a notebook can use; its keys reach the notebook as environment variables (AWS_S3_ENDPOINT, AWS_S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Keys are never shown again."</p>
            {move || match list.get() {
                    Err(e) => view! { <p class="notice-error">{e.to_string()}</p> }.into_any(),
                    Ok(items) if items.is_empty() => view! { <p class="muted">"None yet."</p> }.into_any(),
                    Ok(items) => {
                        let team = team_for_delete.clone();
                        view! {
                            <table class="table"><thead><tr><th>"Name"</th><th>"Endpoint"</th><th>"Bucket"</th><th></th></tr></thead><tbody>
                                {items.into_iter().map(|c| {
                                    let (t, n, row_name) = (team.clone(), c.name.clone(), c.name.clone());
                                    view! { <tr data-testid="connection-row" data-name=row_name>
                                        <td>{c.name}</td><td class="mono text-xs">{c.endpoint}</td><td>{c.bucket}</td>
                                        <td><button class="btn-quiet" data-testid="connection-delete"
                                            on:click=move |_| {
                                                deleting.set(n.clone());
                                                delete.dispatch(DeleteConnection { team: t.clone(), name: n.clone() });
                                            }>"Delete"</button></td>
                                    </tr> }
                                }).collect_view()}
                            </tbody></table>
                        }.into_any()
                    }
                }}
            <details class="space-y-2">
                <summary class="btn-quiet inline-block" data-testid="connection-add">"Add a data connection"</summary>
                <div class="grid gap-2 sm:grid-cols-2">
                    {field("Name", "connection-name", false, |f, v| f.name = v)}
                    {field("Endpoint", "connection-endpoint", false, |f, v| f.endpoint = v)}
                    {field("Bucket", "connection-bucket", false, |f, v| f.bucket = v)}
                    {field("Region (optional)", "connection-region", false, |f, v| f.region = v)}
                    {field("Access key", "connection-access-key", true, |f, v| f.access_key = v)}
                    {field("Secret key", "connection-secret-key", true, |f, v| f.secret_key = v)}
                </div>
                <ul class="text-sm text-rose-700 dark:text-rose-300">{move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                <button class="btn-primary" data-testid="connection-save"
                    on:click=move |_| { create.dispatch(CreateConnection { team: team.clone(), form: form.get() }); }>"Save connection"</button>
            </details>
            <ActionNotice result=create.value() ok="Data connection saved." testid="connection-result"/>
            <ActionNotice result=delete.value() ok="Data connection deleted." testid="connection-delete-result"/>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named() {
        let f = ConnectionForm { name: "Raw".into(), endpoint: "s3.example.org".into(), ..Default::default() };
        assert_eq!(
            f.problems(),
            vec![
                "Name: Use lowercase letters only.".to_string(),
                "Endpoint: “s3.example.org” is not an http(s) address like https://s3.example.org.".into(),
                "Bucket: give the bucket's name.".into(),
                "Keys: give both the access key and the secret key.".into(),
            ]
        );
        let ok = ConnectionForm {
            name: "raw-data".into(),
            endpoint: "https://s3.example.org".into(),
            bucket: "raw".into(),
            region: String::new(),
            access_key: "AK".into(),
            secret_key: "SK".into(),
        };
        assert!(ok.problems().is_empty());
    }
}
