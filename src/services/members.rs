use super::{ServiceError, ServiceResult, orgs};
use crate::db;
use crate::domain::{KeyRevocation, Member, Millis, Page, Paged, Role};
use rusqlite::Connection;

/// One page of the organization's members. The total is the organization's
/// trigger-maintained member count, read in the same snapshot as the page.
pub fn list(conn: &Connection, org_id: i64, page: Page) -> ServiceResult<Paged<Member>> {
    let snapshot = conn.unchecked_transaction()?;
    let total_count = orgs::get(&snapshot, org_id)?.member_count;
    let items = db::members::list(&snapshot, org_id, page)?;
    snapshot.finish()?;
    Ok(page.of(items, total_count))
}

/// Removes the person from the organization (their account stays) and, in
/// the same transaction, revokes every API key they hold in it for good.
/// The organization's last admin cannot be removed.
pub fn remove(tx: &Connection, org_id: i64, user_id: i64, now: Millis) -> ServiceResult<i64> {
    match db::members::role(tx, org_id, user_id)? {
        None => Err(ServiceError::NotFound("user")),
        Some(Role::Admin) if db::members::admin_count_capped(tx, org_id, 2)? < 2 => {
            Err(ServiceError::conflict(
                "last_admin",
                "this user is the organization's last admin; make someone else an admin first",
            ))
        }
        Some(_) => {
            db::api_keys::revoke_owned(tx, org_id, user_id, KeyRevocation::OwnerRemoved, now)?;
            db::members::delete(tx, org_id, user_id)?;
            Ok(user_id)
        }
    }
}
