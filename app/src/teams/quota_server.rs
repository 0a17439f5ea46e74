//! A team's quota, ceiling, default limits and what uses them, read and
//! changed as the signed-in person.

use super::quota::{Consumer, LimitDefaults, QuotaChange, QuotaRow, QuotaView};
use crate::error::{AppError, AppResult};
use crate::platform::kube::{UserClient, explain};
use crate::quantity;
use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem, Namespace, Pod, ResourceQuota};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;

/// The quota object the portal manages in every team.
pub const QUOTA_NAME: &str = "atrium-quota";
pub const LIMITS_NAME: &str = "atrium-defaults";
/// Annotation prefix of the ceilings platform admins set on a team.
pub const CEILING_PREFIX: &str = "ceiling.atrium.io/";

pub use super::quota::RESOURCES;

pub fn ceiling_key(resource: &str) -> String {
    format!("{CEILING_PREFIX}{}", resource.replace('/', "_"))
}

pub fn ceilings(ns: &Namespace) -> BTreeMap<String, String> {
    let annotations = ns.metadata.annotations.clone().unwrap_or_default();
    RESOURCES
        .iter()
        .filter_map(|r| annotations.get(&ceiling_key(r)).map(|v| (r.to_string(), v.clone())))
        .collect()
}

pub async fn view(client: &UserClient, team: &str) -> AppResult<QuotaView> {
    let ns = Api::<Namespace>::all(client.client()).get(team).await.map_err(|e| explain(e, "this team"))?;
    let quota_api: Api<ResourceQuota> = Api::namespaced(client.client(), team);
    let limits_api: Api<LimitRange> = Api::namespaced(client.client(), team);
    let pods_api: Api<Pod> = Api::namespaced(client.client(), team);
    let all = ListParams::default();
    let (quota, limits, pods) =
        futures::join!(quota_api.get_opt(QUOTA_NAME), limits_api.get_opt(LIMITS_NAME), pods_api.list(&all));
    let quota = quota.map_err(|e| explain(e, "this team's quota"))?;
    let limits = limits.map_err(|e| explain(e, "this team's default limits"))?;
    let pods = pods.map_err(|e| explain(e, "this team's pods"))?;
    let ceilings = ceilings(&ns);
    let status = quota.as_ref().and_then(|q| q.status.clone()).unwrap_or_default();
    let hard = quota.as_ref().and_then(|q| q.spec.as_ref()).and_then(|s| s.hard.clone()).unwrap_or_default();
    let used = status.used.unwrap_or_default();
    let rows = RESOURCES
        .iter()
        .map(|r| {
            let used = used.get(*r).map(|q| q.0.clone()).unwrap_or_else(|| "0".into());
            let hard = hard.get(*r).map(|q| q.0.clone());
            QuotaRow {
                resource: r.to_string(),
                fraction: hard.as_deref().and_then(|h| quantity::fraction(&used, h)),
                used,
                hard,
                ceiling: ceilings.get(*r).cloned(),
            }
        })
        .collect();
    Ok(QuotaView {
        team: team.to_string(),
        limits_version: quota.as_ref().map(|_| limits_version(&hard)),
        rows,
        defaults: limits.as_ref().map(defaults_of).unwrap_or_default(),
        consumers: consumers(&pods.items),
        can_edit: false,
        requests: vec![],
    })
}

fn defaults_of(lr: &LimitRange) -> LimitDefaults {
    let item = lr.spec.as_ref().and_then(|s| s.limits.iter().find(|l| l.type_ == "Container"));
    let get = |m: Option<&BTreeMap<String, Quantity>>, k: &str| m.and_then(|m| m.get(k)).map(|q| q.0.clone()).unwrap_or_default();
    LimitDefaults {
        cpu_request: get(item.and_then(|i| i.default_request.as_ref()), "cpu"),
        memory_request: get(item.and_then(|i| i.default_request.as_ref()), "memory"),
        cpu_limit: get(item.and_then(|i| i.default.as_ref()), "cpu"),
        memory_limit: get(item.and_then(|i| i.default.as_ref()), "memory"),
    }
}

/// Running pods and what they request, biggest CPU first.
fn consumers(pods: &[Pod]) -> Vec<Consumer> {
    let mut out: Vec<Consumer> = pods
        .iter()
        .filter(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")))
        .map(|p| {
            let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
            for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
                let req = c.resources.as_ref().and_then(|r| r.requests.clone()).unwrap_or_default();
                for key in ["cpu", "memory", "nvidia.com/gpu"] {
                    *sums.entry(key).or_default() += req.get(key).and_then(|q| quantity::parse(&q.0)).unwrap_or(0.0);
                }
            }
            Consumer {
                name: p.metadata.name.clone().unwrap_or_default(),
                cpu: sums["cpu"],
                memory_bytes: sums["memory"],
                gpus: sums["nvidia.com/gpu"],
            }
        })
        .collect();
    out.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then_with(|| a.name.cmp(&b.name)));
    out
}

