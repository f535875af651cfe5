//! Just enough HTTP/1.1 for the Runtime API: request line, headers, a body sent with
//! `Content-Length` or chunked, and keep-alive.

use serde_json::Value;
use std::io::{BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Request {
    pub method: String,
    pub path: String,
    body: Vec<u8>,
}

impl Request {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or as a JSON string when it is not JSON.
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.body_text()))
    }
}

fn line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// The next request on the connection; `None` when the peer closed it.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let Some(request_line) = line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid("request line"));
    };
    let (mut length, mut chunked) = (0usize, false);
    while let Some(header) = line(reader)? {
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').ok_or_else(|| invalid("header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| invalid("content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        body,
    }))
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = line(reader)?.ok_or_else(|| invalid("chunk size"))?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("chunk size"))?;
        if size == 0 {
            // Trailers, then the empty line that ends the message.
            while line(reader)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line(reader)?;
    }
}

pub struct Response {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Response {
    pub fn accepted() -> Self {
        Self::json("202 Accepted", r#"{"status":"OK"}"#.into())
    }

    pub fn not_found() -> Self {
        Self::json("404 Not Found", r#"{"errorType":"NotFound"}"#.into())
    }

    pub fn gone() -> Self {
        Self::json("410 Gone", r#"{"errorType":"RuntimeApiClosed"}"#.into())
    }

    /// An invocation, with the headers Lambda sends beside the event.
    pub fn invocation(id: &str, event: String) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut response = Self::json("200 OK", event);
        response.headers.extend([
            ("Lambda-Runtime-Aws-Request-Id", id.to_owned()),
            ("Lambda-Runtime-Deadline-Ms", (now_ms + 30_000).to_string()),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:local".to_owned(),
            ),
            (
                "Lambda-Runtime-Trace-Id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
            ),
        ]);
        response
    }

    fn json(status: &'static str, body: String) -> Self {
        Response {
            status,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body,
        }
    }
}

pub fn write_response(writer: &mut impl Write, response: &Response) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", response.body.len()));
    // One write: a head and a body written apart on a kept-alive connection wait for the
    // peer's delayed ACK (Nagle), 40 ms on Linux, which is the emulator's, not the
    // function's.
    head.push_str(&response.body);
    writer.write_all(head.as_bytes())?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_length_and_chunked_bodies_on_one_connection() {
        let raw = b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\
POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        let mut reader = std::io::BufReader::new(&raw[..]);
        let first = read_request(&mut reader).unwrap().unwrap();
        assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/a"));
        assert_eq!(first.body_json(), serde_json::json!({}));
        let second = read_request(&mut reader).unwrap().unwrap();
        assert_eq!(second.path, "/b");
        assert_eq!(second.body_json(), serde_json::json!([1, 2]));
        assert!(read_request(&mut reader).unwrap().is_none());
    }

    #[test]
    fn a_bad_chunk_size_is_an_error_not_a_hang() {
        let raw = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(read_request(&mut std::io::BufReader::new(&raw[..])).is_err());
    }
}
