//! A pipeline as people author it: steps (a command, a script or a
//! notebook file, each in a runtime image of the catalog) joined by
//! dependencies, with parameters. It becomes an Argo `WorkflowTemplate`
//! (`super::workflow`); every problem is found here first, in words, at the
//! step it concerns, before anything reaches Kubernetes.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// The WorkflowTemplate's name (DNS-1123).
    pub name: String,
    pub description: String,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub default: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Work {
    /// A command line, split like a shell would (quotes group words).
    Command(String),
    /// A Python script, run as `python`.
    Script(String),
    /// A notebook file (a path in the step's image or data), executed top
    /// to bottom with `jupyter nbconvert --execute`.
    Notebook(String),
}

impl Default for Work {
    fn default() -> Work {
        Work::Command(String::new())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// A runtime image reference (`repository:tag`) from the catalog.
    pub image: String,
    pub work: Work,
    /// Steps that must succeed first.
    pub after: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The team's data connections (labelled Secrets) whose keys the step
    /// gets as environment variables, as a notebook does.
    #[serde(default)]
    pub connections: Vec<String>,
    /// CPU and memory the step asks for (Kubernetes quantities), and GPUs.
    pub cpu: String,
    pub memory: String,
    pub gpus: u32,
    /// Tries after a failure.
    pub retries: u32,
    /// Stopped after this long, if set.
    pub timeout_seconds: Option<u64>,
}

/// One thing wrong, in words; `step` names the step it concerns (none: the
/// pipeline as a whole).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub step: Option<String>,
    pub message: String,
}

/// The most one step may ask for: the team's quota in all (a step asking
/// for more could never start). Each is (amount in base units, as written).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepQuota {
    pub cpu: Option<(f64, String)>,
    pub memory: Option<(f64, String)>,
    pub gpus: Option<(f64, String)>,
}

impl StepQuota {
    /// From a ResourceQuota's `hard` (name → quantity): for each resource the
    /// smallest of its request and limit entries.
    pub fn from_hard<'a>(hard: impl IntoIterator<Item = (&'a str, &'a str)>) -> StepQuota {
        let mut q = StepQuota::default();
        for (name, amount) in hard {
            let slot = match name {
                "requests.cpu" | "limits.cpu" | "cpu" => &mut q.cpu,
                "requests.memory" | "limits.memory" | "memory" => &mut q.memory,
                "requests.nvidia.com/gpu" | "limits.nvidia.com/gpu" => &mut q.gpus,
                _ => continue,
            };
            if let Some(v) = crate::quantity::parse(amount)
                && slot.as_ref().is_none_or(|(old, _)| v < *old)
            {
                *slot = Some((v, amount.to_string()));
            }
        }
        q
    }
}

/// Steps in a pipeline at most (Argo handles more; people do not).
pub const STEPS_MAX: usize = 500;
pub const PARAMS_MAX: usize = 50;
pub const NAME_MAX: usize = 50;

/// Default requests of a step that names none.
pub const DEFAULT_CPU: &str = "500m";
pub const DEFAULT_MEMORY: &str = "512Mi";

/// Checks a pipeline's (or a step's, or a parameter's) name: lowercase
/// letters, digits and '-', starting with a letter.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("Give the {what} a name."));
    }
    if name.len() > NAME_MAX {
        return Err(format!("“{name}” is {} characters long; the limit is {NAME_MAX}.", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!("“{bad}” is not allowed in “{name}”: use lowercase letters, digits and '-'."));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("“{name}” must start with a letter."));
    }
    if name.ends_with('-') {
        return Err(format!("“{name}” must end with a letter or a digit."));
    }
    Ok(())
}

/// Parameter names as Argo accepts them in `{{workflow.parameters.x}}`.
fn check_param_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok { Ok(()) } else { Err(format!("“{name}” is not a parameter name: letters, digits, '_' and '-', starting with a letter.")) }
}

