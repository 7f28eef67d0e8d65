//! When a new token (SAT or PAT) stops working, as its creator asked, and
//! the one check of the bound on a lifetime given in days.

use time::Duration;

use super::UseCaseError;
use crate::store::Timestamp;

/// The longest lifetime a token may be given in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// A requested expiry. Whether it is in the future, and within the
/// organization's cap, is the token core's check when it creates the token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// None asked for (the organization's cap still applies).
    #[default]
    Unset,
    At(Timestamp),
    /// This many days from now, 1 to [`MAX_EXPIRY_DAYS`].
    InDays(i64),
}

impl Expiry {
    /// From the two ways a request may give it: an RFC 3339 date-time or a
    /// number of days, at most one of them.
    pub fn from_parts(at: Option<&str>, in_days: Option<i64>) -> Result<Self, UseCaseError> {
        match (at, in_days) {
            (Some(_), Some(_)) => Err(UseCaseError::Invalid(
                "give expires_at or expires_in_days, not both".into(),
            )),
            (Some(at), None) => Timestamp::parse_rfc3339(at).map(Expiry::At).ok_or_else(|| {
                UseCaseError::Invalid("expires_at must be an RFC 3339 date-time".into())
            }),
            (None, Some(days)) => Ok(Expiry::InDays(days)),
            (None, None) => Ok(Expiry::Unset),
        }
    }

    /// The expiry time, counting days from `now`.
    pub fn resolve(self, now: Timestamp) -> Result<Option<Timestamp>, UseCaseError> {
        match self {
            Expiry::Unset => Ok(None),
            Expiry::At(at) => Ok(Some(at)),
            Expiry::InDays(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
                Ok(Some(now + Duration::days(days)))
            }
            Expiry::InDays(_) => Err(UseCaseError::OutOfRange(format!(
                "expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_bounded_once_here() {
        let now = Timestamp::now();
        assert_eq!(
            Expiry::InDays(1).resolve(now).unwrap(),
            Some(now + Duration::days(1))
        );
        assert!(Expiry::InDays(MAX_EXPIRY_DAYS).resolve(now).is_ok());
        for bad in [0, -1, MAX_EXPIRY_DAYS + 1] {
            assert!(matches!(
                Expiry::InDays(bad).resolve(now),
                Err(UseCaseError::OutOfRange(_))
            ));
        }
        assert_eq!(Expiry::Unset.resolve(now).unwrap(), None);
    }

    #[test]
    fn a_request_gives_one_form_at_most() {
        assert!(Expiry::from_parts(Some("2999-01-01T00:00:00Z"), Some(3)).is_err());
        assert!(Expiry::from_parts(Some("tomorrow"), None).is_err());
        assert!(matches!(
            Expiry::from_parts(Some("2999-01-01T00:00:00Z"), None),
            Ok(Expiry::At(_))
        ));
        assert_eq!(Expiry::from_parts(None, None).unwrap(), Expiry::Unset);
    }
}
