//! E-mail the platform sends: verification of an address, invitations and security
//! notices. A request never talks to the mail service: it writes the rendered message to
//! the outbox in the transaction of its change (as events are), the events worker passes
//! it to the mail queue and the mail worker hands it to Amazon SES. So an SES outage or
//! throttling never fails a request and loses no message (the queue retries, then its
//! DLQ keeps it).
//!
//! Every message is plain text plus HTML rendered here from fixed templates; what a user
//! typed (a name, an org name) is only ever HTML-escaped text, never markup.

use crate::ids::MessageId;
use crate::store::invitations::Invitation;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// A rendered message on its way to one recipient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mail {
    /// Stable across redeliveries: the mail worker sends each id once.
    pub id: MessageId,
    /// The partition the message belongs to (`USER#…` or `ORG#…`): its outbox entry
    /// lives there, so no item of one tenant sits in another's partition.
    pub owner: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub timestamp: String,
}

/// Where links in messages point: the settings pages (`APP_URL`).
pub struct Links<'a>(pub &'a str);

impl Links<'_> {
    fn settings(&self, fragment: &str) -> String {
        format!("{}/settings/#/{fragment}", self.0.trim_end_matches('/'))
    }
}

/// `&`, `<`, `>`, `"` and `'` as entities: user text inside HTML stays text.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One line of a subject: no line breaks or other control characters, at most 150 chars.
fn subject_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(150)
        .collect()
}

/// A message from paragraphs of plain text, with at most one call to action (a link).
struct Body<'a> {
    paragraphs: Vec<String>,
    action: Option<(&'a str, String)>,
}

impl Body<'_> {
    fn text(&self) -> String {
        let mut text = self.paragraphs.join("\n\n");
        if let Some((label, url)) = &self.action {
            text.push_str(&format!("\n\n{label}: {url}"));
        }
        text.push_str("\n\n-- \nPlexMCP\n");
        text
    }

    fn html(&self) -> String {
        let mut html = String::from(
            "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">",
        );
        for p in &self.paragraphs {
            html.push_str(&format!("<p>{}</p>", escape_html(p)));
        }
        if let Some((label, url)) = &self.action {
            let url = escape_html(url);
            html.push_str(&format!(
                "<p><a href=\"{url}\">{}</a></p><p style=\"color:#555\">{url}</p>",
                escape_html(label)
            ));
        }
        html.push_str("<p style=\"color:#555\">PlexMCP</p></body></html>");
        html
    }
}

