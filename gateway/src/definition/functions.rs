//! Lambda functions named by a definition: the function ARN inside an `aws_proxy`
//! integration's or a Lambda authorizer's URI (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`),
//! `${stageVariables.…}` pieces and all, and which function ARNs the gateway can call.
//!
//! gatehouse calls a function through its registry (an HTTP endpoint per ARN, see the
//! identity crate's `functions`), so a definition naming an ARN with no registration cannot be
//! served. Loading (a literal ARN, reported at its key) and compiling (an ARN a stage's
//! variables complete, reported at the stage) refuse it with [`Problem::UnregisteredFunction`],
//! which names the ARN and how to register it. What is registered comes from the caller, as a
//! [`FunctionCatalog`] in [`crate::Limits::functions`]: definitions stay pure, the catalog
//! answers from memory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::definition::error::Problem;
use crate::definition::template::{Piece, RenderError, parse_pieces};

/// Which function ARNs can be called (the gateway's view of the function registry).
pub trait FunctionCatalog: Send + Sync + fmt::Debug {
    /// Whether a call to `function_arn` (qualified or not) would find an endpoint.
    fn is_registered(&self, function_arn: &str) -> bool;
}

/// The catalog definitions are checked against; the default knows no function.
#[derive(Clone, Default)]
pub struct KnownFunctions(Option<Arc<dyn FunctionCatalog>>);

/// A function ARN as a definition writes it: literal text and `${stageVariables.…}` pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    text: String,
    pieces: Vec<Piece>,
}

/// How the gateway talks to a function behind an `aws_proxy` integration: API Gateway's
/// payload format versions (REST APIs have 1.0 only; HTTP APIs choose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadFormat {
    /// `resource`, `path`, `httpMethod`, `multiValueHeaders`, … and the answer's
    /// `statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`.
    #[default]
    V1,
    /// `version: "2.0"`, `routeKey`, `rawPath`, `cookies`, … and an answer that may be any JSON
    /// (a value without `statusCode` is a 200 body).
    V2,
}

const INVOCATION_PREFIX: &str = "lambda:path/2015-03-31/functions/";
const INVOCATION_SUFFIX: &str = "/invocations";

// === impl KnownFunctions ===

impl KnownFunctions {
    pub fn new(catalog: Arc<dyn FunctionCatalog>) -> Self {
        Self(Some(catalog))
    }

    pub fn is_registered(&self, function_arn: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|catalog| catalog.is_registered(function_arn))
    }

    /// [`Problem::UnregisteredFunction`] for `arn` unless it is registered; `alternative` is
    /// another way to serve what names it (an authorizer's `x-gatehouse-endpoint`).
    pub(crate) fn check(&self, arn: &str, alternative: &'static str) -> Result<(), Problem> {
        if self.is_registered(arn) {
            Ok(())
        } else {
            Err(Problem::UnregisteredFunction {
                arn: arn.to_owned(),
                alternative,
            })
        }
    }
}

impl PartialEq for KnownFunctions {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for KnownFunctions {}

impl fmt::Debug for KnownFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(catalog) => write!(f, "KnownFunctions({catalog:?})"),
            None => f.write_str("KnownFunctions(none)"),
        }
    }
}

// === impl FunctionRef ===

impl FunctionRef {
    /// The function ARN of an integration or authorizer URI: API Gateway's invocation ARN
    /// (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`,
    /// as SAM and Terraform write it) or a bare Lambda function ARN. Stage variables may
    /// stand for any part of the function ARN.
    pub fn parse(uri: &str) -> Result<Self, Problem> {
        let bad = |reason: &str| Problem::invalid("function uri", uri, reason);
        let function = if uri.contains(":apigateway:") {
            let start = uri.find(INVOCATION_PREFIX).ok_or_else(|| {
                bad("expected `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations`")
            })?;
            let rest = uri
                .get(start + INVOCATION_PREFIX.len()..)
                .unwrap_or_default();
            rest.strip_suffix(INVOCATION_SUFFIX)
                .ok_or_else(|| bad("an invocation uri ends with `/invocations`"))?
        } else {
            uri
        };
        let pieces = parse_pieces(function, false)?;
        let parsed = Self {
            text: function.to_owned(),
            pieces,
        };
        // With every piece written out, it must look like a function ARN; a stage variable
        // may stand for any part, so only a literal one is checked here.
        if let Some(literal) = parsed.literal()
            && !looks_like_function_arn(literal)
        {
            return Err(bad(
                "expected a Lambda function ARN, `arn:aws:lambda:REGION:ACCOUNT:function:NAME` with an optional `:ALIAS`",
            ));
        }
        Ok(parsed)
    }

    /// The function ARN as written (with its `${stageVariables.…}` pieces).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The ARN when it has no stage variables.
    pub fn literal(&self) -> Option<&str> {
        self.pieces
            .iter()
            .all(|p| matches!(p, Piece::Literal(_)))
            .then_some(self.text.as_str())
    }

