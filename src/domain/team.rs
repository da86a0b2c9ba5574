//! Teams: named groups of an organization's members (a member belongs to
//! any number of them), and the rules their names and descriptions follow.

use super::Millis;

/// A team's display name: 1 to 100 characters once trimmed, no control characters.
pub const NAME_MAX: usize = 100;
/// A team's description: at most 1000 characters.
pub const DESCRIPTION_MAX: usize = 1000;
/// Team ids one invitation or join link may name.
pub const TEAM_IDS_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What makes two names one within an organization: "Billing" and
/// "billing" cannot both exist (the name is trimmed first).
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differing_in_case_or_outer_spaces_share_a_key() {
        assert_eq!(name_key(" Billing "), name_key("billing"));
        assert_ne!(name_key("Billing"), name_key("Billings"));
        assert_eq!(name_key("ÉQUIPE"), "équipe");
    }
}
