//! An MCP server's registration: where the gateway reaches it and how.

use serde_json::Value;

/// An http(s) URL without credentials in it, at most 2,048 characters.
pub struct McpUrl(String);

impl McpUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() > 2048 {
            return Err("must be at most 2048 characters".into());
        }
        let url = url::Url::parse(raw)
            .map_err(|_| "must be an absolute http or https URL".to_string())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err("must be an absolute http or https URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain credentials; put them in the config".into());
        }
        Ok(McpUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const TRANSPORTS: &[&str] = &["streamable_http", "sse"];

pub fn parse_transport(raw: &str) -> Result<String, String> {
    if TRANSPORTS.contains(&raw) {
        Ok(raw.to_owned())
    } else {
        Err(format!("must be one of {}", TRANSPORTS.join(", ")))
    }
}

/// The MCP's free-form configuration: a JSON object of at most 16 KiB.
pub fn parse_config(value: &Value) -> Result<String, String> {
    if !value.is_object() {
        return Err("must be a JSON object".into());
    }
    let text = value.to_string();
    if text.len() > 16 * 1024 {
        return Err("must be at most 16 KiB of JSON".into());
    }
    Ok(text)
}

pub const HEALTH: &[&str] = &["healthy", "degraded", "down"];

pub fn parse_health(raw: &str) -> Result<String, String> {
    if HEALTH.contains(&raw) {
        Ok(raw.to_owned())
    } else {
        Err("must be one of healthy, degraded, down".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(McpUrl::parse("https://weather.example.com/mcp").is_ok());
        assert!(McpUrl::parse("http://10.0.0.5:8080/mcp").is_ok());
        for bad in [
            "ftp://x.example.com",
            "https://user:pw@x.example.com",
            "https://token@x.example.com",
            "not a url",
            "/relative",
            "file:///etc/passwd",
        ] {
            assert!(McpUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(McpUrl::parse(&format!("https://x.example.com/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn config_transport_health() {
        assert!(parse_config(&serde_json::json!({"region": "eu"})).is_ok());
        assert!(parse_config(&serde_json::json!([1])).is_err());
        assert!(parse_config(&serde_json::json!({"x": "y".repeat(17 * 1024)})).is_err());
        assert!(parse_transport("sse").is_ok() && parse_transport("carrier pigeon").is_err());
        assert!(parse_health("down").is_ok() && parse_health("dead").is_err());
    }
}