/// Checks every requested change before anything is written.
pub fn check_changes(view: &QuotaView, changes: &[QuotaChange]) -> AppResult<()> {
    if changes.is_empty() {
        return Err(AppError::Invalid("Nothing to change.".into()));
    }
    for c in changes {
        let Some(row) = view.rows.iter().find(|r| r.resource == c.resource) else {
            return Err(AppError::Invalid(format!("“{}” is not a quota the portal manages.", c.resource)));
        };
        let label = crate::model::quota::resource_label(&c.resource);
        let Some(value) = quantity::parse(&c.value) else {
            return Err(AppError::Invalid(format!(
                "{label}: “{}” is not a quantity. Use numbers like 4, 500m, 16Gi.",
                c.value
            )));
        };
        let counted = matches!(c.resource.as_str(), "pods" | "persistentvolumeclaims" | "requests.nvidia.com/gpu");
        if counted && value.fract() != 0.0 {
            return Err(AppError::Invalid(format!("{label}: “{}” must be a whole number.", c.value)));
        }
        let used = quantity::parse(&row.used).unwrap_or(0.0);
        if value < used {
            return Err(AppError::Invalid(format!(
                "{label}: {} is less than what the team uses now ({}). Free some first.",
                c.value, row.used
            )));
        }
        if let Some(ceiling) = &row.ceiling
            && quantity::parse(ceiling).is_some_and(|max| value > max)
        {
            return Err(AppError::Invalid(format!(
                "{label}: {} is above this team's ceiling of {ceiling}. Ask the platform admins for more.",
                c.value
            )));
        }
    }
    Ok(())
}

/// Writes the changes with the resourceVersion the person saw: if someone
/// else changed the quota meanwhile, nothing is written and both values are
/// reported.
pub async fn apply_changes(client: &UserClient, team: &str, seen_version: &str, changes: &[QuotaChange]) -> AppResult<()> {
    let api: Api<ResourceQuota> = Api::namespaced(client.client(), team);
    // The quota controller rewrites the status (usage) at any time, which moves the
    // resourceVersion; only a change of the limits themselves is someone else's edit.
    // The replace still carries the resourceVersion just read, so two writers never
    // both win; a 409 caused by a usage recount alone is retried.
    for _ in 0..5 {
        let mut quota = api.get(QUOTA_NAME).await.map_err(|e| explain(e, "this team's quota"))?;
        let hard_now = quota.spec.as_ref().and_then(|s| s.hard.clone()).unwrap_or_default();
        if limits_version(&hard_now) != seen_version {
            return Err(conflict(&hard_now, changes));
        }
        let spec = quota.spec.get_or_insert_with(Default::default);
        let hard = spec.hard.get_or_insert_with(Default::default);
        for c in changes {
            hard.insert(c.resource.clone(), Quantity(c.value.clone()));
        }
        match api.replace(QUOTA_NAME, &PostParams::default(), &quota).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(explain_quota(e)),
        }
    }
    Err(AppError::Conflict("This quota kept changing while saving. Nothing was saved; reload the page and try again.".into()))
}

/// A short, stable fingerprint of a quota's limits: equal limits give equal versions.
pub fn limits_version(hard: &BTreeMap<String, Quantity>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (k, v) in hard {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.0.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn conflict(hard_now: &BTreeMap<String, Quantity>, changes: &[QuotaChange]) -> AppError {
    let both: Vec<String> = changes
        .iter()
        .map(|c| {
            let label = crate::model::quota::resource_label(&c.resource);
            let now = hard_now.get(&c.resource).map(|q| q.0.as_str()).unwrap_or("none");
            format!("{label}: now {now}, yours {}", c.value)
        })
        .collect();
    AppError::Conflict(format!(
        "Someone else changed this quota while you were editing ({}). Nothing was saved; the page shows the current values — check them and save again.",
        both.join("; ")
    ))
}

/// The ceiling policy's refusal is a sentence of its own.
pub fn explain_quota(e: kube::Error) -> AppError {
    if let kube::Error::Api(s) = &e
        && s.message.contains("quota ceiling")
    {
        return AppError::Forbidden("Kubernetes refused: this is above the team's quota ceiling.".into());
    }
    explain(e, "this team's quota")
}

/// Sets default requests and limits for containers that name none.
pub async fn set_defaults(client: &UserClient, team: &str, d: &LimitDefaults) -> AppResult<()> {
    check_defaults(d)?;
    let q = |s: &str| Quantity(s.to_string());
    let lr = LimitRange {
        metadata: kube::api::ObjectMeta { name: Some(LIMITS_NAME.into()), ..Default::default() },
        spec: Some(k8s_openapi::api::core::v1::LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default_request: Some(BTreeMap::from([("cpu".into(), q(&d.cpu_request)), ("memory".into(), q(&d.memory_request))])),
                default: Some(BTreeMap::from([("cpu".into(), q(&d.cpu_limit)), ("memory".into(), q(&d.memory_limit))])),
                ..Default::default()
            }],
        }),
    };
    let api: Api<LimitRange> = Api::namespaced(client.client(), team);
    let pp = PatchParams::apply("atrium").force();
    let mut patch = serde_json::to_value(&lr).map_err(AppError::internal)?;
    patch["apiVersion"] = "v1".into();
    patch["kind"] = "LimitRange".into();
    api.patch(LIMITS_NAME, &pp, &Patch::Apply(patch)).await.map_err(|e| explain(e, "this team's default limits"))?;
    Ok(())
}

