use serde::{Deserialize, Serialize};

/// A member's role in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

/// What a role may do: the matrix of the design, in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Read the org, members, MCPs, API-key metadata, webhooks (no secrets), usage.
    Read,
    /// Create/update MCPs, create API keys, record usage.
    Contribute,
    /// General settings, PIN, webhooks, custom domain, team changes, exports, audit logs,
    /// billing, deleting MCPs and revoking API keys.
    Administer,
    /// Delete the organization.
    DeleteOrganization,
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Admin => permission != DeleteOrganization,
            Role::Member => matches!(permission, Read | Contribute),
            Role::Viewer => permission == Read,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            _ => Err("must be one of owner, admin, member, viewer".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn matrix_matches_the_design() {
        let table = [
            (Role::Owner, [true, true, true, true]),
            (Role::Admin, [true, true, true, false]),
            (Role::Member, [true, true, false, false]),
            (Role::Viewer, [true, false, false, false]),
        ];
        for (role, expected) in table {
            let got = [Read, Contribute, Administer, DeleteOrganization].map(|p| role.allows(p));
            assert_eq!(got, expected, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("superuser").is_err());
    }
}
