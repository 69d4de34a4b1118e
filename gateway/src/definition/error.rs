//! The errors of loading, importing and compiling definitions.
//!
//! Every problem carries the location where it was found, written the way the author of the
//! input would look for it: a dotted path into the declarative file
//! (`apis.petstore.resources./pets.GET.integration.uri`) or an OpenAPI path and method
//! (`paths./pets.get.x-amazon-apigateway-integration.uri`).

use std::fmt;

/// Why a definition could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The text is larger than [`crate::Limits::max_definition_bytes`].
    #[error("definition is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// The text is neither YAML, JSON nor TOML, or is not a mapping at its top.
    #[error("`{name}`: {message}")]
    Syntax { name: String, message: String },
    /// The text parsed but does not describe a valid definition.
    #[error("{0}")]
    Invalid(Problems),
}

/// One or more problems, each with its location. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Problems(pub Vec<DefinitionError>);

/// A problem at a location.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {problem}")]
pub struct DefinitionError {
    /// Where the problem is, in the input's own terms.
    pub location: String,
    pub problem: Problem,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("missing required field `{field}`")]
    Missing { field: &'static str },
    #[error("invalid {what} `{value}`: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("{what} `{value}` is out of range {range}")]
    OutOfRange {
        what: &'static str,
        value: String,
        range: &'static str,
    },
    #[error("too many {what}: {count}, the limit is {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("{what} `{name}` is defined more than once")]
    Duplicate { what: &'static str, name: String },
    /// Defined by two definition files (or twice through one file and a file it imports);
    /// `first` and `second` name the files, `advice` says how to load them together.
    #[error("{what} `{name}` is defined twice: in {first} and in {second}; {advice}")]
    DefinedTwice {
        what: &'static str,
        name: String,
        first: String,
        second: String,
        advice: String,
    },
    /// A value of another type where a string belongs (a CloudFormation intrinsic such as
    /// `{"Fn::Sub": …}` left in a document taken from a SAM or CloudFormation template).
    #[error("expected a string, found {found}")]
    NotAString { found: &'static str },
    #[error("unknown {what} `{name}`")]
    Unknown { what: &'static str, name: String },
    #[error("`{name}` is not supported: {reason}")]
    Unsupported { name: String, reason: String },
    #[error("path `{path}` conflicts with `{other}`: {reason}")]
    PathConflict {
        path: String,
        other: String,
        reason: &'static str,
    },
    #[error("reference `{reference}` cannot be resolved")]
    UnresolvedRef { reference: String },
    #[error("reference `{reference}` is part of a cycle")]
    RefCycle { reference: String },
    /// A Lambda function ARN no registration serves; `alternative` is another way out, said
    /// after the ways to register it (empty when there is none).
    #[error(
        "function `{arn}` is not registered: give it an HTTP endpoint with `gatehouse serve --function {arn}=URL` (or GATEHOUSE_FUNCTIONS, a `[[functions]]` entry in the config file, or the operator API's `POST /gatehouse/functions`){alternative}"
    )]
    UnregisteredFunction {
        arn: String,
        alternative: &'static str,
    },
}

/// Something a definition asks for that gatehouse does not do, or a likely mistake that still
/// loads. Import never drops a construct silently: it lands here, by name, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where, in the input's own terms.
    pub location: String,
    /// The extension, field or construct (`x-amazon-apigateway-gateway-responses`, `type: aws`).
    pub name: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`: {}", self.location, self.name, self.message)
    }
}

// === impl LoadError ===

impl LoadError {
    /// The individual problems, for callers that print one per line.
    pub fn problems(&self) -> &[DefinitionError] {
        match self {
            Self::Invalid(problems) => &problems.0,
            Self::TooLarge { .. } | Self::Syntax { .. } => &[],
        }
    }
}

impl From<Problems> for LoadError {
    fn from(problems: Problems) -> Self {
        Self::Invalid(problems)
    }
}

// === impl Problems ===

impl Problems {
    pub(crate) fn push(&mut self, location: impl Into<String>, problem: Problem) {
        self.0.push(DefinitionError {
            location: location.into(),
            problem,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, DefinitionError> {
        self.0.iter()
    }

    /// `Ok(value)` when no problem was recorded, else the problems.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("invalid definition"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in the definition:", many.len())?;
                for problem in many {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Problems {}

impl Problem {
    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            name: name.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unknown(what: &'static str, name: impl Into<String>) -> Self {
        Self::Unknown {
            what,
            name: name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_location_and_problem() {
        let mut problems = Problems::default();
        problems.push(
            "apis.a.resources./x",
            Problem::unknown("authorizer", "cognito"),
        );
        assert_eq!(
            problems.to_string(),
            "apis.a.resources./x: unknown authorizer `cognito`"
        );
        problems.push(
            "stages.0",
            Problem::Missing {
                field: "deployment",
            },
        );
        assert_eq!(
            problems.to_string(),
            "2 problems in the definition:\n  apis.a.resources./x: unknown authorizer `cognito`\n  stages.0: missing required field `deployment`"
        );
        let err = LoadError::from(problems);
        assert_eq!(err.problems().len(), 2);
    }
}
