//! The outbox: messages written with the change they announce, sent later.

use super::after_commit::Work;
use super::sql::{Conn, Result};
use crate::domain::Millis;

pub struct NewMessage<'a> {
    /// `invitation`, `verification`, `password_reset` or `sign_up_attempt`.
    pub kind: &'a str,
    /// The invitation it announces, for invitation messages.
    pub invitation_id: Option<i64>,
    pub recipient: &'a str,
    pub link: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
}

/// Queues a message; an invitation message's organization and address key
/// are copied from the invitation, for the mail caps (reminders, which the
/// admin did not send, count toward none). The outbox worker is woken once
/// the write commits.
pub fn insert(conn: &Conn, message: &NewMessage<'_>, now: Millis) -> Result<i64> {
    let id = conn.query_one(
        "INSERT INTO outbox (invitation_id, recipient, link, subject, text_body, html_body,
                             next_attempt_at, created_at, kind, org_id, recipient_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8,
                 CASE WHEN ?8 = 'invitation' THEN
                     (SELECT i.org_id FROM invitations i WHERE i.id = ?1) END,
                 CASE WHEN ?8 = 'invitation' THEN
                     (SELECT i.invitee_email_key FROM invitations i WHERE i.id = ?1) END)
         RETURNING id",
        &[
            &message.invitation_id,
            &message.recipient,
            &message.link,
            &message.subject,
            &message.text_body,
            &message.html_body,
            &now.0,
            &message.kind,
        ],
        |row| row.get(0),
    )?;
    conn.queued(Work::Outbox);
    Ok(id)
}

/// Withdraws the invitation's reminder if it is still queued: the
/// invitation moved on (answered, revoked, resent) before it went out.
pub fn withdraw_reminders(conn: &Conn, invitation_id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET failed_at = ?2, last_error = 'withdrawn: the invitation moved on',
                           link = '', text_body = '', html_body = ''
         WHERE invitation_id = ?1 AND kind = 'reminder' AND sent_at IS NULL AND failed_at IS NULL",
        &[&invitation_id, &now.0],
    )?;
    Ok(())
}

/// When the `skip`+1-th newest message queued after `since` from the
/// organization to the address (its lower-cased key) was queued, if there
/// are that many: the message whose leaving the window frees a place.
pub fn nth_newest_to(
    conn: &Conn,
    org_id: i64,
    recipient_key: &str,
    since: Millis,
    skip: u32,
) -> Result<Option<Millis>> {
    conn.query_opt(
        "SELECT created_at FROM outbox
         WHERE org_id = ?1 AND recipient_key = ?2 AND created_at > ?3
         ORDER BY created_at DESC LIMIT 1 OFFSET ?4",
        &[&org_id, &recipient_key, &since.0, &skip],
        |row| Ok(Millis(row.get(0)?)),
    )
}

/// [`nth_newest_to`] over every address of the organization.
pub fn nth_newest_of_org(
    conn: &Conn,
    org_id: i64,
    since: Millis,
    skip: u32,
) -> Result<Option<Millis>> {
    conn.query_opt(
        "SELECT created_at FROM outbox WHERE org_id = ?1 AND created_at > ?2
         ORDER BY created_at DESC LIMIT 1 OFFSET ?3",
        &[&org_id, &since.0, &skip],
        |row| Ok(Millis(row.get(0)?)),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub link: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: u32,
    /// When it was due: kept as its schedule while a PostgreSQL claim holds it.
    pub due_at: Millis,
}

fn queued_from_row(row: &super::sql::Row<'_>) -> Result<QueuedMessage> {
    Ok(QueuedMessage {
        id: row.get(0)?,
        recipient: row.get(1)?,
        link: row.get(2)?,
        subject: row.get(3)?,
        text_body: row.get(4)?,
        html_body: row.get(5)?,
        attempts: row.get(6)?,
        kind: row.get(7)?,
        due_at: Millis(row.get(8)?),
    })
}

/// Messages due now, oldest due first.
pub fn due(conn: &Conn, now: Millis, limit: i64) -> Result<Vec<QueuedMessage>> {
    conn.query_all(
        "SELECT id, recipient, link, subject, text_body, html_body, attempts, kind, next_attempt_at
         FROM outbox
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
        &[&now.0, &limit],
        queued_from_row,
    )
}

/// The messages due now that this worker is to send, in a write. On
/// PostgreSQL, where every node runs a worker, they are claimed until
/// `lease_until` (their schedule untouched), so no other node takes them meanwhile
/// (rows another node is claiming right now are passed by, not waited for),
/// and a node that dies holding them leaves them due again when the lease
/// ends. SQLite has one server per file, so its one worker takes them as
/// they are.
pub fn claim_due(
    conn: &Conn,
    now: Millis,
    lease_until: Millis,
    limit: i64,
) -> Result<Vec<QueuedMessage>> {
    if conn.dialect() == super::Dialect::Sqlite {
        return due(conn, now, limit);
    }
    let mut claimed = conn.query_all(
        &format!(
            "WITH claimed AS (
                 SELECT id FROM outbox
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
                   AND (claimed_until IS NULL OR claimed_until <= ?1)
                 ORDER BY next_attempt_at, id LIMIT ?3{})
             UPDATE outbox o SET claimed_until = ?2 FROM claimed c WHERE o.id = c.id
             RETURNING o.id, o.recipient, o.link, o.subject, o.text_body, o.html_body,
                       o.attempts, o.kind, o.next_attempt_at",
            conn.skip_locked()
        ),
        &[&now.0, &lease_until.0, &limit],
        queued_from_row,
    )?;
    claimed.sort_by_key(|message| message.id);
    Ok(claimed)
}

