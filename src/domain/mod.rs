//! Domain types and rules. Nothing here knows about HTTP or SQL.

pub mod auth_method;
pub mod email;
pub mod entities;
pub mod event;
pub mod ids;
pub mod invitation;
pub mod invitation_options;
pub mod join_link;
pub mod name;
pub mod net;
pub mod oidc;
pub mod org_domain;
pub mod organization;
pub mod page;
pub mod role;
pub mod scope;
pub mod search;
pub mod second_factor;
pub mod sign_in_code;
pub mod team;
pub mod time;
pub mod webhook;

pub use auth_method::{AuthMethod, AuthMethods};
pub use email::Email;
pub use entities::{
    ApiKey, Invitation, InvitationDetails, InvitationExtras, KeyRevocation, LinkPurpose, Member,
    Membership, Organization, User,
};
pub use ids::{OrgId, UserId};
pub use invitation::InvitationStatus;
pub use page::{Listed, Page, PageError, Paged, Window};
pub use role::Role;
pub use scope::Scope;
pub use time::{Clock, Millis};
