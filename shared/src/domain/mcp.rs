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
        if url_has_credentials(url.as_str()) {
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

/// Config keys whose values are credentials (case-insensitive, anywhere in the name).
const SECRET_NAMES: &[&str] = &[
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "cookie",
    "private_key",
    "client_key",
];

/// How a stored secret is shown: never the value; its last 4 characters only when it is
/// long enough that they give nothing away.
pub const MASK: &str = "••••";

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| name.contains(s))
}

/// A URL that carries a credential: a user name or password, or a query parameter with
/// a secret's name (`?token=…`).
pub fn url_has_credentials(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| {
        !url.username().is_empty()
            || url.password().is_some()
            || url.query_pairs().any(|(name, _)| is_secret_name(&name))
    })
}

fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        format!(
            "{MASK}{}",
            chars[chars.len() - 4..].iter().collect::<String>()
        )
    } else {
        MASK.to_owned()
    }
}

/// Splits a config into what is shown and kept in the clear (every secret value
/// replaced by its mask) and the secrets, by JSON pointer. A secret is the value of a
/// key with a secret's name, or a string that is a URL with a credential in it. A value
/// sent back as the mask of the secret `previous` holds at that place keeps that secret,
/// so a client may send back the config it read.
pub fn split_secrets(
    config: &Value,
    previous: &std::collections::BTreeMap<String, String>,
) -> (Value, std::collections::BTreeMap<String, String>) {
    let mut secrets = std::collections::BTreeMap::new();
    let shown = split_at(config, "", false, previous, &mut secrets);
    (shown, secrets)
}

fn split_at(
    value: &Value,
    pointer: &str,
    secret_name: bool,
    previous: &std::collections::BTreeMap<String, String>,
    secrets: &mut std::collections::BTreeMap<String, String>,
) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    let at = format!("{pointer}/{escaped}");
                    (
                        key.clone(),
                        split_at(v, &at, is_secret_name(key), previous, secrets),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    split_at(v, &format!("{pointer}/{i}"), secret_name, previous, secrets)
                })
                .collect(),
        ),
        Value::Null => Value::Null,
        scalar => {
            let text = match scalar {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            // A URL is masked whole: its last characters are the credential's.
            let masked = |secret: &str| {
                if secret_name {
                    mask(secret)
                } else {
                    MASK.to_owned()
                }
            };
            let sent_back = previous
                .get(pointer)
                .is_some_and(|old| text.starts_with(MASK) && masked(old) == text);
            if !(secret_name || sent_back || url_has_credentials(&text)) {
                return scalar.clone();
            }
            let kept = previous
                .get(pointer)
                .filter(|old| text.starts_with(MASK) && masked(old) == text);
            let secret = kept.cloned().unwrap_or(text);
            let shown = masked(&secret);
            secrets.insert(pointer.to_owned(), secret);
            Value::String(shown)
        }
    }
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
    fn secrets_are_kept_apart_and_shown_masked() {
        let config = serde_json::json!({
            "headers": { "Authorization": "Bearer sk_live_0123456789abcd", "Accept": "json" },
            "env": [{ "name": "X", "api_key": "short" }],
            "callback": "https://x.example.com/cb?token=abc",
            "timeout": 30
        });
        let (shown, secrets) = split_secrets(&config, &Default::default());
        assert_eq!(shown["headers"]["Authorization"], "••••abcd");
        assert_eq!(shown["headers"]["Accept"], "json");
        assert_eq!(shown["env"][0]["api_key"], MASK);
        assert_eq!(shown["callback"], MASK);
        assert_eq!(shown["timeout"], 30);
        assert_eq!(
            secrets["/headers/Authorization"],
            "Bearer sk_live_0123456789abcd"
        );
        assert_eq!(secrets["/env/0/api_key"], "short");
        assert!(!shown.to_string().contains("sk_live") && !shown.to_string().contains("abc\""));
        // Sent back as read: the secrets stay; a new value replaces one.
        let mut back = shown.clone();
        back["env"][0]["api_key"] = "rotated-key".into();
        let (again, kept) = split_secrets(&back, &secrets);
        assert_eq!(
            kept["/callback"], secrets["/callback"],
            "a masked URL keeps its secret"
        );
        assert_eq!(
            kept["/headers/Authorization"],
            secrets["/headers/Authorization"]
        );
        assert_eq!(kept["/env/0/api_key"], "rotated-key");
        assert_eq!(again["headers"]["Authorization"], "••••abcd");
    }

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