pub fn check_defaults(d: &LimitDefaults) -> AppResult<()> {
    let fields = [
        ("Default CPU request", &d.cpu_request),
        ("Default memory request", &d.memory_request),
        ("Default CPU limit", &d.cpu_limit),
        ("Default memory limit", &d.memory_limit),
    ];
    for (label, v) in fields {
        if quantity::parse(v).is_none_or(|x| x <= 0.0) {
            return Err(AppError::Invalid(format!("{label}: “{v}” is not a positive quantity. Use numbers like 500m, 2, 4Gi.")));
        }
    }
    let (cr, cl) = (quantity::parse(&d.cpu_request).unwrap_or(0.0), quantity::parse(&d.cpu_limit).unwrap_or(0.0));
    let (mr, ml) = (quantity::parse(&d.memory_request).unwrap_or(0.0), quantity::parse(&d.memory_limit).unwrap_or(0.0));
    if cr > cl {
        return Err(AppError::Invalid("The default CPU request cannot be above the default CPU limit.".into()));
    }
    if mr > ml {
        return Err(AppError::Invalid("The default memory request cannot be above the default memory limit.".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> QuotaView {
        let row = |r: &str, used: &str, hard: &str, ceiling: Option<&str>| QuotaRow {
            resource: r.into(),
            used: used.into(),
            hard: Some(hard.into()),
            ceiling: ceiling.map(Into::into),
            fraction: None,
        };
        QuotaView {
            team: "t".into(),
            limits_version: Some("1".into()),
            rows: vec![row("requests.cpu", "2", "8", Some("16")), row("pods", "5", "10", None), row("requests.nvidia.com/gpu", "1", "2", Some("4"))],
            defaults: LimitDefaults::default(),
            consumers: vec![],
            can_edit: true,
            requests: vec![],
        }
    }

    fn change(r: &str, v: &str) -> Vec<QuotaChange> {
        vec![QuotaChange { resource: r.into(), value: v.into() }]
    }

    #[test]
    fn good_changes_pass() {
        assert!(check_changes(&view(), &change("requests.cpu", "16")).is_ok());
        assert!(check_changes(&view(), &change("requests.cpu", "2500m")).is_ok());
        assert!(check_changes(&view(), &change("pods", "100")).is_ok(), "no ceiling set");
    }

    #[test]
    fn bad_quantities_are_refused_with_the_reason() {
        for (v, says) in [("2 cores", "not a quantity"), ("-1", "not a quantity"), ("10Qi", "not a quantity")] {
            let e = check_changes(&view(), &change("requests.cpu", v)).unwrap_err().to_string();
            assert!(e.contains(says), "{v}: {e}");
        }
        let e = check_changes(&view(), &change("pods", "4.5")).unwrap_err().to_string();
        assert!(e.contains("whole number"), "{e}");
    }

    #[test]
    fn under_use_and_over_ceiling_are_refused() {
        let e = check_changes(&view(), &change("requests.cpu", "1")).unwrap_err().to_string();
        assert!(e.contains("less than what the team uses now (2)"), "{e}");
        let e = check_changes(&view(), &change("requests.nvidia.com/gpu", "5")).unwrap_err().to_string();
        assert!(e.contains("above this team's ceiling of 4"), "{e}");
        let e = check_changes(&view(), &change("secrets", "5")).unwrap_err().to_string();
        assert!(e.contains("not a quota the portal manages"), "{e}");
    }

    #[test]
    fn defaults_are_checked() {
        let ok = LimitDefaults { cpu_request: "500m".into(), memory_request: "1Gi".into(), cpu_limit: "1".into(), memory_limit: "2Gi".into() };
        assert!(check_defaults(&ok).is_ok());
        let e = check_defaults(&LimitDefaults { cpu_request: "2".into(), ..ok.clone() }).unwrap_err().to_string();
        assert!(e.contains("CPU request cannot be above"), "{e}");
        let e = check_defaults(&LimitDefaults { memory_limit: "lots".into(), ..ok }).unwrap_err().to_string();
        assert!(e.contains("Default memory limit: “lots”"), "{e}");
    }

    #[test]
    fn ceiling_keys_are_valid_annotation_keys() {
        assert_eq!(ceiling_key("requests.nvidia.com/gpu"), "ceiling.atrium.io/requests.nvidia.com_gpu");
    }
}
