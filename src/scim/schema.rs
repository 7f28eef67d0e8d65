//! The SCIM schemas this server implements (RFC 7643 §4 and §3.1), as data.
//! Validation, filters, PATCH paths, projection and the `/Schemas`
//! discovery endpoint all read these definitions, so that what is described
//! is exactly what is enforced.

use std::sync::LazyLock;

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
        }
    }
}

/// One attribute (or sub-attribute) definition.
#[derive(Clone, Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<&'static str>,
    pub reference_types: Vec<&'static str>,
    pub sub_attributes: Vec<AttrDef>,
    pub description: &'static str,
}

impl AttrDef {
    fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
            description,
        }
    }

    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &[&'static str]) -> Self {
        self.canonical_values = values.to_vec();
        self
    }
    fn refs(mut self, types: &[&'static str]) -> Self {
        self.reference_types = types.to_vec();
        self
    }
    fn subs(mut self, subs: Vec<AttrDef>) -> Self {
        self.sub_attributes = subs;
        self
    }

    /// A sub-attribute by name, without regard to case.
    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The sub-attribute a filter on a multi-valued complex attribute means
    /// when it names none (`emails co "x"` is `emails.value co "x"`).
    pub fn default_sub(&self) -> Option<&AttrDef> {
        self.sub("value")
    }
}

fn string(name: &'static str, d: &'static str) -> AttrDef {
    AttrDef::new(name, AttrType::String, d)
}
fn boolean(name: &'static str, d: &'static str) -> AttrDef {
    AttrDef::new(name, AttrType::Boolean, d)
}
fn reference(name: &'static str, types: &[&'static str], d: &'static str) -> AttrDef {
    AttrDef::new(name, AttrType::Reference, d).refs(types)
}
fn complex(name: &'static str, d: &'static str, subs: Vec<AttrDef>) -> AttrDef {
    AttrDef::new(name, AttrType::Complex, d).subs(subs)
}

/// The usual sub-attributes of a multi-valued attribute (RFC 7643 §2.4),
/// with `value` of the given type.
fn multi_value(
    name: &'static str,
    value: AttrDef,
    types: &[&'static str],
    d: &'static str,
) -> AttrDef {
    complex(
        name,
        d,
        vec![
            value,
            string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            string("type", "A label indicating the attribute's function.").canonical(types),
            boolean(
                "primary",
                "Whether this is the primary value of the attribute.",
            ),
        ],
    )
    .multi()
}

#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: Vec<AttrDef>,
}

