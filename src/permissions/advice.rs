//! The least-privilege advisor's rule: given what a token holds and what it
//! exercised, which of its permissions went unused, and the smallest set
//! from the catalogue that covers what it used.

use super::catalogue::{Permission, PermissionSet};

/// What a token's use says about its permissions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Advice {
    /// Held, and neither used nor implying anything used.
    pub unused: Vec<String>,
    /// The smallest set covering what was used (an `edit` used with its
    /// `read` gives `edit`); empty when nothing was used.
    pub suggested: Vec<String>,
}

/// Advises on `granted` from the permission names `used` (names no longer
/// in the catalogue, or no longer held, are left out).
pub fn advise<S: AsRef<str>>(granted: &PermissionSet, used: &[S]) -> Advice {
    let used: Vec<Permission> = used
        .iter()
        .filter_map(|u| u.as_ref().parse().ok())
        .collect();
    let unused = granted
        .iter()
        .filter(|held| {
            let one = PermissionSet::from_stored(&held.to_string());
            !used.iter().any(|u| one.grants(*u))
        })
        .map(ToString::to_string)
        .collect();
    let used_set = PermissionSet::from_stored(
        &used
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    );
    Advice {
        unused,
        suggested: used_set.intersect(granted).names(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_is_told_its_write_permission_is_unused() {
        let granted = PermissionSet::from_stored("scim:read scim:write");
        let advice = advise(&granted, &["scim:read"]);
        assert_eq!(advice.unused, ["scim:write"]);
        assert_eq!(advice.suggested, ["scim:read"]);
    }

    #[test]
    fn levels_used_are_covered_by_the_lowest_sufficient_level() {
        let granted = PermissionSet::from_stored("sources:create_delete profiles:connect");
        let advice = advise(&granted, &["sources:read", "sources:edit"]);
        assert_eq!(advice.unused, ["profiles:connect"]);
        assert_eq!(advice.suggested, ["sources:edit"]);
        // Nothing used: everything is unused, and nothing to suggest.
        let advice = advise::<&str>(&granted, &[]);
        assert_eq!(advice.unused.len(), 2);
        assert!(advice.suggested.is_empty());
        // A use of something no longer held suggests nothing.
        assert!(advise(&granted, &["scim:read"]).suggested.is_empty());
    }
}