impl Pipeline {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Every problem, in the order of the steps; empty when it may be saved.
    /// `images` are the runtime images of the catalog (`repository:tag`);
    /// `connections` the team's data connections, when known.
    pub fn problems(&self, images: &[String], connections: Option<&[String]>) -> Vec<Problem> {
        let mut out = Vec::new();
        let whole = |m: String| Problem { step: None, message: m };
        if let Err(e) = check_name("pipeline", &self.name) {
            out.push(whole(e));
        }
        if self.steps.is_empty() {
            out.push(whole("Add at least one step.".into()));
        }
        if self.steps.len() > STEPS_MAX {
            out.push(whole(format!("A pipeline has at most {STEPS_MAX} steps; this one has {}.", self.steps.len())));
        }
        if self.params.len() > PARAMS_MAX {
            out.push(whole(format!("A pipeline has at most {PARAMS_MAX} parameters.")));
        }
        let mut seen = HashSet::new();
        for p in &self.params {
            if let Err(e) = check_param_name(&p.name) {
                out.push(whole(e));
            } else if !seen.insert(p.name.as_str()) {
                out.push(whole(format!("Two parameters are named “{}”.", p.name)));
            }
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for s in &self.steps {
            *names.entry(s.name.as_str()).or_default() += 1;
        }
        let has_dependents: HashSet<&str> = self.steps.iter().flat_map(|s| s.after.iter().map(String::as_str)).collect();
        for s in &self.steps {
            let mut say = |m: String| out.push(Problem { step: Some(s.name.clone()), message: m });
            if let Err(e) = check_name("step", &s.name) {
                say(e);
            } else if names[s.name.as_str()] > 1 {
                say(format!("Two steps are named “{}”.", s.name));
            }
            if s.image.trim().is_empty() {
                say("Pick a runtime image.".into());
            } else if !images.iter().any(|i| *i == s.image) {
                say(format!("“{}” is not a runtime image of the catalog.", s.image));
            }
            match &s.work {
                Work::Command(c) if c.trim().is_empty() => say("Give the command to run.".into()),
                Work::Command(c) if split_command(c).is_err() => say("The command has a quote that is never closed.".into()),
                Work::Script(src) if src.trim().is_empty() => say("The script is empty.".into()),
                Work::Notebook(p) if !p.trim().ends_with(".ipynb") => say(format!("“{}” is not a notebook file (.ipynb).", p.trim())),
                _ => {}
            }
            for d in &s.after {
                if d == &s.name {
                    say("A step cannot wait for itself.".into());
                } else if !names.contains_key(d.as_str()) {
                    say(format!("It waits for “{d}”, which is not a step of this pipeline."));
                }
            }
            if self.steps.len() > 1 && s.after.is_empty() && !has_dependents.contains(s.name.as_str()) {
                say("It is not connected to any other step.".into());
            }
            for (k, _) in &s.env {
                if let Err(e) = crate::notebooks::model::check_env_name(k) {
                    say(e);
                }
            }
            for (i, c) in s.connections.iter().enumerate() {
                if s.connections[..i].contains(c) {
                    say(format!("It uses the data connection “{c}” twice."));
                } else if connections.is_some_and(|known| !known.contains(c)) {
                    say(format!("“{c}” is not one of the team's data connections."));
                }
            }
            for (what, q) in [("CPU", &s.cpu), ("memory", &s.memory)] {
                if !q.trim().is_empty() && crate::quantity::parse(q.trim()).is_none_or(|v| v <= 0.0) {
                    say(format!("“{q}” is not an amount of {what} (e.g. {}).", if what == "CPU" { "500m or 2" } else { "512Mi or 2Gi" }));
                }
            }
            if s.gpus > 8 {
                say("A step asks for at most 8 GPUs.".into());
            }
            if s.retries > 10 {
                say("A step is retried at most 10 times.".into());
            }
            if s.timeout_seconds == Some(0) {
                say("A timeout of 0 seconds would stop the step at once.".into());
            }
        }
        for name in self.cycle() {
            out.push(Problem { step: Some(name.clone()), message: "It is part of a cycle: the steps wait for each other forever.".into() });
        }
        out
    }

    /// Steps that ask for more than the team's quota holds in all.
    pub fn quota_problems(&self, quota: &StepQuota) -> Vec<Problem> {
        let mut out = Vec::new();
        for s in &self.steps {
            let cpu = if s.cpu.trim().is_empty() { DEFAULT_CPU } else { s.cpu.trim() };
            let memory = if s.memory.trim().is_empty() { DEFAULT_MEMORY } else { s.memory.trim() };
            let gpus = s.gpus.to_string();
            for (what, asked, limit) in [("CPU", cpu, &quota.cpu), ("memory", memory, &quota.memory), ("GPUs", gpus.as_str(), &quota.gpus)] {
                if let (Some(v), Some((max, written))) = (crate::quantity::parse(asked), limit)
                    && v > *max
                {
                    out.push(Problem { step: Some(s.name.clone()), message: format!("It asks for {asked} {what}; the team's quota allows {written} in all.") });
                }
            }
        }
        out
    }

    /// Steps on a cycle of dependencies (empty when there is none).
    pub fn cycle(&self) -> Vec<String> {
        let (frees, stuck) = self.unfreed();
        // Of the steps never freed, those on a cycle are reachable from themselves.
        stuck
            .iter()
            .filter(|&&start| {
                let mut stack = frees[start].clone();
                let mut seen = HashSet::new();
                while let Some(n) = stack.pop() {
                    if n == start {
                        return true;
                    }
                    if seen.insert(n) {
                        stack.extend(frees[n].iter().copied());
                    }
                }
                false
            })
            .map(|&i| self.steps[i].name.clone())
            .collect()
    }

    /// Kahn's algorithm: for each step, the steps waiting for it; and the
    /// steps never freed (on a cycle, or behind one).
    fn unfreed(&self) -> (Vec<Vec<usize>>, Vec<usize>) {
        let index: HashMap<&str, usize> = self.steps.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let mut waiting: Vec<usize> = vec![0; self.steps.len()];
        let mut frees: Vec<Vec<usize>> = vec![Vec::new(); self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for d in s.after.iter().filter_map(|d| index.get(d.as_str())) {
                waiting[i] += 1;
                frees[*d].push(i);
            }
        }
        let mut ready: VecDeque<usize> = (0..self.steps.len()).filter(|i| waiting[*i] == 0).collect();
        while let Some(i) = ready.pop_front() {
            for &j in &frees[i] {
                waiting[j] -= 1;
                if waiting[j] == 0 {
                    ready.push_back(j);
                }
            }
        }
        let stuck = (0..self.steps.len()).filter(|i| waiting[*i] > 0).collect();
        (frees, stuck)
    }

    /// Steps by depth: the first layer waits for nothing, each next one for
    /// steps of the layers before (for drawing the diagram). Steps on or
    /// behind a cycle come last, in one layer.
    pub fn layers(&self) -> Vec<Vec<String>> {
        let (_, stuck) = self.unfreed();
        let stuck: HashSet<&str> = stuck.iter().map(|&i| self.steps[i].name.as_str()).collect();
        let mut depth: HashMap<&str, usize> = HashMap::new();
        // Steps in an order where each comes after what it waits for.
        let mut placed = true;
        while placed {
            placed = false;
            let open: Vec<&Step> = self.steps.iter().filter(|s| !stuck.contains(s.name.as_str()) && !depth.contains_key(s.name.as_str())).collect();
            for s in open {
                let deps: Option<Vec<usize>> = s
                    .after
                    .iter()
                    .filter(|a| self.step(a).is_some())
                    .map(|a| depth.get(a.as_str()).copied())
                    .collect();
                if let Some(deps) = deps {
                    depth.insert(&s.name, deps.into_iter().map(|d| d + 1).max().unwrap_or(0));
                    placed = true;
                }
            }
        }
        let deepest = depth.values().copied().max().unwrap_or(0);
        let mut out: Vec<Vec<String>> = vec![Vec::new(); deepest + 2];
        for s in &self.steps {
            let at = depth.get(s.name.as_str()).copied().unwrap_or(deepest + 1);
            out[at].push(s.name.clone());
        }
        out.retain(|l| !l.is_empty());
        out
    }
}

/// A command line split into words as a POSIX shell would for simple cases:
/// whitespace separates, single and double quotes group, backslash escapes.
pub fn split_command(line: &str) -> Result<Vec<String>, ()> {
    let (mut out, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = line.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.push(chars.next().ok_or(())?),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.push(chars.next().ok_or(())?);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(());
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "quay.io/jupyter/scipy-notebook:2025-10-20";

    fn step(name: &str, after: &[&str]) -> Step {
        Step {
            name: name.into(),
            image: IMAGE.into(),
            work: Work::Command("python -c 'print(1)'".into()),
            after: after.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    fn pipeline(steps: Vec<Step>) -> Pipeline {
        Pipeline { name: "etl".into(), steps, ..Default::default() }
    }

    fn messages(p: &Pipeline) -> Vec<(Option<String>, String)> {
        p.problems(&[IMAGE.to_string()], Some(&["s3-raw".to_string()])).into_iter().map(|p| (p.step, p.message)).collect()
    }

    #[test]
    fn a_chain_of_steps_has_no_problem() {
        let p = pipeline(vec![step("fetch", &[]), step("clean", &["fetch"]), step("train", &["clean"])]);
        assert_eq!(messages(&p), vec![]);
        assert_eq!(p.layers(), vec![vec!["fetch".to_string()], vec!["clean".into()], vec!["train".into()]]);
    }

    #[test]
    fn each_problem_is_said_at_the_step_it_concerns() {
        let mut bad = step("Clean", &["fetch", "nowhere"]);
        bad.image = "docker.io/evil:latest".into();
        bad.cpu = "lots".into();
        let mut empty = step("lonely", &[]);
        empty.work = Work::Command("echo 'unclosed".into());
        empty.connections = vec!["s3-raw".into(), "s3-other-team".into(), "s3-raw".into()];
        let p = pipeline(vec![step("fetch", &[]), bad, step("fetch", &[]), empty]);
        let got = messages(&p);
        let at = |s: &str| got.iter().filter(|(step, _)| step.as_deref() == Some(s)).map(|(_, m)| m.clone()).collect::<Vec<_>>();
        assert!(at("Clean").iter().any(|m| m.contains("“C” is not allowed")), "{got:?}");
        assert!(at("Clean").iter().any(|m| m.contains("not a runtime image of the catalog")), "{got:?}");
        assert!(at("Clean").iter().any(|m| m.contains("“nowhere”, which is not a step")), "{got:?}");
        assert!(at("Clean").iter().any(|m| m.contains("“lots” is not an amount of CPU")), "{got:?}");
        assert!(at("fetch").iter().any(|m| m.contains("Two steps are named “fetch”")), "{got:?}");
        assert!(at("lonely").contains(&"It is not connected to any other step.".to_string()), "{got:?}");
        assert!(at("lonely").contains(&"The command has a quote that is never closed.".to_string()), "{got:?}");
        assert!(at("lonely").contains(&"“s3-other-team” is not one of the team's data connections.".to_string()), "{got:?}");
        assert!(at("lonely").contains(&"It uses the data connection “s3-raw” twice.".to_string()), "{got:?}");
    }

    #[test]
    fn a_step_larger_than_the_teams_whole_quota_is_said_at_the_step() {
        let quota = StepQuota::from_hard([("requests.cpu", "4"), ("limits.cpu", "2"), ("requests.memory", "8Gi"), ("pods", "10")]);
        assert_eq!(quota.cpu, Some((2.0, "2".into())), "the smaller of request and limit");
        let big = Step { cpu: "3".into(), memory: "16Gi".into(), gpus: 1, ..step("train", &[]) };
        let p = pipeline(vec![step("fetch", &[]), Step { after: vec!["fetch".into()], ..big }]);
        let got: Vec<(Option<String>, String)> = p.quota_problems(&quota).into_iter().map(|p| (p.step, p.message)).collect();
        assert_eq!(got, vec![
            (Some("train".into()), "It asks for 3 CPU; the team's quota allows 2 in all.".into()),
            (Some("train".into()), "It asks for 16Gi memory; the team's quota allows 8Gi in all.".into()),
        ], "GPUs are not limited by this quota; fetch's defaults fit");
        assert!(p.quota_problems(&StepQuota::default()).is_empty(), "no quota, no limit");
    }

    #[test]
    fn cycles_are_found_and_named() {
        let p = pipeline(vec![step("a", &[]), step("b", &["a", "d"]), step("c", &["b"]), step("d", &["c"]), step("e", &["d"])]);
        let mut cyclic = p.cycle();
        cyclic.sort();
        assert_eq!(cyclic, vec!["b", "c", "d"], "e is behind the cycle, not on it");
        assert!(messages(&p).iter().any(|(s, m)| s.as_deref() == Some("c") && m.contains("cycle")));
        assert_eq!(p.layers().last().unwrap().len(), 4, "the stuck steps drawn last");
        assert!(messages(&pipeline(vec![step("a", &["a"])])).iter().any(|(_, m)| m == "A step cannot wait for itself."));
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(split_command(r#"python -c "print('hi there')" --x=1"#).unwrap(), vec!["python", "-c", "print('hi there')", "--x=1"]);
        assert_eq!(split_command(r"echo a\ b ''").unwrap(), vec!["echo", "a b", ""]);
        assert!(split_command("echo 'open").is_err());
    }

    #[test]
    fn a_pipeline_of_200_steps_is_checked_quickly_enough_to_check_as_one_types() {
        // Correctness at size (the time is measured in bench/): a 200-step
        // DAG, each step after the two before it.
        let steps: Vec<Step> = (0..200)
            .map(|i: usize| {
                let after: Vec<String> = (i.saturating_sub(2)..i).map(|j| format!("s{j}")).collect();
                Step { after, ..step(&format!("s{i}"), &[]) }
            })
            .collect();
        let p = pipeline(steps);
        assert_eq!(messages(&p), vec![]);
        assert_eq!(p.layers().len(), 200);
    }
}
