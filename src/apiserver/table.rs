//! `meta.k8s.io/v1` Table output, which `kubectl get` asks for and prints verbatim.
//!
//! Cells follow kube-apiserver's custom-resource table convertor: a missing value is
//! `null` (kubectl leaves the cell blank), `date` columns are rendered server-side as a
//! human age such as `5m10s`, and other types keep their JSON type.

use serde_json::{Map, Value, json};

/// A printer column (`additionalPrinterColumns` entry); the table uses the resource model's type.
pub use super::resource::PrinterColumn as Column;

/// Which form of each object a Table row carries (`includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object at all.
    None,
    /// A `PartialObjectMetadata` with the object's metadata (kubectl's default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query value; absent or empty means `Metadata`.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// `ObjectMeta.name`'s documentation, which kube-apiserver uses for the Name column.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `ObjectMeta.creationTimestamp`'s documentation, used for the default Age column.
const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// Builds a Table: columns Name + the printer columns (Age `.metadata.creationTimestamp`, type date, only when `columns` is empty);
/// one row per object with `cells` and `object` (PartialObjectMetadata {kind: PartialObjectMetadata, apiVersion: meta.k8s.io/v1, metadata} by default, the whole object with Object, nothing with None).
/// `list_metadata` (resourceVersion, continue) goes into the Table's `metadata`.
pub fn table(
    columns: &[Column],
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
) -> Value {
    table_at(
        columns,
        objects,
        include,
        list_metadata,
        jiff::Timestamp::now(),
    )
}

