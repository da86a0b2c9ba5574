//! Message templates (minijinja). Built-in defaults live in
//! `templates/email/`; an operator can replace any of them with a file named
//! in `delivery.templates`. HTML parts are auto-escaped.

use super::DeliveryError;
use crate::config::TemplateFiles;
use crate::domain::{Millis, Role};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use std::path::Path;

/// The messages enlist sends about an account (not an invitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountMessage {
    /// "Confirm your email address": the link proves the inbox.
    Verification,
    /// "Reset your password".
    PasswordReset,
    /// Someone signed up with an address that has a verified account: the
    /// owner is told, with a reset link, and nobody else learns it exists.
    SignUpAttempt,
}

impl AccountMessage {
    /// The outbox's `kind`, and the templates' base name.
    pub fn kind(self) -> &'static str {
        match self {
            AccountMessage::Verification => "verification",
            AccountMessage::PasswordReset => "password_reset",
            AccountMessage::SignUpAttempt => "sign_up_attempt",
        }
    }
}

/// What an account message says.
#[derive(Debug, Clone, Serialize)]
pub struct AccountEmail {
    pub email: String,
    pub link: String,
    pub expires_at: Millis,
}

/// The message that carries a sign-in code (`sign_in_code`). Not `Debug`:
/// it holds the code.
#[derive(Clone)]
pub struct SignInCodeEmail {
    pub email: String,
    /// The code as people read it (`1234 5678`).
    pub code: String,
    /// The page where the code is typed, with the code filled in.
    pub link: String,
    /// How long the code works.
    pub minutes: u64,
}

impl SignInCodeEmail {
    /// The outbox's `kind`, and the templates' base name.
    pub const KIND: &'static str = "sign_in_code";
}

/// What an invitation message says.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationEmail {
    pub invitee_email: String,
    pub organization_name: String,
    pub organization_logo_url: Option<String>,
    pub inviter_name: String,
    pub role: Role,
    /// The role as the organization names it (a custom role's display name).
    pub role_name: String,
    pub expires_at: Millis,
    pub link: String,
    /// The admin's personal message, when they wrote one.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Composer {
    env: Environment<'static>,
    public_url: String,
}

fn template_source(path: Option<&Path>, default: &'static str) -> Result<String, DeliveryError> {
    match path {
        Some(path) => std::fs::read_to_string(path).map_err(|source| DeliveryError::TemplateFile {
            path: path.display().to_string(),
            source,
        }),
        None => Ok(default.to_owned()),
    }
}