impl SchemaDef {
    pub fn attr(&self, name: &str) -> Option<&AttrDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The attributes every resource has (RFC 7643 §3.1). Not part of any
/// schema's `attributes` list in `/Schemas`.
pub static COMMON: LazyLock<Vec<AttrDef>> = LazyLock::new(|| {
    vec![
        string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique(),
        string(
            "externalId",
            "An identifier for the resource as defined by the provisioning client.",
        )
        .case_exact(),
        complex(
            "meta",
            "Resource metadata.",
            vec![
                string(
                    "resourceType",
                    "The name of the resource type of the resource.",
                )
                .case_exact()
                .mutability(Mutability::ReadOnly),
                AttrDef::new(
                    "created",
                    AttrType::DateTime,
                    "When the resource was added.",
                )
                .mutability(Mutability::ReadOnly),
                AttrDef::new(
                    "lastModified",
                    AttrType::DateTime,
                    "When the resource was last changed.",
                )
                .mutability(Mutability::ReadOnly),
                reference("location", &["uri"], "The URI of the resource.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
                string("version", "The version (entity tag) of the resource.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
            ],
        )
        .mutability(Mutability::ReadOnly),
    ]
});

pub static USER: LazyLock<SchemaDef> = LazyLock::new(|| {
    SchemaDef {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: vec![
        string("userName", "Unique identifier for the User, used to sign in. Unique per organization, without regard to case.")
            .required()
            .unique(),
        complex(
            "name",
            "The components of the user's real name.",
            vec![
                string("formatted", "The full name, formatted for display."),
                string("familyName", "The family name (last name)."),
                string("givenName", "The given name (first name)."),
                string("middleName", "The middle name(s)."),
                string("honorificPrefix", "The honorific prefix(es), for example 'Ms.'."),
                string("honorificSuffix", "The honorific suffix(es), for example 'III'."),
            ],
        ),
        string("displayName", "The name of the User, suitable for display to end-users."),
        string("nickName", "The casual way to address the user."),
        reference("profileUrl", &["external"], "A URI of the user's online profile."),
        string("title", "The user's title, such as 'Vice President'."),
        string("userType", "The relationship between the organization and the user."),
        string("preferredLanguage", "The user's preferred written or spoken language."),
        string("locale", "The user's default location, for localizing items."),
        string("timezone", "The user's time zone, in IANA Time Zone database format."),
        boolean("active", "The user's administrative status. An inactive user cannot sign in and loses their personal tokens."),
        string("password", "The user's cleartext password, write-only: stored as an argon2id hash, never returned.")
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never),
        multi_value("emails", string("value", "Email address."), &["work", "home", "other"], "Email addresses for the user."),
        multi_value(
            "phoneNumbers",
            string("value", "Phone number."),
            &["work", "home", "mobile", "fax", "pager", "other"],
            "Phone numbers for the user.",
        ),
        multi_value(
            "ims",
            string("value", "Instant messaging address."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            "Instant messaging addresses for the user.",
        ),
        multi_value(
            "photos",
            reference("value", &["external"], "URL of a photo of the user."),
            &["photo", "thumbnail"],
            "URLs of photos of the user.",
        ),
        complex(
            "addresses",
            "A physical mailing address for this user.",
            vec![
                string("formatted", "The full mailing address, formatted for display."),
                string("streetAddress", "The full street address component."),
                string("locality", "The city or locality component."),
                string("region", "The state or region component."),
                string("postalCode", "The zip code or postal code component."),
                string("country", "The country name component."),
                string("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
                boolean("primary", "Whether this is the primary address."),
            ],
        )
        .multi(),
        complex(
            "groups",
            "The groups the user belongs to, computed from group memberships. Read-only.",
            vec![
                string("value", "The identifier of the group.").mutability(Mutability::ReadOnly),
                reference("$ref", &["Group"], "The URI of the group.").mutability(Mutability::ReadOnly),
                string("display", "The group's displayName.").mutability(Mutability::ReadOnly),
                string("type", "How the membership is derived.")
                    .canonical(&["direct", "indirect"])
                    .mutability(Mutability::ReadOnly),
            ],
        )
        .multi()
        .mutability(Mutability::ReadOnly),
        multi_value("entitlements", string("value", "The value of an entitlement."), &[], "Entitlements of the user."),
        multi_value("roles", string("value", "The value of a role."), &[], "Roles of the user."),
        multi_value(
            "x509Certificates",
            AttrDef::new("value", AttrType::Binary, "The value of an X.509 certificate, base64 DER.").case_exact(),
            &[],
            "X.509 certificates of the user.",
        ),
    ],
}
});

pub static ENTERPRISE_USER: LazyLock<SchemaDef> = LazyLock::new(|| SchemaDef {
    id: ENTERPRISE_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: vec![
        string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person.",
        ),
        string("costCenter", "Identifies the name of a cost center."),
        string("organization", "Identifies the name of an organization."),
        string("division", "Identifies the name of a division."),
        string("department", "Identifies the name of a department."),
        complex(
            "manager",
            "The user's manager.",
            vec![
                string(
                    "value",
                    "The id of the SCIM resource representing the manager.",
                )
                .required(),
                reference("$ref", &["User"], "The URI of the manager's User resource."),
                string("displayName", "The displayName of the manager.")
                    .mutability(Mutability::ReadOnly),
            ],
        ),
    ],
});

pub static GROUP: LazyLock<SchemaDef> =
    LazyLock::new(|| SchemaDef {
        id: GROUP_URN,
        name: "Group",
        description: "Group",
        attributes: vec![
        string(
            "displayName",
            "A human-readable name for the group. Unique per organization, without regard to case.",
        )
        .required()
        .unique(),
        complex(
            "members",
            "A list of members of the group.",
            vec![
                string("value", "Identifier of the member of this group.")
                    .mutability(Mutability::Immutable),
                reference(
                    "$ref",
                    &["User", "Group"],
                    "The URI of the member resource.",
                )
                .mutability(Mutability::Immutable),
                string("display", "A human-readable name of the member, as the client gave it."),
                string("type", "The type of the member.")
                    .canonical(&["User", "Group"])
                    .mutability(Mutability::Immutable),
            ],
        )
        .multi(),
    ],
    });

/// A kind of resource served under `/scim/v2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "/Users",
            ResourceType::Group => "/Groups",
        }
    }

    pub fn schema(self) -> &'static SchemaDef {
        match self {
            ResourceType::User => &USER,
            ResourceType::Group => &GROUP,
        }
    }

    pub fn extensions(self) -> Vec<&'static SchemaDef> {
        match self {
            ResourceType::User => vec![&ENTERPRISE_USER],
            ResourceType::Group => vec![],
        }
    }

    /// Every schema URN a resource of this type may list in `schemas`.
    pub fn schema_urns(self) -> Vec<&'static str> {
        let mut v = vec![self.schema().id];
        v.extend(self.extensions().iter().map(|s| s.id));
        v
    }
}