/// [`table`] with the clock passed in, so ages are deterministic in tests.
fn table_at(
    columns: &[Column],
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
    now: jiff::Timestamp,
) -> Value {
    let age;
    let columns = if columns.is_empty() {
        age = [Column {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: CREATION_TIMESTAMP_DESCRIPTION.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
        &age[..]
    } else {
        columns
    };

    let mut definitions = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": NAME_DESCRIPTION,
        "priority": 0,
    })];
    definitions.extend(columns.iter().map(|c| {
        // kube-apiserver's fallback when a CRD column has no description.
        let description = if c.description.is_empty() {
            format!(
                "Custom resource definition column (in JSONPath format): {}",
                c.json_path
            )
        } else {
            c.description.clone()
        };
        json!({
            "name": c.name,
            "type": c.type_,
            "format": c.format,
            "description": description,
            "priority": c.priority,
        })
    }));

    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut cells = Vec::with_capacity(columns.len() + 1);
            cells.push(obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null));
            cells.extend(columns.iter().map(|c| cell(&c.type_, eval_json_path(obj, &c.json_path), now)));
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    let metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
                    row.insert(
                        "object".into(),
                        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}),
                    );
                }
                IncludeObject::Object => {
                    row.insert("object".into(), (*obj).clone());
                }
            }
            Value::Object(row)
        })
        .collect();

    let metadata = if list_metadata.is_object() {
        list_metadata
    } else {
        json!({})
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// One cell, converted by the column type as kube-apiserver's `cellForJSONValue` does:
/// a value of the wrong type becomes `null`, which kubectl prints as an empty cell.
fn cell(type_: &str, value: Option<Value>, now: jiff::Timestamp) -> Value {
    let Some(value) = value else {
        return Value::Null;
    };
    match (type_, &value) {
        ("string", Value::String(_)) => value,
        // The real server prints any scalar into a string column.
        ("string", Value::Number(_) | Value::Bool(_)) => Value::String(value.to_string()),
        ("string", Value::Array(_) | Value::Object(_)) => Value::String(value.to_string()),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => json!(i),
            None => n.as_f64().map_or(Value::Null, |f| json!(f.trunc() as i64)),
        },
        ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => value,
        ("date", Value::String(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(ts) => Value::String(human_duration(now.duration_since(ts).as_secs())),
            Err(_) => Value::String("<invalid>".into()),
        },
        _ => Value::Null,
    }
}

/// An age such as `45s`, `5m10s`, `3h`, `2d4h` or `3y12d`, exactly as Kubernetes'
/// `duration.HumanDuration` writes it (~2–3 significant figures).
fn human_duration(seconds: i64) -> String {
    // Up to a second in the future is clock skew and reads as now.
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Evaluates a Kubernetes printer-column JSONPath like `.status.state`, `.status.endpoints[0].url`, `.metadata.labels.app`, `.spec.containers[*].name` (joined with ","), returning the JSON value (or None).
///
/// Also understands `{...}` wrapping, `$`, quoted keys (`['app.kubernetes.io/name']`),
/// escaped dots (`.labels.app\.kubernetes\.io/name`), negative indexes, `.*` and filters
/// such as `.status.conditions[?(@.type=="Ready")].status`. A missing key, an
/// out-of-range index, a `null` value or an unparseable path gives `None`.
pub fn eval_json_path(obj: &Value, path: &str) -> Option<Value> {
    let segments = parse_path(path)?;
    let mut results = eval(obj, &segments);
    results.retain(|v| !v.is_null());
    match results.len() {
        0 => None,
        1 => Some(results[0].clone()),
        _ => {
            let texts: Vec<String> = results
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            Some(Value::String(texts.join(",")))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    /// `[*]` or `.*`: every array element or object value.
    Wildcard,
    /// `[?(@.path)]` (existence) or `[?(@.path == literal)]` / `!=`.
    Filter {
        path: Vec<Segment>,
        compare: Option<(bool, Value)>,
    },
}

fn eval<'a>(root: &'a Value, segments: &[Segment]) -> Vec<&'a Value> {
    let mut current = vec![root];
    for segment in segments {
        let mut next = Vec::new();
        for value in current {
            match (segment, value) {
                (Segment::Field(name), Value::Object(map)) => next.extend(map.get(name)),
                (Segment::Index(i), Value::Array(items)) => {
                    let index = if *i < 0 { items.len() as i64 + i } else { *i };
                    if let Ok(index) = usize::try_from(index) {
                        next.extend(items.get(index));
                    }
                }
                (Segment::Wildcard, Value::Array(items)) => next.extend(items.iter()),
                (Segment::Wildcard, Value::Object(map)) => next.extend(map.values()),
                (Segment::Filter { path, compare }, Value::Array(items)) => {
                    next.extend(
                        items
                            .iter()
                            .filter(|item| filter_holds(item, path, compare.as_ref())),
                    );
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

fn filter_holds(item: &Value, path: &[Segment], compare: Option<&(bool, Value)>) -> bool {
    let found = eval(item, path);
    match compare {
        None => found.iter().any(|v| !v.is_null()),
        Some((equals, literal)) => {
            let same = found.first().is_some_and(|v| match (v, literal) {
                (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                (a, b) => *a == b,
            });
            same == *equals
        }
    }
}

/// Parses the supported JSONPath subset; `None` for anything else.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut path = path.trim();
    if let Some(inner) = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        path = inner.trim();
    }
    let path = path.strip_prefix('$').unwrap_or(path);
    let chars: Vec<char> = path.chars().collect();
    let mut pos = 0;
    let segments = parse_segments(&chars, &mut pos)?;
    // An empty path would print the whole object, which no printer column means.
    (pos == chars.len() && !segments.is_empty()).then_some(segments)
}

/// Parses `.field`, `.*` and `[...]` segments until the input ends or a character that
/// cannot start a segment (a filter's operator or closing parenthesis).
fn parse_segments(chars: &[char], pos: &mut usize) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    while *pos < chars.len() {
        match chars[*pos] {
            '.' => {
                *pos += 1;
                if chars.get(*pos) == Some(&'*') {
                    *pos += 1;
                    segments.push(Segment::Wildcard);
                    continue;
                }
                let mut name = String::new();
                while let Some(&c) = chars.get(*pos) {
                    match c {
                        '\\' if chars.get(*pos + 1) == Some(&'.') => {
                            name.push('.');
                            *pos += 2;
                        }
                        '.' | '[' | ' ' | '=' | '!' | '<' | '>' | ')' => break,
                        c => {
                            name.push(c);
                            *pos += 1;
                        }
                    }
                }
                if name.is_empty() {
                    // `..` (recursive descent) and a trailing `.` are not supported.
                    return None;
                }
                segments.push(Segment::Field(name));
            }
            '[' => {
                *pos += 1;
                segments.push(parse_bracket(chars, pos)?);
                if chars.get(*pos) != Some(&']') {
                    return None;
                }
                *pos += 1;
            }
            _ => break,
        }
    }
    Some(segments)
}

/// The inside of `[...]`, leaving `pos` on the closing bracket.
fn parse_bracket(chars: &[char], pos: &mut usize) -> Option<Segment> {
    skip_spaces(chars, pos);
    match chars.get(*pos)? {
        '*' => {
            *pos += 1;
            Some(Segment::Wildcard)
        }
        '\'' | '"' => {
            let name = parse_quoted(chars, pos)?;
            skip_spaces(chars, pos);
            Some(Segment::Field(name))
        }
        '?' => {
            *pos += 1;
            expect(chars, pos, '(')?;
            skip_spaces(chars, pos);
            expect(chars, pos, '@')?;
            let path = parse_segments(chars, pos)?;
            skip_spaces(chars, pos);
            let compare = match (chars.get(*pos), chars.get(*pos + 1)) {
                (Some('='), Some('=')) | (Some('!'), Some('=')) => {
                    let equals = chars[*pos] == '=';
                    *pos += 2;
                    skip_spaces(chars, pos);
                    Some((equals, parse_literal(chars, pos)?))
                }
                _ => None,
            };
            skip_spaces(chars, pos);
            expect(chars, pos, ')')?;
            skip_spaces(chars, pos);
            Some(Segment::Filter { path, compare })
        }
        _ => {
            let start = *pos;
            while chars.get(*pos).is_some_and(|c| *c != ']') {
                *pos += 1;
            }
            let text: String = chars[start..*pos].iter().collect();
            text.trim().parse().ok().map(Segment::Index)
        }
    }
}

fn parse_quoted(chars: &[char], pos: &mut usize) -> Option<String> {
    let quote = chars[*pos];
    *pos += 1;
    let mut text = String::new();
    loop {
        match *chars.get(*pos)? {
            '\\' => {
                text.push(*chars.get(*pos + 1)?);
                *pos += 2;
            }
            c if c == quote => {
                *pos += 1;
                return Some(text);
            }
            c => {
                text.push(c);
                *pos += 1;
            }
        }
    }
}

/// A filter's right-hand side: a quoted string, a number, `true`/`false` or `null`.
fn parse_literal(chars: &[char], pos: &mut usize) -> Option<Value> {
    if matches!(chars.get(*pos), Some('\'' | '"')) {
        return parse_quoted(chars, pos).map(Value::String);
    }
    let start = *pos;
    while chars
        .get(*pos)
        .is_some_and(|c| !c.is_whitespace() && *c != ')')
    {
        *pos += 1;
    }
    let text: String = chars[start..*pos].iter().collect();
    serde_json::from_str(&text)
        .ok()
        .filter(|v: &Value| !v.is_array() && !v.is_object())
}

fn skip_spaces(chars: &[char], pos: &mut usize) {
    while chars.get(*pos).is_some_and(|c| c.is_whitespace()) {
        *pos += 1;
    }
}

fn expect(chars: &[char], pos: &mut usize, c: char) -> Option<()> {
    (chars.get(*pos) == Some(&c)).then(|| *pos += 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget() -> Value {
        json!({
            "apiVersion": "example.dev/v1",
            "kind": "Widget",
            "metadata": {
                "name": "w1",
                "namespace": "default",
                "creationTimestamp": "2025-01-01T00:00:00Z",
                "labels": {"app": "web", "app.kubernetes.io/name": "shop"},
                "resourceVersion": "7",
            },
            "spec": {
                "replicas": 3,
                "ratio": 1.5,
                "paused": false,
                "containers": [{"name": "api", "port": 80}, {"name": "sidecar"}],
                "empty": [],
            },
            "status": {
                "state": "Running",
                "endpoints": [{"url": "http://127.0.0.1:8080"}],
                "conditions": [
                    {"type": "Progressing", "status": "False"},
                    {"type": "Ready", "status": "True", "count": 2},
                ],
                "note": null,
            },
        })
    }

    fn col(name: &str, type_: &str, json_path: &str) -> Column {
        Column {
            name: name.into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: json_path.into(),
        }
    }

    fn at(rfc3339: &str) -> jiff::Timestamp {
        rfc3339.parse().unwrap()
    }

    #[test]
    fn json_path_fields_and_indexes() {
        let w = widget();
        assert_eq!(eval_json_path(&w, ".status.state"), Some(json!("Running")));
        assert_eq!(
            eval_json_path(&w, ".status.endpoints[0].url"),
            Some(json!("http://127.0.0.1:8080"))
        );
        assert_eq!(
            eval_json_path(&w, ".metadata.labels.app"),
            Some(json!("web"))
        );
        assert_eq!(eval_json_path(&w, ".spec.replicas"), Some(json!(3)));
        assert_eq!(eval_json_path(&w, ".spec.paused"), Some(json!(false)));
        assert_eq!(
            eval_json_path(&w, ".spec.containers[-1].name"),
            Some(json!("sidecar"))
        );
        assert_eq!(
            eval_json_path(&w, "{.status.state}"),
            Some(json!("Running"))
        );
        assert_eq!(eval_json_path(&w, "$.status.state"), Some(json!("Running")));
        assert_eq!(
            eval_json_path(&w, ".spec.containers[0]"),
            Some(json!({"name": "api", "port": 80}))
        );
    }

    #[test]
    fn json_path_missing_values_are_none() {
        let w = widget();
        for path in [
            ".status.missing",
            ".nope.deeper.still",
            ".status.endpoints[5].url",
            ".status.endpoints[-9].url",
            ".spec.empty[0]",
            ".spec.empty[*].name",
            ".status.note",
            ".status.state.inner",
            ".spec.replicas[0]",
            ".spec.containers.name",
        ] {
            assert_eq!(eval_json_path(&w, path), None, "{path}");
        }
    }

    #[test]
    fn json_path_wildcards_join_with_commas() {
        let w = widget();
        assert_eq!(
            eval_json_path(&w, ".spec.containers[*].name"),
            Some(json!("api,sidecar"))
        );
        assert_eq!(
            eval_json_path(&w, ".spec.containers[*].port"),
            Some(json!(80))
        );
        assert_eq!(
            eval_json_path(&w, ".status.conditions[*].type"),
            Some(json!("Progressing,Ready"))
        );
        assert_eq!(
            eval_json_path(&w, ".metadata.labels.*"),
            Some(json!("web,shop"))
        );
    }

    #[test]
    fn json_path_quoted_and_escaped_keys() {
        let w = widget();
        assert_eq!(
            eval_json_path(&w, ".metadata.labels['app.kubernetes.io/name']"),
            Some(json!("shop"))
        );
        assert_eq!(
            eval_json_path(&w, ".metadata.labels[\"app\"]"),
            Some(json!("web"))
        );
        assert_eq!(
            eval_json_path(&w, r".metadata.labels.app\.kubernetes\.io/name"),
            Some(json!("shop"))
        );
    }

    #[test]
    fn json_path_filters() {
        let w = widget();
        assert_eq!(
            eval_json_path(&w, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(
            eval_json_path(&w, ".status.conditions[?(@.type == 'Ready')].status"),
            Some(json!("True"))
        );
        assert_eq!(
            eval_json_path(&w, ".status.conditions[?(@.type!=\"Ready\")].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(
            eval_json_path(&w, ".status.conditions[?(@.count==2)].type"),
            Some(json!("Ready"))
        );
        assert_eq!(
            eval_json_path(&w, ".status.conditions[?(@.count)].type"),
            Some(json!("Ready"))
        );
        assert_eq!(
            eval_json_path(&w, ".status.conditions[?(@.type==\"Gone\")].status"),
            None
        );
    }

    #[test]
    fn json_path_syntax_errors_are_none() {
        let w = widget();
        for path in [
            "",
            ".",
            "status.state",
            ".status..state",
            ".spec.containers[",
            ".spec.containers[x]",
            ".a[?(@.b==)]",
        ] {
            assert_eq!(eval_json_path(&w, path), None, "{path:?}");
        }
    }

    #[test]
    fn default_table_has_name_and_age() {
        let w = widget();
        let t = table_at(
            &[],
            &[&w],
            IncludeObject::Metadata,
            json!({"resourceVersion": "9"}),
            at("2025-01-01T00:05:10Z"),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "9"}));
        let defs = t["columnDefinitions"].as_array().unwrap();
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0]["name"], "Name");
        assert_eq!(defs[0]["type"], "string");
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[0]["priority"], 0);
        assert!(
            defs[0]["description"]
                .as_str()
                .unwrap()
                .starts_with("Name must be unique within a namespace")
        );
        assert_eq!(defs[1]["name"], "Age");
        assert_eq!(defs[1]["type"], "date");
        assert_eq!(defs[1]["format"], "");
        assert!(
            defs[1]["description"]
                .as_str()
                .unwrap()
                .starts_with("CreationTimestamp is a timestamp")
        );
        let rows = t["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["cells"], json!(["w1", "5m10s"]));
        assert_eq!(
            rows[0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": w["metadata"]})
        );
    }

    #[test]
    fn printer_columns_replace_age_and_keep_json_types() {
        let w = widget();
        let mut described = col(
            "Ready",
            "string",
            ".status.conditions[?(@.type==\"Ready\")].status",
        );
        described.description = "whether it is ready".into();
        described.priority = 1;
        let columns = [
            col("State", "string", ".status.state"),
            col("Replicas", "integer", ".spec.replicas"),
            col("Ratio", "number", ".spec.ratio"),
            col("Paused", "boolean", ".spec.paused"),
            col("Created", "date", ".metadata.creationTimestamp"),
            col("URL", "string", ".status.endpoints[0].url"),
            col("Missing", "string", ".status.missing"),
            described,
            col("Containers", "string", ".spec.containers[*].name"),
            col("ReplicasText", "string", ".spec.replicas"),
            col("WrongType", "integer", ".status.state"),
            col("TruncatedInt", "integer", ".spec.ratio"),
        ];
        let t = table_at(
            &columns,
            &[&w],
            IncludeObject::None,
            json!({}),
            at("2025-01-03T04:00:00Z"),
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names[0], "Name");
        assert_eq!(names.len(), columns.len() + 1);
        assert!(!names.contains(&"Age"));
        let ready = &t["columnDefinitions"][8];
        assert_eq!(ready["description"], "whether it is ready");
        assert_eq!(ready["priority"], 1);
        assert_eq!(
            t["columnDefinitions"][1]["description"],
            "Custom resource definition column (in JSONPath format): .status.state"
        );
        let row = &t["rows"][0];
        assert_eq!(
            row["cells"],
            json!([
                "w1",
                "Running",
                3,
                1.5,
                false,
                "2d4h",
                "http://127.0.0.1:8080",
                null,
                "True",
                "api,sidecar",
                "3",
                null,
                1
            ])
        );
        assert!(row.get("object").is_none());
    }

    #[test]
    fn include_object_forms() {
        let w = widget();
        let t = table_at(
            &[],
            &[&w, &w],
            IncludeObject::Object,
            Value::Null,
            at("2025-01-01T00:00:00Z"),
        );
        assert_eq!(t["metadata"], json!({}));
        assert_eq!(t["rows"].as_array().unwrap().len(), 2);
        assert_eq!(t["rows"][1]["object"], w);
        assert_eq!(t["rows"][0]["cells"][1], "0s");

        let empty = table(
            &[],
            &[],
            IncludeObject::default(),
            json!({"resourceVersion": "1", "continue": "abc"}),
        );
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["metadata"]["continue"], "abc");

        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
        assert_eq!(
            IncludeObject::parse(Some("Object")),
            Ok(IncludeObject::Object)
        );
        assert_eq!(IncludeObject::parse(Some("None")), Ok(IncludeObject::None));
        assert!(IncludeObject::parse(Some("All")).is_err());
    }

    #[test]
    fn bad_and_missing_dates() {
        let mut w = widget();
        w["metadata"]["creationTimestamp"] = json!("yesterday");
        let t = table_at(
            &[],
            &[&w],
            IncludeObject::None,
            json!({}),
            at("2025-01-01T00:00:00Z"),
        );
        assert_eq!(t["rows"][0]["cells"][1], "<invalid>");
        w["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("creationTimestamp");
        let t = table_at(
            &[],
            &[&w],
            IncludeObject::None,
            json!({}),
            at("2025-01-01T00:00:00Z"),
        );
        assert_eq!(t["rows"][0]["cells"][1], Value::Null);
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (310, "5m10s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 120, "3h2m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (52 * 3600, "2d4h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (742 * 86400, "2y12d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_duration(seconds), want, "{seconds}s");
        }
    }
}
