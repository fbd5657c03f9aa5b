//! Reading app files: every YAML document of every `-f FILE`, with where it came from, for
//! the subcommands that take app files (`up`, `publish`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

/// One document from an app file, with where it came from for error messages.
pub struct Document {
    /// `FILE (document N)`.
    pub origin: String,
    /// The document as parsed, e.g. `{apiVersion: kaspire.dev/v1alpha1, kind: Executable, …}`.
    pub object: Value,
    /// The directory of its file: relative paths in a spec (workingDir, envFile) mean
    /// "beside this file".
    pub source_dir: Option<PathBuf>,
}

/// Reads every document of every file; a parse error names the file.
pub fn load(files: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let values: Vec<Value> = serde_saphyr::from_multiple(&text)
            .map_err(|e| anyhow::anyhow!("{} is not valid YAML: {e}", file.display()))?;
        let source_dir = std::fs::canonicalize(file)
            .ok()
            .and_then(|f| f.parent().map(PathBuf::from));
        for (index, object) in values.into_iter().enumerate().filter(|(_, v)| !v.is_null()) {
            documents.push(Document {
                origin: format!("{} (document {})", file.display(), index + 1),
                object,
                source_dir: source_dir.clone(),
            });
        }
    }
    if documents.is_empty() {
        bail!(
            "no resources in {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(documents)
}
