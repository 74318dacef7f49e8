//! Why a command failed, and the exit code CI acts on.

use layer_autopublish::error::{AwsError, Error as FunctionError, Problem};

/// A failed command. The message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Exit 3: the input is wrong; fix it and run again.
    #[error("{0}")]
    Rejected(String),
    /// Exit 4: an AWS call failed (credentials, rights, network, a service error).
    #[error("{0}")]
    Aws(String),
    /// Exit 5: another invocation is publishing from the folder; retry later.
    #[error("{0}")]
    Busy(String),
    /// Exit 6 (`upload --wait`): the upload was not published: it failed
    /// every retry, or a newer upload superseded it.
    #[error("{0}")]
    NotPublished(String),
    /// Exit 7 (`upload --wait`): no receipt came in time.
    #[error("{0}")]
    TimedOut(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Rejected(_) => 3,
            Self::Aws(_) => 4,
            Self::Busy(_) => 5,
            Self::NotPublished(_) => 6,
            Self::TimedOut(_) => 7,
        }
    }

    /// The function's own error, as `invoke` reports it: AWS trouble over a
    /// busy folder over rejected input, when records failed differently.
    pub fn of_function(error: &FunctionError) -> Self {
        let message = format!("{}: {error}", error.error_type());
        let problems: Vec<&Problem> = match error {
            FunctionError::InvalidEvent(_) => Vec::new(),
            FunctionError::RecordsFailed { failed, .. } => {
                failed.iter().map(|(_, e)| &e.problem).collect()
            }
        };
        let aws = |p: &&Problem| {
            matches!(
                p,
                Problem::Aws(_) | Problem::Throttled { .. } | Problem::PublishUnconfirmed { .. }
            )
        };
        if problems.iter().any(aws) {
            Self::Aws(message)
        } else if problems
            .iter()
            .any(|p| matches!(p, Problem::PublishInProgress { .. }))
        {
            Self::Busy(message)
        } else {
            Self::Rejected(message)
        }
    }
}

impl Failure {
    /// The deployed function's error, by its `errorType` alone (what
    /// `Invoke` answers): as [`Failure::of_function`] ranks it.
    pub fn of_error_type(error_type: &str, message: &str) -> Self {
        let said = format!("{error_type}: {message}");
        let aws = error_type.ends_with("Error") && error_type != "InternalError";
        match error_type {
            "PublishInProgress" => Self::Busy(said),
            "PublishUnconfirmed" | "Throttled" | "MultipleErrors" => Self::Aws(said),
            _ if aws => Self::Aws(said),
            _ => Self::Rejected(said),
        }
    }
}

impl From<AwsError> for Failure {
    fn from(error: AwsError) -> Self {
        Self::Aws(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use layer_autopublish::error::RecordError;

    fn failed(errors: Vec<RecordError>) -> FunctionError {
        let total = errors.len();
        FunctionError::RecordsFailed {
            failed: errors.into_iter().enumerate().collect(),
            total,
        }
    }

    fn record(problem: Problem) -> RecordError {
        RecordError {
            zip: "s3://b/layer.zip".into(),
            problem,
        }
    }

    fn busy() -> RecordError {
        record(Problem::PublishInProgress {
            lease: "s3://b/layer-autopublish/leases/deps.lease".into(),
            holder: "h".into(),
            seconds_left: 30,
        })
    }

    fn rejected() -> RecordError {
        record(Problem::MissingLayerName)
    }

    fn aws() -> RecordError {
        record(Problem::Aws(AwsError {
            service: layer_autopublish::error::AwsService::S3,
            operation: "HeadObject",
            target: "s3://b/layer.zip".into(),
            code: Some("AccessDenied".into()),
            answered: true,
            message: "AccessDenied".into(),
            retry_after_s: None,
            waited_out: None,
        }))
    }

    #[test]
    fn exit_codes_rank_aws_over_busy_over_rejected() {
        let code = |errors| Failure::of_function(&failed(errors)).exit_code();
        assert_eq!(code(vec![rejected()]), 3);
        assert_eq!(code(vec![busy()]), 5);
        assert_eq!(code(vec![aws()]), 4);
        assert_eq!(code(vec![rejected(), busy()]), 5);
        assert_eq!(code(vec![busy(), aws(), rejected()]), 4);
        let message = Failure::of_function(&failed(vec![busy()])).to_string();
        assert!(
            message.starts_with("PublishInProgress: s3://b/layer.zip"),
            "{message}"
        );
    }

    #[test]
    fn the_deployed_functions_error_type_ranks_as_invoke_does() {
        let code = |error_type| Failure::of_error_type(error_type, "m").exit_code();
        assert_eq!(code("MissingManifestMd5"), 3);
        assert_eq!(code("InternalError"), 3);
        assert_eq!(code("PublishInProgress"), 5);
        for aws in [
            "S3Error",
            "LambdaError",
            "PublishUnconfirmed",
            "Throttled",
            "MultipleErrors",
        ] {
            assert_eq!(code(aws), 4, "{aws}");
        }
    }
}