    /// Names of the stage variables the ARN needs.
    pub fn stage_variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::StageVariable(name) => Some(name.as_str()),
            Piece::Literal(_) | Piece::PathParam(_) => None,
        })
    }

    /// The ARN with a stage's variables filled in.
    pub fn render(
        &self,
        stage_variables: &BTreeMap<String, String>,
    ) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.text.len() + 16);
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::StageVariable(name) => out.push_str(
                    stage_variables
                        .get(name)
                        .ok_or_else(|| RenderError::MissingStageVariable(name.clone()))?,
                ),
                Piece::PathParam(name) => return Err(RenderError::MissingPathParam(name.clone())),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `arn:{partition}:lambda:{region}:{account}:function:{name}[:{qualifier}]`, by its shape only
/// (the registry checks the parts).
pub(crate) fn looks_like_function_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "lambda", _, _, "function", name]
        | ["arn", partition, "lambda", _, _, "function", name, _]
            if partition.starts_with("aws") && !name.is_empty()
    )
}

// === impl PayloadFormat ===

impl PayloadFormat {
    /// `payloadFormatVersion`: `1.0` or `2.0`.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        match text.trim() {
            "1.0" => Ok(Self::V1),
            "2.0" => Ok(Self::V2),
            other => Err(Problem::invalid(
                "payload format version",
                other,
                "expected `1.0` or `2.0`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders";

    #[test]
    fn function_arns_from_invocation_uris() {
        let vars = BTreeMap::from([("alias".to_owned(), "live".to_owned())]);
        let cases: Vec<(String, Result<&str, &str>)> = vec![
            // SAM's `${Fn.Arn}` and Terraform's `invoke_arn`, written out.
            (
                format!(
                    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}/invocations"
                ),
                Ok(FN),
            ),
            (
                format!(
                    "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{FN}:live/invocations"
                ),
                Ok("arn:aws:lambda:us-east-1:123456789012:function:orders:live"),
            ),
            (
                format!(
                    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}:${{stageVariables.alias}}/invocations"
                ),
                Ok("arn:aws:lambda:us-east-1:123456789012:function:orders:live"),
            ),
            (FN.to_owned(), Ok(FN)),
            (
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/orders/invocations"
                    .to_owned(),
                Err("expected a Lambda function ARN"),
            ),
            (
                format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}"),
                Err("ends with `/invocations`"),
            ),
            (
                "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem".to_owned(),
                Err("expected `arn:aws:apigateway:REGION:lambda:path"),
            ),
            (
                "${AuthorizerFunction.Arn}".to_owned(),
                Err("expected a Lambda function ARN"),
            ),
            (
                "https://auth.example.com/".to_owned(),
                Err("expected a Lambda function ARN"),
            ),
        ];
        for (uri, expected) in cases {
            match (FunctionRef::parse(&uri), expected) {
                (Ok(f), Ok(arn)) => assert_eq!(f.render(&vars).unwrap(), arn, "{uri}"),
                (Err(problem), Err(words)) => {
                    assert!(problem.to_string().contains(words), "{uri}: {problem}");
                }
                (got, want) => panic!("{uri}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn stage_variables_complete_an_arn_at_compile_time() {
        let f = FunctionRef::parse(&format!("{FN}:${{stageVariables.alias}}")).unwrap();
        assert_eq!(f.literal(), None);
        assert_eq!(f.stage_variables().collect::<Vec<_>>(), ["alias"]);
        assert_eq!(
            f.render(&BTreeMap::new()),
            Err(RenderError::MissingStageVariable("alias".into()))
        );
        assert_eq!(FunctionRef::parse(FN).unwrap().literal(), Some(FN));
    }

    #[test]
    fn payload_formats() {
        assert_eq!(PayloadFormat::parse("1.0"), Ok(PayloadFormat::V1));
        assert_eq!(PayloadFormat::parse("2.0"), Ok(PayloadFormat::V2));
        assert!(PayloadFormat::parse("3.0").is_err());
    }

    #[test]
    fn the_catalog_decides_and_the_problem_says_how_to_register() {
        #[derive(Debug)]
        struct Only(&'static str);
        impl FunctionCatalog for Only {
            fn is_registered(&self, arn: &str) -> bool {
                arn == self.0
            }
        }
        let known = KnownFunctions::new(Arc::new(Only(FN)));
        assert!(known.check(FN, "").is_ok());
        let problem = known
            .check("arn:aws:lambda:us-east-1:123456789012:function:x", "")
            .unwrap_err();
        let text = problem.to_string();
        for words in [
            "function `arn:aws:lambda:us-east-1:123456789012:function:x` is not registered",
            "--function arn:aws:lambda:us-east-1:123456789012:function:x=URL",
        ] {
            assert!(text.contains(words), "{text}");
        }
        assert!(!KnownFunctions::default().is_registered(FN));
        assert_eq!(known.clone(), known);
        assert_ne!(known, KnownFunctions::default());
    }
}
