//! `kaspire get [--tree] [-A|-n NS] [--all]`: one table of every kaspire resource —
//! kind, name, state, health, URLs, restarts, age and what it waits on.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::connect::connect;
use super::resources::{KINDS, Summary, age, list_all};
use crate::state_dir::StateDir;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Nest each resource under its parent (spec.parent).
    #[arg(long)]
    pub tree: bool,
    /// Every namespace.
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// The namespace to list (default: the kubeconfig's, `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Include hidden resources (spec.hidden).
    #[arg(long)]
    pub all: bool,
}

pub async fn run(state_dir: PathBuf, args: GetArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&StateDir::at(state_dir)).await?;
    let namespace = (!args.all_namespaces).then(|| {
        args.namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned())
    });
    let objects = list_all(&client, namespace.as_deref()).await?;
    let mut summaries: Vec<Summary> = objects
        .iter()
        .map(|(kind, o)| Summary::of(*kind, o))
        .filter(|s| args.all || !s.hidden)
        .collect();
    if summaries.is_empty() {
        match &namespace {
            Some(ns) => eprintln!("no kaspire resources in namespace {ns}"),
            None => eprintln!("no kaspire resources"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    summaries.sort_by_key(|s| {
        let order = KINDS.iter().position(|k| *k == s.kind).unwrap_or(0);
        (s.namespace.clone(), order, s.name.clone())
    });
    let rows = if args.tree {
        tree_order(&summaries)
    } else {
        summaries.iter().map(|s| (0, s)).collect()
    };
    print!(
        "{}",
        render(&rows, args.all_namespaces, jiff::Timestamp::now())
    );
    Ok(ExitCode::SUCCESS)
}

/// Each root followed by its descendants, depth-first, with their depth. A child whose
/// parent is not listed (hidden, absent, other namespace) is shown as a root.
fn tree_order(summaries: &[Summary]) -> Vec<(usize, &Summary)> {
    let listed: HashSet<(&str, &str)> = summaries
        .iter()
        .map(|s| (s.namespace.as_str(), s.name.as_str()))
        .collect();
    let mut children: BTreeMap<(&str, &str), Vec<&Summary>> = BTreeMap::new();
    let mut roots = Vec::new();
    for s in summaries {
        match s.parent.as_deref() {
            Some(p) if p != s.name && listed.contains(&(s.namespace.as_str(), p)) => children
                .entry((s.namespace.as_str(), p))
                .or_default()
                .push(s),
            _ => roots.push(s),
        }
    }
    fn visit<'a>(
        node: &'a Summary,
        depth: usize,
        children: &BTreeMap<(&str, &str), Vec<&'a Summary>>,
        out: &mut Vec<(usize, &'a Summary)>,
    ) {
        out.push((depth, node));
        // Admission rejects parent cycles, so depth is bounded; the cap guards a bad store.
        if depth > 32 {
            return;
        }
        for child in children
            .get(&(node.namespace.as_str(), node.name.as_str()))
            .into_iter()
            .flatten()
        {
            visit(child, depth + 1, children, out);
        }
    }
    let mut out = Vec::new();
    for root in roots {
        visit(root, 0, &children, &mut out);
    }
    out
}

/// The table, columns padded to their widest cell.
fn render(rows: &[(usize, &Summary)], with_namespace: bool, now: jiff::Timestamp) -> String {
    let mut table: Vec<Vec<String>> = vec![
        [
            "NAMESPACE",
            "KIND",
            "NAME",
            "STATE",
            "HEALTH",
            "URL",
            "RESTARTS",
            "AGE",
            "MESSAGE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (depth, s) in rows {
        let name = if *depth == 0 {
            s.name.clone()
        } else {
            format!("{}└─ {}", "   ".repeat(depth - 1), s.name)
        };
        table.push(vec![
            s.namespace.clone(),
            s.kind.kind.to_owned(),
            name,
            s.state_text(),
            or_dash(&s.health),
            or_dash(&s.urls.join(",")),
            s.restarts.to_string(),
            age(s.created, now),
            s.message.clone(),
        ]);
    }
    if !with_namespace {
        table.iter_mut().for_each(|row| {
            row.remove(0);
        });
    }
    let columns = table[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < columns {
                let pad = widths[c] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::resources::Kind;

    fn summary(kind: Kind, name: &str, parent: Option<&str>) -> Summary {
        let object: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "kaspire.dev/v1alpha1", "kind": kind.kind,
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parent": parent.map(|p| serde_json::json!({"name": p}))},
            "status": {"state": "Running"}
        }))
        .unwrap();
        Summary::of(kind, &object)
    }

    #[test]
    fn tree_nests_children_under_their_parent() {
        let all = vec![
            summary(KINDS[0], "api", None),
            summary(KINDS[1], "pg", None),
            summary(KINDS[3], "appdata", Some("pg")),
            summary(KINDS[0], "orphan", Some("gone")),
        ];
        let order: Vec<(usize, &str)> = tree_order(&all)
            .into_iter()
            .map(|(d, s)| (d, s.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [(0, "api"), (0, "pg"), (1, "appdata"), (0, "orphan")]
        );
        let text = render(&tree_order(&all), false, jiff::Timestamp::now());
        assert!(text.contains("└─ appdata"), "{text}");
        assert!(text.starts_with("KIND "), "{text}");
    }
}