/// Gives back a claimed message this worker did not get to (it is stopping):
/// due again as it was, for whichever node comes next.
pub fn release(conn: &Conn, id: i64, due_at: Millis) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET next_attempt_at = ?2, claimed_until = NULL
         WHERE id = ?1 AND sent_at IS NULL AND failed_at IS NULL",
        &[&id, &due_at.0],
    )?;
    Ok(())
}

/// Records the message sent and forgets its link and bodies: the link's
/// secret now lives only in the recipient's mail (and in the `file`
/// transport's copy), never at rest in the database.
pub fn mark_sent(conn: &Conn, id: i64, now: Millis) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL,
                           claimed_until = NULL, link = '', text_body = '', html_body = ''
         WHERE id = ?1",
        &[&id, &now.0],
    )?;
    Ok(())
}

/// Records a failed attempt: the next one at `retry_at`, or none (`retry_at`
/// None: given up, its schedule left at `due_at`, when the last attempt was
/// due, and its link and bodies forgotten as a sent message's are: nothing
/// will send them, so no secret should rest here). A message withdrawn
/// meanwhile (a reminder whose invitation moved on) stays withdrawn.
pub fn mark_failed(
    conn: &Conn,
    id: i64,
    error: &str,
    retry_at: Option<Millis>,
    due_at: Millis,
    now: Millis,
) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,
                           next_attempt_at = COALESCE(?3, ?5),
                           failed_at = CASE WHEN ?3 IS NULL THEN ?4 ELSE NULL END,
                           link = CASE WHEN ?3 IS NULL THEN '' ELSE link END,
                           text_body = CASE WHEN ?3 IS NULL THEN '' ELSE text_body END,
                           html_body = CASE WHEN ?3 IS NULL THEN '' ELSE html_body END,
                           claimed_until = NULL
         WHERE id = ?1 AND failed_at IS NULL",
        &[&id, &error, &retry_at.map(|m| m.0), &now.0, &due_at.0],
    )?;
    Ok(())
}

/// Messages not yet sent nor given up on: the backlog.
pub fn backlog(conn: &Conn) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
        &[],
        |row| row.get(0),
    )
}

/// A message as `enlist outbox list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub link: String,
    pub attempts: u32,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
    pub failed_at: Option<Millis>,
    pub last_error: Option<String>,
}

/// The newest messages first, to `recipient` (compared case-insensitively)
/// or to anyone. A command-line look-up: it walks the table from the newest
/// row, which the outbox's size allows.
pub fn newest(conn: &Conn, recipient: Option<&str>, limit: i64) -> Result<Vec<OutboxEntry>> {
    conn.query_all(
        "SELECT id, recipient, subject, link, attempts, created_at, sent_at, failed_at, last_error
         FROM outbox WHERE ?1 IS NULL OR lower(recipient) = lower(CAST(?1 AS TEXT))
         ORDER BY id DESC LIMIT ?2",
        &[&recipient, &limit],
        |row| {
            Ok(OutboxEntry {
                id: row.get(0)?,
                recipient: row.get(1)?,
                subject: row.get(2)?,
                link: row.get(3)?,
                attempts: row.get(4)?,
                created_at: Millis(row.get(5)?),
                sent_at: row.get::<Option<i64>>(6)?.map(Millis),
                failed_at: row.get::<Option<i64>>(7)?.map(Millis),
                last_error: row.get(8)?,
            })
        },
    )
}
