//! API Gateway's `AWS_IAM` authorizer, locally: a request passes only with a Signature
//! Version 4 for `execute-api` made with the stack's credentials (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`), computed again here over the headers it says it signed, and
//! within 5 minutes of its `x-amz-date` (API Gateway's allowance).

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use axum::http::header::AUTHORIZATION;
use axum::http::Request;
use chrono::{NaiveDateTime, Utc};

/// How far a request's `x-amz-date` may be from now.
const SKEW_SECONDS: i64 = 300;

/// What the `Authorization` header of a Signature Version 4 request says.
#[derive(Debug, PartialEq)]
struct Authorization<'a> {
    key: &'a str,
    /// `YYYYMMDD` of the credential scope.
    day: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=')? {
            ("Credential", v) => credential = Some(v),
            ("SignedHeaders", v) => signed = Some(v),
            ("Signature", v) => signature = Some(v),
            _ => return None,
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [key, day, region, service, "aws4_request"] = scope[..] else {
        return None;
    };
    Some(Authorization {
        key,
        day,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

/// Whether `request` (its body empty: the IAM routes are reads) carries a valid signature.
pub fn verifies<B>(request: &Request<B>) -> bool {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return false;
    };
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = header(AUTHORIZATION.as_str()).and_then(parse) else {
        return false;
    };
    let Some(date) = header("x-amz-date") else {
        return false;
    };
    let Ok(at) = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ") else {
        return false;
    };
    let at = at.and_utc();
    if auth.key != key
        || auth.service != "execute-api"
        || !date.starts_with(auth.day)
        || (Utc::now() - at).num_seconds().abs() > SKEW_SECONDS
    {
        return false;
    }
    // The signer adds `x-amz-date` (from the time) itself; every other signed header must
    // be there, with the value it was signed with.
    let mut signed = Vec::new();
    for name in auth.signed_headers.iter().filter(|n| **n != "x-amz-date") {
        match header(name) {
            Some(value) => signed.push((*name, value)),
            None => return false,
        }
    }
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "local").into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    let Ok(params) = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(at.into())
        .settings(settings)
        .build()
    else {
        return false;
    };
    let uri = request.uri().to_string();
    let Ok(signable) = SignableRequest::new(
        request.method().as_str(),
        uri.as_str(),
        signed.into_iter(),
        SignableBody::Bytes(&[]),
    ) else {
        return false;
    };
    match sign(signable, &params.into()) {
        Ok(output) => output.into_parts().1 == auth.signature,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authorization_header_is_read_whole_or_not_at_all() {
        let value = "AWS4-HMAC-SHA256 Credential=local/20261205/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            parse(value),
            Some(Authorization {
                key: "local",
                day: "20261205",
                region: "us-east-1",
                service: "execute-api",
                signed_headers: vec!["host", "x-amz-date"],
                signature: "abc",
            })
        );
        assert_eq!(parse("Bearer abc"), None);
        assert_eq!(parse(&value.replace("aws4_request", "aws5")), None);
        assert_eq!(parse(&value.replace(", Signature=abc", "")), None);
    }
}
