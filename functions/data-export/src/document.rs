//! The two shapes of an export, written row by row into the upload's buffer.
//!
//! JSON: one document `{organization, generated_at, <category>: [rows…], …}`.
//! CSV: a zip (deflated, streamed: sizes follow each file) of one RFC 4180 file per
//! category — UTF-8, a header row, every field quoted, CRLF line ends — where a field that
//! a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is
//! prefixed with `'`.

use crate::rows::columns;
use crate::upload::Buffer;
use crate::ExportError;
use serde_json::Value;
use shared::exports::Category;
use std::io::Write;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub enum Document {
    Json {
        out: Buffer,
        first_row: bool,
    },
    Csv {
        zip: Box<ZipWriter<zip::write::StreamWriter<Buffer>>>,
        category: Option<Category>,
    },
}

fn io(err: impl std::fmt::Display) -> ExportError {
    ExportError::Write(err.to_string())
}

impl Document {
    /// `organization`: what the JSON document says the export is of.
    pub fn json(
        mut out: Buffer,
        organization: &Value,
        generated_at: &str,
    ) -> Result<Self, ExportError> {
        write!(
            out,
            "{{\"organization\":{organization},\"generated_at\":{}",
            Value::String(generated_at.to_owned())
        )
        .map_err(io)?;
        Ok(Document::Json {
            out,
            first_row: true,
        })
    }

    pub fn csv(out: Buffer) -> Self {
        Document::Csv {
            zip: Box::new(ZipWriter::new_stream(out)),
            category: None,
        }
    }

    pub fn begin(&mut self, category: Category) -> Result<(), ExportError> {
        match self {
            Document::Json { out, first_row } => {
                *first_row = true;
                write!(out, ",\"{}\":[", category.as_str()).map_err(io)
            }
            Document::Csv {
                zip,
                category: current,
            } => {
                *current = Some(category);
                let options = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Deflated)
                    .large_file(true);
                zip.start_file(format!("{}.csv", category.as_str()), options)
                    .map_err(io)?;
                let header: Vec<String> = columns(category)
                    .iter()
                    .map(|(name, _)| quoted(name))
                    .collect();
                write!(zip, "{}\r\n", header.join(",")).map_err(io)
            }
        }
    }

    pub fn row(&mut self, row: &Value) -> Result<(), ExportError> {
        match self {
            Document::Json { out, first_row } => {
                if !std::mem::take(first_row) {
                    out.write_all(b",").map_err(io)?;
                }
                serde_json::to_writer(&mut *out, row).map_err(io)
            }
            Document::Csv { zip, category } => {
                let category = category.ok_or_else(|| io("a row before its category"))?;
                let fields: Vec<String> = columns(category)
                    .iter()
                    .map(|(_, pointer)| quoted(&cell(row.pointer(pointer))))
                    .collect();
                write!(zip, "{}\r\n", fields.join(",")).map_err(io)
            }
        }
    }

    pub fn end(&mut self) -> Result<(), ExportError> {
        match self {
            Document::Json { out, .. } => out.write_all(b"]").map_err(io),
            Document::Csv { .. } => Ok(()),
        }
    }

    /// Closes the document (the zip's central directory, the JSON's last brace).
    pub fn finish(self) -> Result<(), ExportError> {
        match self {
            Document::Json { mut out, .. } => out.write_all(b"}").map_err(io),
            Document::Csv { zip, .. } => zip.finish().map(drop).map_err(io),
        }
    }
}

/// A JSON value as CSV text: strings as they are, nothing as empty, anything structured
/// as its JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// RFC 4180 quoting, after the formula-injection guard.
fn quoted(field: &str) -> String {
    let guarded = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(
            quoted("say \"hi\", then\r\nleave"),
            "\"say \"\"hi\"\", then\r\nleave\""
        );
        for formula in ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(
                quoted(formula),
                format!("\"'{}\"", formula.replace('"', "\"\""))
            );
        }
        assert_eq!(quoted("naïve 日本"), "\"naïve 日本\"");
    }

    #[test]
    fn cells_of_json_values() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&Value::Null)), "");
        assert_eq!(cell(Some(&serde_json::json!(42))), "42");
        assert_eq!(cell(Some(&serde_json::json!(["a", "b"]))), "[\"a\",\"b\"]");
    }
}
