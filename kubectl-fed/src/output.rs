//! kubectl-like output: aligned tables, ages, YAML/JSON documents.

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use serde_json::Value;

/// `-o` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// YAML documents
    Yaml,
    /// JSON (a `List` when there are several objects)
    Json,
    /// The table with extra columns
    Wide,
}

impl OutputFormat {
    /// True for the machine-readable formats.
    pub fn is_document(self) -> bool {
        matches!(self, OutputFormat::Yaml | OutputFormat::Json)
    }
}

/// A table that renders like `kubectl get`: upper-case headers, columns left-aligned and
/// separated by three spaces, no trailing padding.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(headers: I) -> Table {
        Table { headers: headers.into_iter().map(|h| h.into().to_uppercase()).collect(), rows: Vec::new() }
    }

    pub fn push<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, row: I) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len().max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                line.push_str(cell);
                if i + 1 < columns {
                    line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 3));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Print to stdout.
    pub fn print(&self) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.render().as_bytes());
    }
}

/// kubectl's `HumanDuration`: `5s`, `2m30s`, `3h`, `2d4h`, `3y`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{days}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

/// Age of an object from its creation timestamp (`<unknown>` when unset).
pub fn age(created: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    match created {
        Some(t) => {
            let now = k8s_openapi::jiff::Timestamp::now();
            human_duration(now.as_second() - t.0.as_second())
        }
        None => "<unknown>".to_string(),
    }
}

/// Remove `metadata.managedFields` (kubectl hides it by default).
pub fn strip_managed_fields(v: &mut Value) {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

/// What a redacted Secret value reads as. Not base64, so a redacted document piped to
/// `kubectl apply` fails instead of storing a wrong value.
pub const REDACTED: &str = "<redacted>";

/// Replace every value of a Secret's `data` and `stringData` (and of a FederatedSecret's
/// template) with [`REDACTED`], keeping the keys: member tokens and private keys never reach
/// a terminal or a log through `-o yaml|json`.
pub fn redact_secrets(v: &mut Value) {
    let holder = match (v["apiVersion"].as_str(), v["kind"].as_str()) {
        (Some("v1"), Some("Secret")) => Some(&mut *v),
        (Some(api), Some("FederatedSecret")) if api.starts_with("types.kubefed.io/") => v.pointer_mut("/spec/template"),
        _ => None,
    };
    let Some(holder) = holder else { return };
    for field in ["data", "stringData"] {
        if let Some(entries) = holder.get_mut(field).and_then(Value::as_object_mut) {
            entries.values_mut().for_each(|value| *value = Value::String(REDACTED.to_string()));
        }
    }
}

/// Render objects as YAML documents (`---` separated) or JSON (one object, or a `List`);
/// Secret values are redacted ([`redact_secrets`]).
pub fn render_documents(format: OutputFormat, mut objects: Vec<Value>) -> Result<String> {
    objects.iter_mut().for_each(strip_managed_fields);
    objects.iter_mut().for_each(redact_secrets);
    Ok(match format {
        OutputFormat::Json => {
            let doc = if objects.len() == 1 {
                objects.pop().expect("one object")
            } else {
                serde_json::json!({ "apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects })
            };
            let mut s = serde_json::to_string_pretty(&doc)?;
            s.push('\n');
            s
        }
        _ => {
            let mut s = String::new();
            for (i, o) in objects.iter().enumerate() {
                if i > 0 {
                    s.push_str("---\n");
                }
                s.push_str(&serde_yaml::to_string(o)?);
            }
            s
        }
    })
}

/// Print objects as documents to stdout.
pub fn print_documents(format: OutputFormat, objects: Vec<Value>) -> Result<()> {
    let text = render_documents(format, objects)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(())
}

/// A progress or warning note: to stderr, so stdout stays parseable.
pub fn note(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

/// `Warning: …` on stderr, like kubectl.
pub fn warn(msg: impl AsRef<str>) {
    eprintln!("Warning: {}", msg.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_like_kubectl() {
        let mut t = Table::new(["name", "ready", "endpoint", "labels", "age"]);
        t.push(["earth", "True", "https://127.0.0.1:16443", "kubefed.io/host=true", "5m"]);
        t.push(["vulcan", "Unknown", "https://127.0.0.1:16444", "<none>", "12s"]);
        assert_eq!(
            t.render(),
            "NAME     READY     ENDPOINT                  LABELS                 AGE\n\
             earth    True      https://127.0.0.1:16443   kubefed.io/host=true   5m\n\
             vulcan   Unknown   https://127.0.0.1:16444   <none>                 12s\n"
        );
    }

    #[test]
    fn empty_last_cells_leave_no_trailing_spaces() {
        let mut t = Table::new(["kind", "message"]);
        t.push(["Deployment", ""]);
        assert_eq!(t.render(), "KIND         MESSAGE\nDeployment\n");
    }

    #[test]
    fn ages_match_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 120, "3h2m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (2 * 86400, "2d"),
            (2 * 86400 + 3 * 3600, "2d3h"),
            (8 * 86400, "8d"),
            (400 * 86400, "400d"),
            (2 * 365 * 86400, "2y"),
            (2 * 365 * 86400 + 10 * 86400, "2y10d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn secret_values_are_redacted_keys_kept() {
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vulcan-token"},
            "data": {"token": "c2VjcmV0"}, "stringData": {"ca": "plain"}, "type": "Opaque"});
        let fed_secret = serde_json::json!({"apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedSecret",
            "metadata": {"name": "s"}, "spec": {"template": {"data": {"k": "c2VjcmV0"}}}});
        let config_map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"token": "c2VjcmV0"}});
        let text = render_documents(OutputFormat::Json, vec![secret.clone(), fed_secret, config_map.clone()]).unwrap();
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list["items"][0]["data"], serde_json::json!({"token": REDACTED}));
        assert_eq!(list["items"][0]["stringData"], serde_json::json!({"ca": REDACTED}));
        assert_eq!(list["items"][0]["type"], "Opaque");
        assert_eq!(list["items"][1]["spec"]["template"]["data"], serde_json::json!({"k": REDACTED}));
        assert_eq!(list["items"][2], config_map, "only secrets");
        let yaml = render_documents(OutputFormat::Yaml, vec![secret]).unwrap();
        assert!(!yaml.contains("c2VjcmV0") && !yaml.contains("plain") && yaml.contains("token: <redacted>"), "{yaml}");
    }

    #[test]
    fn documents_render_as_yaml_stream_or_json_list() {
        let objs = vec![
            serde_json::json!({"kind": "A", "metadata": {"name": "a", "managedFields": [1]}}),
            serde_json::json!({"kind": "B"}),
        ];
        let yaml = render_documents(OutputFormat::Yaml, objs.clone()).unwrap();
        assert_eq!(yaml, "kind: A\nmetadata:\n  name: a\n---\nkind: B\n");
        let json: Value = serde_json::from_str(&render_documents(OutputFormat::Json, objs).unwrap()).unwrap();
        assert_eq!(json["kind"], "List");
        assert_eq!(json["items"][1]["kind"], "B");
    }
}