impl Composer {
    /// Loads and compiles the templates, so a broken override stops the
    /// server at start rather than at the first invitation.
    pub fn new(files: &TemplateFiles, public_url: &str) -> Result<Self, DeliveryError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        macro_rules! parts {
            ($base:literal, $subject:ident, $text:ident, $html:ident) => {
                [
                    (
                        concat!($base, "_subject.txt"),
                        files.$subject.as_deref(),
                        include_str!(concat!("../../templates/email/", $base, "_subject.txt")),
                    ),
                    (
                        concat!($base, ".txt"),
                        files.$text.as_deref(),
                        include_str!(concat!("../../templates/email/", $base, ".txt")),
                    ),
                    (
                        concat!($base, ".html"),
                        files.$html.as_deref(),
                        include_str!(concat!("../../templates/email/", $base, ".html")),
                    ),
                ]
            };
        }
        let sources = [
            parts!(
                "invitation",
                invitation_subject,
                invitation_text,
                invitation_html
            ),
            parts!("reminder", reminder_subject, reminder_text, reminder_html),
            parts!(
                "verification",
                verification_subject,
                verification_text,
                verification_html
            ),
            parts!(
                "password_reset",
                password_reset_subject,
                password_reset_text,
                password_reset_html
            ),
            parts!(
                "sign_up_attempt",
                sign_up_attempt_subject,
                sign_up_attempt_text,
                sign_up_attempt_html
            ),
            parts!(
                "sign_in_code",
                sign_in_code_subject,
                sign_in_code_text,
                sign_in_code_html
            ),
        ];
        for (name, path, default) in sources.into_iter().flatten() {
            env.add_template_owned(name, template_source(path, default)?)?;
        }
        let composer = Self {
            env,
            public_url: public_url.trim_end_matches('/').to_owned(),
        };
        composer.render_examples()?;
        Ok(composer)
    }

    /// Renders every message once with example values: a template that
    /// names a variable its message lacks fails here, at start.
    fn render_examples(&self) -> Result<(), DeliveryError> {
        let example = InvitationEmail {
            invitee_email: "someone@example.com".into(),
            organization_name: "Example".into(),
            organization_logo_url: None,
            inviter_name: "Someone".into(),
            role: Role::Member,
            role_name: "Member".into(),
            expires_at: Millis(0),
            link: self.invitation_link(uuid::Uuid::nil(), "t0k3n"),
            message: Some("Welcome".into()),
        };
        self.invitation(&example)?;
        self.reminder(&example)?;
        for kind in [
            AccountMessage::Verification,
            AccountMessage::PasswordReset,
            AccountMessage::SignUpAttempt,
        ] {
            self.account(
                kind,
                &AccountEmail {
                    email: "someone@example.com".into(),
                    link: self.link("/example"),
                    expires_at: Millis(0),
                },
            )?;
        }
        self.sign_in_code(&SignInCodeEmail {
            email: "someone@example.com".into(),
            code: "0000 0000".into(),
            link: self.link("/example"),
            minutes: 10,
        })?;
        Ok(())
    }

    /// `{public_url}{path}`: a link into this server.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    pub fn account(
        &self,
        kind: AccountMessage,
        email: &AccountEmail,
    ) -> Result<ComposedMessage, DeliveryError> {
        let context = minijinja::context! {
            email => &email.email,
            link => &email.link,
            expires_at => email.expires_at.to_human(),
        };
        self.render(kind.kind(), &context)
    }

    pub fn sign_in_code(&self, email: &SignInCodeEmail) -> Result<ComposedMessage, DeliveryError> {
        let context = minijinja::context! {
            email => &email.email,
            code => &email.code,
            link => &email.link,
            minutes => email.minutes,
        };
        self.render(SignInCodeEmail::KIND, &context)
    }

    /// `{public_url}/invite/{uuid}?token=…`: the hosted invitation page,
    /// with the message's secret (base62, so it needs no escaping).
    pub fn invitation_link(&self, uuid: uuid::Uuid, token: &str) -> String {
        format!("{}/invite/{uuid}?token={token}", self.public_url)
    }

    pub fn invitation(&self, email: &InvitationEmail) -> Result<ComposedMessage, DeliveryError> {
        self.render("invitation", &Self::invitation_context(email))
    }

    /// The one reminder of a pending invitation about to expire.
    pub fn reminder(&self, email: &InvitationEmail) -> Result<ComposedMessage, DeliveryError> {
        self.render("reminder", &Self::invitation_context(email))
    }

    fn invitation_context(email: &InvitationEmail) -> minijinja::Value {
        minijinja::context! {
            invitee_email => &email.invitee_email,
            organization_name => &email.organization_name,
            organization_logo_url => &email.organization_logo_url,
            inviter_name => &email.inviter_name,
            role => email.role.as_str(),
            role_name => &email.role_name,
            role_label => match &email.role {
                Role::Admin => "an admin".to_owned(),
                Role::Member => "a member".to_owned(),
                Role::Custom(_) => format!("a member ({})", email.role_name),
            },
            expires_at => email.expires_at.to_human(),
            link => &email.link,
            message => &email.message,
        }
    }

    fn render(
        &self,
        base: &str,
        context: &minijinja::Value,
    ) -> Result<ComposedMessage, DeliveryError> {
        let render = |suffix: &str| {
            self.env
                .get_template(&format!("{base}{suffix}"))
                .and_then(|t| t.render(context))
        };
        Ok(ComposedMessage {
            // A subject is one line, whatever the template left around it.
            subject: render("_subject.txt")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            text: render(".txt")?,
            html: render(".html")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> InvitationEmail {
        InvitationEmail {
            invitee_email: "bob@example.com".into(),
            organization_name: "Acme <Labs>".into(),
            organization_logo_url: Some("https://cdn.example.com/a.png".into()),
            inviter_name: "Ada Admin".into(),
            role: Role::Admin,
            role_name: "Admin".into(),
            expires_at: Millis(1_795_000_000_000),
            link: "http://x.test/invite/123".into(),
            message: None,
        }
    }

    #[test]
    fn renders_every_part_and_escapes_html() {
        let composer = Composer::new(&TemplateFiles::default(), "http://x.test/").unwrap();
        assert_eq!(
            composer.invitation_link(uuid::Uuid::nil(), "t0k3n"),
            "http://x.test/invite/00000000-0000-0000-0000-000000000000?token=t0k3n"
        );
        let message = composer.invitation(&email()).unwrap();
        assert_eq!(message.subject, "Ada Admin invited you to join Acme <Labs>");
        assert!(message.text.contains("http://x.test/invite/123"));
        assert!(message.text.contains("as an admin"));
        assert!(message.html.contains("href=\"http://x.test/invite/123\""));
        assert!(
            message.html.contains("Acme &lt;Labs&gt;"),
            "{}",
            message.html
        );
        assert!(message.text.contains("UTC"));
    }

    #[test]
    fn a_personal_message_is_in_both_parts_and_escaped_in_html() {
        let composer = Composer::new(&TemplateFiles::default(), "http://x.test/").unwrap();
        let plain = composer.invitation(&email()).unwrap();
        assert!(!plain.text.contains("They wrote"));
        let message = composer
            .invitation(&InvitationEmail {
                message: Some("Welcome <b>aboard</b>".into()),
                ..email()
            })
            .unwrap();
        assert!(
            message
                .text
                .contains("They wrote:\n\nWelcome <b>aboard</b>\n")
        );
        assert!(
            message
                .html
                .contains("Welcome &lt;b&gt;aboard&lt;&#x2f;b&gt;")
                || message.html.contains("Welcome &lt;b&gt;aboard&lt;/b&gt;"),
            "{}",
            message.html
        );
    }

    #[test]
    fn account_messages_carry_their_link_in_both_parts() {
        let composer = Composer::new(&TemplateFiles::default(), "http://x.test").unwrap();
        for kind in [
            AccountMessage::Verification,
            AccountMessage::PasswordReset,
            AccountMessage::SignUpAttempt,
        ] {
            let message = composer
                .account(
                    kind,
                    &AccountEmail {
                        email: "a<b>@x.test".into(),
                        link: composer.link("/verify/abc"),
                        expires_at: Millis(1_795_000_000_000),
                    },
                )
                .unwrap();
            assert!(
                message.text.contains("http://x.test/verify/abc"),
                "{kind:?}"
            );
            assert!(message.html.contains("href=\"http://x.test/verify/abc\""));
            assert!(
                message.html.contains("a&lt;b&gt;@x.test"),
                "{}",
                message.html
            );
            assert!(!message.subject.is_empty() && !message.subject.contains('\n'));
        }
    }

    #[test]
    fn a_sign_in_code_message_carries_the_code_and_its_link_in_both_parts() {
        let composer = Composer::new(&TemplateFiles::default(), "http://x.test").unwrap();
        let message = composer
            .sign_in_code(&SignInCodeEmail {
                email: "a<b>@x.test".into(),
                code: "1234 5678".into(),
                link: composer.link("/auth/email-code?code=12345678"),
                minutes: 10,
            })
            .unwrap();
        for part in [&message.text, &message.html] {
            assert!(part.contains("1234 5678"), "{part}");
            assert!(part.contains("http://x.test/auth/email-code?code=12345678"));
            assert!(part.contains("10 minutes"));
        }
        assert!(message.html.contains("a&lt;b&gt;@x.test"));
        assert!(!message.subject.contains("1234"), "no code in the subject");
    }

    #[test]
    fn operators_can_override_templates_and_broken_ones_fail_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let subject = dir.path().join("subject.txt");
        std::fs::write(&subject, "Welcome to {{ organization_name }}!").unwrap();
        let files = TemplateFiles {
            invitation_subject: Some(subject.clone()),
            ..TemplateFiles::default()
        };
        let message = Composer::new(&files, "http://x.test")
            .unwrap()
            .invitation(&email())
            .unwrap();
        assert_eq!(message.subject, "Welcome to Acme <Labs>!");

        std::fs::write(&subject, "{{ no_such_variable }}").unwrap();
        assert!(Composer::new(&files, "http://x.test").is_err());
        std::fs::write(&subject, "{% if %}").unwrap();
        assert!(Composer::new(&files, "http://x.test").is_err());
    }
}
