//! The platform's notebook catalog: images and sizes, ordered, each enabled
//! or not. Platform admins keep it in a ConfigMap (see `catalog_server`);
//! the create form offers the enabled entries. Every entry is checked on
//! save, so the form never offers something Kubernetes would refuse.

use crate::quantity;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEntry {
    /// Stable id, kept on notebooks made from it.
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// Repository, without the tag (`quay.io/jupyter/scipy-notebook`).
    pub image: String,
    pub tag: String,
    /// Built with CUDA: offered with GPUs.
    pub gpu: bool,
    pub enabled: bool,
}

impl ImageEntry {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.image, self.tag)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeEntry {
    pub id: String,
    pub display_name: String,
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
    pub enabled: bool,
}

impl SizeEntry {
    pub fn summary(&self) -> String {
        format!("{} CPU, {} memory", self.cpu_limit, self.memory_limit)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub images: Vec<ImageEntry>,
    pub sizes: Vec<SizeEntry>,
}

impl Catalog {
    pub fn image(&self, id: &str) -> Option<&ImageEntry> {
        self.images.iter().find(|i| i.id == id)
    }

    pub fn size(&self, id: &str) -> Option<&SizeEntry> {
        self.sizes.iter().find(|s| s.id == id)
    }

    /// Every problem with the catalog, one sentence each; empty when it may be saved.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (n, i) in self.images.iter().enumerate() {
            let at = format!("Image {} (“{}”)", n + 1, if i.display_name.is_empty() { &i.id } else { &i.display_name });
            id_problems(&at, &i.id, &mut seen, &mut out);
            if i.display_name.trim().is_empty() {
                out.push(format!("{at}: give it a display name."));
            }
            if i.image.trim().is_empty() {
                out.push(format!("{at}: the image is missing."));
            } else if i.image.chars().any(char::is_whitespace) || i.image.contains('@') {
                out.push(format!("{at}: “{}” is not an image repository.", i.image));
            } else if i.image.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                out.push(format!("{at}: put the tag in the tag field, not in “{}”.", i.image));
            }
            if i.tag.trim().is_empty() || i.tag.chars().any(|c| !(c.is_ascii_alphanumeric() || "._-".contains(c))) {
                out.push(format!("{at}: “{}” is not a tag (letters, digits, '.', '_', '-').", i.tag));
            }
        }
        seen.clear();
        for (n, s) in self.sizes.iter().enumerate() {
            let at = format!("Size {} (“{}”)", n + 1, if s.display_name.is_empty() { &s.id } else { &s.display_name });
            id_problems(&at, &s.id, &mut seen, &mut out);
            if s.display_name.trim().is_empty() {
                out.push(format!("{at}: give it a display name."));
            }
            for (what, request, limit) in
                [("CPU", &s.cpu_request, &s.cpu_limit), ("memory", &s.memory_request, &s.memory_limit)]
            {
                match (quantity::parse(request), quantity::parse(limit)) {
                    (None, _) => out.push(format!("{at}: the {what} request “{request}” is not a quantity (like 500m, 2, 8Gi).")),
                    (_, None) => out.push(format!("{at}: the {what} limit “{limit}” is not a quantity (like 500m, 2, 8Gi).")),
                    (Some(r), Some(l)) if r > l => {
                        out.push(format!("{at}: the {what} request {request} is more than its limit {limit}."))
                    }
                    (Some(r), _) if r <= 0.0 => out.push(format!("{at}: the {what} request must be more than zero.")),
                    _ => {}
                }
            }
        }
        if !self.images.iter().any(|i| i.enabled) {
            out.push("Keep at least one image enabled, or nobody can create a notebook.".into());
        }
        if !self.sizes.iter().any(|s| s.enabled) {
            out.push("Keep at least one size enabled, or nobody can create a notebook.".into());
        }
        out
    }

    /// The catalog a fresh installation starts with.
    pub fn starter() -> Catalog {
        let image = |id: &str, name: &str, description: &str, image: &str, tag: &str, gpu: bool| ImageEntry {
            id: id.into(),
            display_name: name.into(),
            description: description.into(),
            image: image.into(),
            tag: tag.into(),
            gpu,
            enabled: true,
        };
        let size = |id: &str, name: &str, cpu: (&str, &str), memory: (&str, &str)| SizeEntry {
            id: id.into(),
            display_name: name.into(),
            cpu_request: cpu.0.into(),
            cpu_limit: cpu.1.into(),
            memory_request: memory.0.into(),
            memory_limit: memory.1.into(),
            enabled: true,
        };
        Catalog {
            images: vec![
                image("minimal", "Minimal Python", "JupyterLab with Python 3 and nothing else.", "quay.io/jupyter/minimal-notebook", "2025-06-02", false),
                image("datascience", "Data science", "pandas, scikit-learn, matplotlib, R and Julia.", "quay.io/jupyter/datascience-notebook", "2025-06-02", false),
                image("pytorch-cuda", "PyTorch (CUDA)", "PyTorch with CUDA 12 for GPU training.", "quay.io/jupyter/pytorch-notebook", "cuda12-2025-06-02", true),
            ],
            sizes: vec![
                size("small", "Small", ("500m", "1"), ("1Gi", "2Gi")),
                size("medium", "Medium", ("1", "2"), ("4Gi", "8Gi")),
                size("large", "Large", ("2", "4"), ("8Gi", "16Gi")),
            ],
        }
    }
}

fn id_problems(at: &str, id: &str, seen: &mut std::collections::HashSet<String>, out: &mut Vec<String>) {
    if id.is_empty() || id.len() > 40 || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        out.push(format!("{at}: the id “{id}” must be lowercase letters, digits and '-' (at most 40)."));
    } else if !seen.insert(id.to_string()) {
        out.push(format!("{at}: the id “{id}” is used twice."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_catalog_is_valid() {
        assert_eq!(Catalog::starter().problems(), Vec::<String>::new());
    }

    #[test]
    fn bad_entries_are_named_with_the_reason() {
        let mut c = Catalog::starter();
        c.sizes[0].memory_limit = "lots".into();
        c.sizes[1].cpu_request = "8".into();
        c.images[0].image = String::new();
        c.images[1].image = "quay.io/jupyter/x:latest".into();
        c.images[2].id = "minimal".into();
        let p = c.problems();
        assert!(p.contains(&"Size 1 (“Small”): the memory limit “lots” is not a quantity (like 500m, 2, 8Gi).".to_string()), "{p:?}");
        assert!(p.contains(&"Size 2 (“Medium”): the CPU request 8 is more than its limit 2.".to_string()), "{p:?}");
        assert!(p.contains(&"Image 1 (“Minimal Python”): the image is missing.".to_string()), "{p:?}");
        assert!(p.iter().any(|m| m.contains("put the tag in the tag field")), "{p:?}");
        assert!(p.iter().any(|m| m.contains("the id “minimal” is used twice")), "{p:?}");
    }

    #[test]
    fn all_disabled_is_refused() {
        let mut c = Catalog::starter();
        c.images.iter_mut().for_each(|i| i.enabled = false);
        assert!(c.problems().iter().any(|m| m.contains("at least one image")));
    }
}