impl Mail {
    fn new(owner: String, to: &str, subject: &str, body: Body, now: DateTime<Utc>) -> Mail {
        Mail {
            id: MessageId::generate(),
            owner,
            to: to.to_owned(),
            subject: subject_line(subject),
            text: body.text(),
            html: body.html(),
            timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }

    /// The link that proves the address (a single-use token, 24 hours).
    pub fn verification(
        owner: String,
        to: &str,
        name: &str,
        token: &str,
        links: &Links,
        now: DateTime<Utc>,
    ) -> Mail {
        let body = Body {
            paragraphs: vec![
                format!("Hello {name},"),
                "Confirm that this is your e-mail address to finish setting up your PlexMCP account. The link works once, for 24 hours.".into(),
                "If you did not sign up for PlexMCP, ignore this message: nothing happens without the link.".into(),
            ],
            action: Some(("Verify your e-mail address", links.settings(&format!("verify-email?token={token}")))),
        };
        Mail::new(
            owner,
            to,
            "Verify your e-mail address for PlexMCP",
            body,
            now,
        )
    }

    /// To an existing account whose address someone tried to sign up with again.
    pub fn signup_attempt(owner: String, to: &str, links: &Links, now: DateTime<Utc>) -> Mail {
        let body = Body {
            paragraphs: vec![
                "Someone tried to create a PlexMCP account with this e-mail address, which already has one. No new account was created.".into(),
                "If it was you, sign in instead. If it was not, you need not do anything; your account is unchanged.".into(),
            ],
            action: Some(("Sign in", links.settings("login"))),
        };
        Mail::new(
            owner,
            to,
            "Someone tried to sign up with your e-mail address",
            body,
            now,
        )
    }

    /// To the invited address: who invites, to which org, with which role. The link
    /// carries the invitation's id, which is accepted only from a session of the
    /// invited (and verified) address.
    pub fn invitation(
        invitation: &Invitation,
        inviter: &str,
        links: &Links,
        now: DateTime<Utc>,
    ) -> Mail {
        let org_name = &invitation.org_name;
        let body = Body {
            paragraphs: vec![
                format!(
                    "{inviter} invited you to join the organization {org_name} on PlexMCP as {}.",
                    invitation.role.as_str()
                ),
                "Sign in (or sign up) with this e-mail address and verify it, then accept the invitation under Account → Invitations. It expires in 7 days.".into(),
            ],
            action: Some((
                "Open the invitation",
                links.settings(&format!("invitations?token={}", invitation.id)),
            )),
        };
        let owner = crate::store::keys::org_partition(&invitation.org_id);
        Mail::new(
            owner,
            &invitation.email,
            &format!("You are invited to join {org_name} on PlexMCP"),
            body,
            now,
        )
    }

    /// A sign-in from a device (browser or client) the account had not used before.
    pub fn new_sign_in(
        owner: String,
        to: &str,
        device: &str,
        ip: &str,
        links: &Links,
        now: DateTime<Utc>,
    ) -> Mail {
        let body = Body {
            paragraphs: vec![
                format!("Your PlexMCP account was signed in to from a new device at {}.", now.to_rfc3339_opts(SecondsFormat::Secs, true)),
                format!("Device: {device}\nAddress: {ip}"),
                "If this was you, there is nothing to do. If not, change your password, revoke the session under Account → Sessions and turn on two-factor authentication.".into(),
            ],
            action: Some(("Review your sessions", links.settings("account"))),
        };
        Mail::new(owner, to, "New sign-in to your PlexMCP account", body, now)
    }

    /// Two-factor authentication was turned off on the account.
    pub fn two_factor_disabled(owner: String, to: &str, links: &Links, now: DateTime<Utc>) -> Mail {
        let body = Body {
            paragraphs: vec![
                "Two-factor authentication was turned off for your PlexMCP account.".into(),
                "If you did not do this, sign in, turn it back on and revoke your other sessions at once.".into(),
            ],
            action: Some(("Security settings", links.settings("account"))),
        };
        Mail::new(
            owner,
            to,
            "Two-factor authentication was turned off",
            body,
            now,
        )
    }

    /// To an owner: the org's PIN was entered wrong 5 times and PIN-gated actions are
    /// locked for 15 minutes.
    pub fn pin_locked(
        owner: String,
        to: &str,
        org_name: &str,
        org_slug: &str,
        links: &Links,
        now: DateTime<Utc>,
    ) -> Mail {
        let body = Body {
            paragraphs: vec![
                format!("The PIN of the organization {org_name} was entered wrong 5 times in a row at {}. Actions protected by the PIN are locked for 15 minutes.", now.to_rfc3339_opts(SecondsFormat::Secs, true)),
                "If this was not one of your members, review the audit log (security.pin_failed entries show who tried, from where) and change the PIN.".into(),
            ],
            action: Some(("Review the audit log", links.settings(&format!("orgs/{org_slug}/audit")))),
        };
        Mail::new(
            owner,
            to,
            &format!("The PIN of {org_name} is locked after 5 wrong attempts"),
            body,
            now,
        )
    }

    /// To every member of an org that is being deleted.
    pub fn org_deletion_started(
        owner: String,
        to: &str,
        org_name: &str,
        deleted_at: DateTime<Utc>,
        links: &Links,
        now: DateTime<Utc>,
    ) -> Mail {
        let body = Body {
            paragraphs: vec![
                format!("The organization {org_name} is being deleted, as one of its owners asked at {}. You are no longer a member.", deleted_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
                "Its MCPs, API keys, webhooks, custom domain, audit logs and exports are removed and cannot be restored. Its billing records are kept.".into(),
                "If you did not expect this, talk to the organization's owners.".into(),
            ],
            action: Some(("Your organizations", links.settings("orgs"))),
        };
        Mail::new(
            owner,
            to,
            &format!("{org_name} is being deleted"),
            body,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_in_html_and_kept_in_text() {
        let links = Links("https://app.example.com/");
        let now = Utc::now();
        let invitation = Invitation {
            id: crate::ids::InvitationId::generate(),
            org_id: crate::ids::OrgId::generate(),
            org_slug: "acme".into(),
            org_name: "Acme & \"Co\"".into(),
            email: "a@example.com".into(),
            role: crate::domain::Role::Admin,
            invited_by: "usr_x".into(),
            created_at: now,
            expires_at: now,
        };
        let mail = Mail::invitation(&invitation, "Eve <script>alert(1)</script>", &links, now);
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("Eve &lt;script&gt;"));
        assert!(mail.html.contains("Acme &amp; &quot;Co&quot;"));
        assert!(mail.text.contains("Eve <script>alert(1)</script>"));
        assert!(mail.text.contains(&format!(
            "https://app.example.com/settings/#/invitations?token={}",
            invitation.id
        )));
        assert_eq!(mail.owner, format!("ORG#{}", invitation.org_id));
        assert_eq!(
            mail.subject,
            "You are invited to join Acme & \"Co\" on PlexMCP"
        );
    }

    #[test]
    fn a_subject_is_one_line() {
        let now = Utc::now();
        let invitation = Invitation {
            id: crate::ids::InvitationId::generate(),
            org_id: crate::ids::OrgId::generate(),
            org_slug: "evil".into(),
            org_name: "Evil\r\nBcc: x@example.com".into(),
            email: "a@example.com".into(),
            role: crate::domain::Role::Viewer,
            invited_by: "usr_x".into(),
            created_at: now,
            expires_at: now,
        };
        let mail = Mail::invitation(&invitation, "Eve", &Links("https://app"), now);
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
    }
}