/// Where a resolved attribute lives.
#[derive(Clone, Copy, Debug)]
pub struct Resolved {
    /// `None` for core and common attributes; the URN for an extension's.
    pub extension: Option<&'static str>,
    pub attr: &'static AttrDef,
    pub sub: Option<&'static AttrDef>,
}

impl Resolved {
    /// The definition of the leaf: the sub-attribute if named, else the
    /// attribute.
    pub fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The canonical dotted path, lowercased: how the search index names it
    /// (`emails.value`, `urn:…:user:manager.value`).
    pub fn index_path(&self) -> String {
        let mut p = String::new();
        if let Some(ext) = self.extension {
            p.push_str(&ext.to_ascii_lowercase());
            p.push(':');
        }
        p.push_str(&self.attr.name.to_ascii_lowercase());
        if let Some(sub) = self.sub {
            p.push('.');
            p.push_str(&sub.name.to_ascii_lowercase());
        }
        p
    }
}

/// Resolves `[urn:]name[.sub]` against a resource type, without regard to
/// case. A URN must be the core schema or one of the type's extensions.
pub fn resolve(
    rt: ResourceType,
    uri: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Option<Resolved> {
    let core: &'static SchemaDef = rt.schema();
    let (extension, attr): (Option<&'static str>, &'static AttrDef) = match uri {
        Some(u) if u.eq_ignore_ascii_case(core.id) => (None, find_core(rt, name)?),
        Some(u) => {
            let ext: &'static SchemaDef = rt
                .extensions()
                .into_iter()
                .find(|e| e.id.eq_ignore_ascii_case(u))?;
            (Some(ext.id), ext.attr(name)?)
        }
        None => (None, find_core(rt, name)?),
    };
    let sub = match sub {
        Some(s) => Some(attr.sub(s)?),
        None => None,
    };
    Some(Resolved {
        extension,
        attr,
        sub,
    })
}

fn find_core(rt: ResourceType, name: &str) -> Option<&'static AttrDef> {
    let core: &'static SchemaDef = rt.schema();
    let common: &'static Vec<AttrDef> = &COMMON;
    core.attr(name)
        .or_else(|| common.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
}

/// Splits a possibly URN-qualified path (`urn:…:User:manager.value`) into
/// (urn, name, sub).
pub fn split_path(path: &str) -> (Option<&str>, &str, Option<&str>) {
    let (uri, rest) = if path.to_ascii_lowercase().starts_with("urn:") {
        match path.rsplit_once(':') {
            Some((u, r)) => (Some(u), r),
            None => (None, path),
        }
    } else {
        (None, path)
    };
    match rest.split_once('.') {
        Some((n, s)) => (uri, n, Some(s)),
        None => (uri, rest, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_without_regard_to_case() {
        let r = resolve(ResourceType::User, None, "USERNAME", None).unwrap();
        assert_eq!(r.attr.name, "userName");
        let r = resolve(ResourceType::User, None, "emails", Some("VALUE")).unwrap();
        assert_eq!(r.index_path(), "emails.value");
        let r = resolve(
            ResourceType::User,
            Some(USER_URN),
            "name",
            Some("givenName"),
        )
        .unwrap();
        assert_eq!(r.index_path(), "name.givenname");
        assert!(resolve(ResourceType::User, None, "nope", None).is_none());
        assert!(resolve(ResourceType::Group, None, "userName", None).is_none());
        assert_eq!(
            resolve(ResourceType::Group, None, "id", None)
                .unwrap()
                .attr
                .name,
            "id"
        );
    }

    #[test]
    fn extension_attributes_need_their_urn() {
        let r = resolve(
            ResourceType::User,
            Some(ENTERPRISE_URN),
            "manager",
            Some("value"),
        )
        .unwrap();
        assert_eq!(r.extension, Some(ENTERPRISE_URN));
        assert!(
            r.index_path()
                .starts_with("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:")
        );
        assert!(resolve(ResourceType::User, None, "employeeNumber", None).is_none());
        assert!(
            resolve(
                ResourceType::Group,
                Some(ENTERPRISE_URN),
                "department",
                None
            )
            .is_none()
        );
    }

    #[test]
    fn paths_split_at_the_urn_and_the_dot() {
        assert_eq!(
            split_path("name.givenName"),
            (None, "name", Some("givenName"))
        );
        assert_eq!(
            split_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            (Some(ENTERPRISE_URN), "manager", Some("value"))
        );
        assert_eq!(split_path("active"), (None, "active", None));
    }
}
