//! Where messages go: the log (default), `.eml` files, or SMTP (lettre).

use super::DeliveryError;
use crate::config::{DeliverySettings, SmtpTls, TransportKind};
use crate::db::outbox::QueuedMessage;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};

pub enum Transport {
    /// Logs that a message was queued for someone, with its link.
    Log,
    /// One `<outbox id>.eml` per message in a folder, the id zero-padded to
    /// 12 digits so that names sort in creation order: what demos and tests read.
    File { dir: PathBuf, from: Mailbox },
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl Transport {
    pub fn from_settings(settings: &DeliverySettings) -> Result<Self, DeliveryError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| DeliveryError::Address(e.to_string()))?;
        Ok(match settings.transport {
            TransportKind::Log => Transport::Log,
            TransportKind::File => {
                crate::private_files::create_dir_all(&settings.file.dir)
                    .map_err(DeliveryError::File)?;
                Transport::File {
                    dir: settings.file.dir.clone(),
                    from,
                }
            }
            TransportKind::Smtp => {
                let smtp = &settings.smtp;
                let smtp_error =
                    |e: lettre::transport::smtp::Error| DeliveryError::Smtp(e.to_string());
                let mut builder = match smtp.tls {
                    SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                        .map_err(smtp_error)?,
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                            .map_err(smtp_error)?
                    }
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                };
                if let Some(port) = smtp.port {
                    builder = builder.port(port);
                }
                if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
                    builder =
                        builder.credentials(Credentials::new(username.clone(), password.clone()));
                }
                Transport::Smtp {
                    mailer: builder.timeout(Some(smtp.timeout.0)).build(),
                    from,
                }
            }
        })
    }

    pub async fn send(&self, message: &QueuedMessage) -> Result<(), DeliveryError> {
        match self {
            Transport::Log => {
                // The link is a bearer capability until used: this transport
                // is for local use and demos (docs/security.md).
                tracing::info!(
                    kind = %message.kind,
                    to = %message.recipient,
                    link = %message.link,
                    subject = %message.subject,
                    "{} message (log transport: not sent anywhere)",
                    message.kind
                );
                Ok(())
            }
            Transport::File { dir, from } => {
                let bytes = build(from, message)?.formatted();
                let path = copy_path(dir, message.id);
                let partial = dir.join(format!(".{:012}.eml.partial", message.id));
                // Written whole, owner-only, then renamed: a reader never
                // sees half a message, and nobody else reads the link.
                write_private(partial.clone(), bytes)
                    .await
                    .map_err(DeliveryError::File)?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(DeliveryError::File)?;
                // The address is personal data: the outbox id ties this
                // line to the message for whoever may read the outbox.
                tracing::info!(id = message.id, file = %path.display(), "{} message written", message.kind);
                tracing::debug!(id = message.id, to = %message.recipient, "message recipient");
                Ok(())
            }
            Transport::Smtp { mailer, from } => {
                mailer
                    .send(build(from, message)?)
                    .await
                    .map_err(|e| DeliveryError::Smtp(e.to_string()))?;
                tracing::info!(id = message.id, "{} message sent", message.kind);
                tracing::debug!(id = message.id, to = %message.recipient, "message recipient");
                Ok(())
            }
        }
    }
}

/// Writes a new owner-only file (a stale one from a crash is replaced),
/// on the blocking pool.
async fn write_private(path: PathBuf, bytes: Vec<u8>) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        let mut file = crate::private_files::create_new_file(&path)?;
        file.write_all(&bytes)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A multipart/alternative message with a text and an HTML part.
pub fn build(from: &Mailbox, message: &QueuedMessage) -> Result<Message, DeliveryError> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|e: lettre::address::AddressError| DeliveryError::Address(e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(readable_part(ContentType::TEXT_PLAIN, &message.text_body))
                .singlepart(readable_part(ContentType::TEXT_HTML, &message.html_body)),
        )
        .map_err(|e| DeliveryError::Message(e.to_string()))
}

/// A part sent as plain 8-bit text when its lines allow (so the link reads
/// as written in the raw message, for people and tools alike), otherwise
/// in the encoding lettre picks.
fn readable_part(content_type: ContentType, text: &str) -> SinglePart {
    let part = SinglePart::builder().header(content_type);
    match Body::new_with_encoding(text.to_owned(), ContentTransferEncoding::EightBit) {
        Ok(body) => part.body(body),
        Err(_) => part.body(text.to_owned()),
    }
}

/// The `file` transport's copy of outbox message `id`.
pub fn copy_path(dir: &Path, id: i64) -> PathBuf {
    dir.join(format!("{id:012}.eml"))
}

/// The link the `file` transport's copy of message `id` carries, read back
/// from its text part once the outbox has forgotten it: the first link under
/// `public_url`, or else the first to one of enlist's pages (the command
/// line may not know the public URL the server used). None when there is
/// no such copy or link.
pub fn link_in_copy(dir: &Path, id: i64, public_url: &str) -> Option<String> {
    let raw = std::fs::read(copy_path(dir, id)).ok()?;
    let mail = mailparse::parse_mail(&raw).ok()?;
    let texts: Vec<String> = std::iter::once(&mail)
        .chain(mail.subparts.iter())
        .filter(|part| part.ctype.mimetype == "text/plain")
        .filter_map(|part| part.get_body().ok())
        .collect();
    let links: Vec<&str> = texts
        .iter()
        .flat_map(|text| text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"')))
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .collect();
    let prefix = public_url.trim_end_matches('/');
    links
        .iter()
        .find(|link| link.starts_with(prefix))
        .or_else(|| {
            links.iter().find(|link| {
                ["/invite/", "/verify/", "/reset/", "/auth/email-code"]
                    .iter()
                    .any(|page| link.contains(page))
            })
        })
        .map(|link| (*link).to_owned())
}
