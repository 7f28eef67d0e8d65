//! The admin API's answer to a use case's refusal: problem+json through
//! [`ApiError`], with the status and `type` each kind of refusal has always
//! had on this API.

use crate::http::ApiError;
use crate::use_cases::UseCaseError;

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::NotFound(what) => ApiError::NotFound(what.to_string()),
            UseCaseError::Invalid(m) | UseCaseError::OutOfRange(m) => ApiError::BadRequest(m),
            UseCaseError::InvalidPermission(m) => ApiError::InvalidPermission(m),
            UseCaseError::Conflict(m) => ApiError::Conflict(m),
            UseCaseError::Forbidden { missing } => ApiError::Forbidden { missing },
            UseCaseError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}
