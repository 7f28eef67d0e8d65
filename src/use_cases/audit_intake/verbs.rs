//! The verb → level table: which level of a workspace permission an
//! action's verb needs. An action is `<resource>.<verb>`, the resource one
//! of the catalogue's workspace resources (`transformations.update` needs
//! `transformations:edit`, or `transformations:create_delete`, which
//! implies it). A verb not in the table is refused: a service that names a
//! new kind of operation must have it placed here first, so that the level
//! it needs is decided once, not by each service.

use crate::permissions::{Level, Resource};

/// The table, in the order the README shows it.
pub const VERBS: [(&str, Level); 18] = [
    ("read", Level::Read),
    ("list", Level::Read),
    ("get", Level::Read),
    ("search", Level::Read),
    ("export", Level::Read),
    ("update", Level::Edit),
    ("edit", Level::Edit),
    ("rename", Level::Edit),
    ("enable", Level::Edit),
    ("disable", Level::Edit),
    ("publish", Level::Edit),
    ("run", Level::Edit),
    ("create", Level::CreateDelete),
    ("delete", Level::CreateDelete),
    ("clone", Level::CreateDelete),
    ("import", Level::CreateDelete),
    ("connect", Level::Connect),
    ("disconnect", Level::Connect),
];

/// The resource and the level `action` needs, or why it is not an action
/// the intake takes.
pub fn needs(action: &str) -> Result<(Resource, Level), String> {
    let Some((resource, verb)) = action.split_once('.') else {
        return Err("`action` must be `<resource>.<verb>`, e.g. `transformations.update`".into());
    };
    let resource = Resource::ALL
        .into_iter()
        .find(|r| r.as_str() == resource)
        .ok_or_else(|| {
            let names: Vec<&str> = Resource::ALL.iter().map(|r| r.as_str()).collect();
            format!(
                "`action`'s resource must be a workspace resource: {}",
                names.join(", ")
            )
        })?;
    let level = VERBS
        .iter()
        .find(|(v, _)| *v == verb)
        .map(|(_, l)| *l)
        .ok_or_else(|| {
            let names: Vec<&str> = VERBS.iter().map(|(v, _)| *v).collect();
            format!("`action`'s verb must be one of: {}", names.join(", "))
        })?;
    Ok((resource, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_map_to_levels() {
        assert_eq!(
            needs("transformations.update"),
            Ok((Resource::Transformations, Level::Edit))
        );
        assert_eq!(
            needs("data_catalog.read"),
            Ok((Resource::DataCatalog, Level::Read))
        );
        assert_eq!(
            needs("sources.delete"),
            Ok((Resource::Sources, Level::CreateDelete))
        );
        assert_eq!(
            needs("destinations.connect"),
            Ok((Resource::Destinations, Level::Connect))
        );
    }

    #[test]
    fn scimitar_own_actions_and_unknown_verbs_are_refused() {
        assert!(needs("sat.create").is_err());
        assert!(needs("scim.user.create").is_err());
        assert!(needs("transformations.frobnicate").is_err());
        assert!(needs("transformations").is_err());
        assert!(needs("transformations.update.extra").is_err());
    }
}
