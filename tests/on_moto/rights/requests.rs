//! What IAM is asked for each HTTP request a client sent, per the Service
//! Authorization Reference: the action, the resource's ARN and the condition
//! keys the request carries; and what AWS asks on the caller's behalf (S3's
//! use of a bucket's KMS key, Lambda reading the zip for
//! `PublishLayerVersion`, `GetLayerVersion` on each layer an update sets).

use crate::common::recorder::{decode, Seen};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const ACCOUNT: &str = "123456789012";

/// One authorization IAM makes.
#[derive(Clone, Debug)]
pub struct IamRequest {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, String>,
    /// The resource's own policy, evaluated with the caller's (a bucket's,
    /// a KMS key's).
    pub resource_policy: Option<Value>,
    /// The HTTP request it comes from, for a failure's message.
    pub from: String,
    /// Evaluated without the engine's check of the action's resource types
    /// (see [`LIST_LAYER_VERSIONS_TAKES_THE_LAYER`]).
    pub unchecked: bool,
}

/// The Service Authorization Reference, whose data the engine follows,
/// lists `lambda:ListLayerVersions` with no resource type (a right on `*`
/// only), but AWS authorizes it on the layer's ARN: its own refusals name the
/// layer ("not authorized to perform: lambda:ListLayerVersions on resource:
/// arn:aws:lambda:…:layer:NAME"), and Lambda's permissions reference has
/// listed it with `PublishLayerVersion` under "Layer" since the Lambda team
/// checked it (2020). So the role grants it on the layer, and its request is
/// evaluated against that ARN without the engine's resource-type check.
pub const LIST_LAYER_VERSIONS_TAKES_THE_LAYER: &str = "lambda:ListLayerVersions";

impl IamRequest {
    pub fn json(&self) -> Value {
        json!({
            "action": self.action,
            "resource": self.resource,
            "context": self.context,
            "resourcePolicy": self.resource_policy,
            "unchecked": self.unchecked,
        })
    }
}

/// What the requests of one deployment are evaluated with besides the
/// caller's policies.
pub struct Surroundings {
    /// The artifacts bucket and its bucket policy (a bucket the stack made).
    pub bucket: String,
    pub bucket_policy: Option<Value>,
    /// The bucket's KMS key (`KmsKeyArn`): S3 uses it with the caller's rights.
    pub kms_key: Option<String>,
}

/// The KMS key's default policy: the account's IAM policies decide.
fn default_key_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:*",
        "Resource": "*"
    }]})
}

/// The operation an S3, Lambda, SSM or EventBridge request is (the SDK's
/// name), for the coverage of what the function calls.
pub fn operation(seen: &Seen) -> String {
    let (_, service) = seen.scope();
    let target = seen
        .headers
        .get("x-amz-target")
        .cloned()
        .unwrap_or_default();
    if let Some((_, op)) = target.split_once('.') {
        return op.to_owned();
    }
    let has = |name: &str| seen.query_param(name).is_some();
    match (service.as_str(), seen.method.as_str()) {
        ("s3", method) => {
            let path = seen.path.trim_start_matches('/');
            let has_key = path.split_once('/').is_some_and(|(_, key)| !key.is_empty());
            match method {
                "HEAD" => "HeadObject",
                "GET" if has_key => "GetObject",
                "GET" => "ListObjectsV2",
                "PUT" if seen.headers.contains_key("x-amz-copy-source") => "CopyObject",
                "PUT" if has("uploadId") => "UploadPart",
                "PUT" => "PutObject",
                "POST" if has("uploads") => "CreateMultipartUpload",
                "POST" if has("uploadId") => "CompleteMultipartUpload",
                "DELETE" if has("uploadId") => "AbortMultipartUpload",
                "DELETE" => "DeleteObject",
                _ => "?",
            }
            .to_owned()
        }
        ("lambda", method) => {
            let parts: Vec<&str> = seen.path.trim_start_matches('/').split('/').collect();
            match (method, parts.as_slice()) {
                ("GET", [_, "layers", _, "versions"]) => "ListLayerVersions",
                ("POST", [_, "layers", _, "versions"]) => "PublishLayerVersion",
                ("GET", [_, "layers", _, "versions", _]) => "GetLayerVersion",
                ("DELETE", [_, "layers", _, "versions", _]) => "DeleteLayerVersion",
                ("POST", [_, "layers", _, "versions", _, "policy"]) => "AddLayerVersionPermission",
                ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
                ("PUT", [_, "functions", _, "configuration"]) => "UpdateFunctionConfiguration",
                _ => "?",
            }
            .to_owned()
        }
        _ => "?".to_owned(),
    }
}

/// The authorizations one HTTP request needs. `Err` for a request this
/// mapping does not know: a new call must be mapped before it can be proved.
pub fn of_http(seen: &Seen, around: &Surroundings) -> Result<Vec<IamRequest>, String> {
    let (region, service) = seen.scope();
    let op = operation(seen);
    let from = format!("{op} {} {}?{}", seen.method, seen.path, seen.query);
    let mut out = Vec::new();
    let mut ask = |action: &str, resource: String, extra: &[(&str, &str)]| {
        let mut context: BTreeMap<String, String> =
            [("aws:RequestedRegion".to_owned(), region.clone())].into();
        for (k, v) in extra {
            context.insert((*k).to_owned(), (*v).to_owned());
        }
        out.push(IamRequest {
            action: action.to_owned(),
            resource,
            context,
            resource_policy: None,
            from: from.clone(),
            unchecked: action == LIST_LAYER_VERSIONS_TAKES_THE_LAYER,
        });
    };
    let body: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
    match service.as_str() {
        "s3" => {
            let path = seen.path.trim_start_matches('/');
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            let (bucket, key) = (decode(bucket), decode(key));
            let object = format!("arn:aws:s3:::{bucket}/{key}");
            let version = seen.query_param("versionId");
            let read = s3_read(version.is_some());
            let s3 = S3_CONTEXT;
            let mut decrypts = false;
            let mut encrypts = false;
            match op.as_str() {
                "HeadObject" => ask(read, object, &s3),
                "GetObject" => {
                    ask(read, object, &s3);
                    decrypts = true;
                }
                "ListObjectsV2" => {
                    let prefix = seen.query_param("prefix").unwrap_or_default();
                    let mut context = s3.to_vec();
                    context.push(("s3:prefix", &prefix));
                    ask("s3:ListBucket", format!("arn:aws:s3:::{bucket}"), &context);
                }
                "CopyObject" => {
                    let source = seen.headers["x-amz-copy-source"].clone();
                    let (source, source_version) = match source.split_once("?versionId=") {
                        Some((s, v)) => (s.to_owned(), Some(v.to_owned())),
                        None => (source, None),
                    };
                    let source = decode(source.trim_start_matches('/'));
                    let source_read = s3_read(source_version.is_some());
                    ask(source_read, format!("arn:aws:s3:::{source}"), &s3);
                    ask("s3:PutObject", object, &s3);
                    decrypts = source.split('/').next() == Some(around.bucket.as_str());
                    encrypts = true;
                }
                "PutObject" | "UploadPart" | "CreateMultipartUpload" => {
                    // Tags given with the object need their own right.
                    if seen.headers.contains_key("x-amz-tagging") {
                        ask("s3:PutObjectTagging", object.clone(), &s3);
                    }
                    ask("s3:PutObject", object, &s3);
                    encrypts = true;
                }
                "CompleteMultipartUpload" => {
                    ask("s3:PutObject", object, &s3);
                    decrypts = true;
                }
                "AbortMultipartUpload" => ask("s3:AbortMultipartUpload", object, &s3),
                "DeleteObject" => {
                    let delete = if version.is_some() {
                        "s3:DeleteObjectVersion"
                    } else {
                        "s3:DeleteObject"
                    };
                    ask(delete, object, &s3);
                }
                _ => return Err(format!("an S3 request not mapped here: {from}")),
            }
            let own_bucket = bucket == around.bucket;
            if own_bucket {
                for request in out.iter_mut() {
                    request.resource_policy = around.bucket_policy.clone();
                }
            }
            if let (Some(key), true) = (&around.kms_key, own_bucket) {
                let via = format!("s3.{region}.amazonaws.com");
                let uses = [(decrypts, "kms:Decrypt"), (encrypts, "kms:GenerateDataKey")];
                for (_, action) in uses.iter().filter(|(used, _)| *used) {
                    out.push(kms(action, key, &region, &via, &from));
                }
            }
        }
        "lambda" => {
            let parts: Vec<String> = seen
                .path
                .trim_start_matches('/')
                .split('/')
                .map(decode)
                .collect();
            let layer = |name: &str| format!("arn:aws:lambda:{region}:{ACCOUNT}:layer:{name}");
            let function = |name: &str| {
                if name.starts_with("arn:") {
                    name.to_owned()
                } else {
                    format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{name}")
                }
            };
            match op.as_str() {
                "ListLayerVersions" => ask("lambda:ListLayerVersions", layer(&parts[2]), &[]),
                "PublishLayerVersion" => {
                    ask("lambda:PublishLayerVersion", layer(&parts[2]), &[]);
                    // Lambda reads the zip with the caller's rights.
                    let content = &body["Content"];
                    let (bucket, key) = (
                        content["S3Bucket"].as_str().unwrap_or_default(),
                        content["S3Key"].as_str().unwrap_or_default(),
                    );
                    let read = s3_read(content["S3ObjectVersion"].is_string());
                    let s3 = S3_CONTEXT;
                    let object = format!("arn:aws:s3:::{bucket}/{key}");
                    ask(read, object, &s3);
                    if bucket == around.bucket {
                        if let Some(last) = out.last_mut() {
                            last.resource_policy = around.bucket_policy.clone();
                        }
                        if let Some(key) = &around.kms_key {
                            let via = format!("s3.{region}.amazonaws.com");
                            out.push(kms("kms:Decrypt", key, &region, &via, &from));
                        }
                    }
                }
                "GetLayerVersion" | "DeleteLayerVersion" | "AddLayerVersionPermission" => {
                    let version = format!("{}:{}", layer(&parts[2]), parts[4]);
                    ask(&format!("lambda:{op}"), version, &[]);
                }
                "GetFunctionConfiguration" => {
                    ask("lambda:GetFunctionConfiguration", function(&parts[2]), &[]);
                }
                "UpdateFunctionConfiguration" => {
                    ask(
                        "lambda:UpdateFunctionConfiguration",
                        function(&parts[2]),
                        &[],
                    );
                    // Lambda checks the caller may use each layer it sets.
                    for arn in body["Layers"].as_array().into_iter().flatten() {
                        let arn = arn.as_str().unwrap_or_default().to_owned();
                        ask("lambda:GetLayerVersion", arn, &[]);
                    }
                }
                _ => return Err(format!("a Lambda request not mapped here: {from}")),
            }
        }
        "ssm" => {
            let name = body["Name"].as_str().unwrap_or_default();
            let path = if name.starts_with('/') {
                name.to_owned()
            } else {
                format!("/{name}")
            };
            let arn = format!("arn:aws:ssm:{region}:{ACCOUNT}:parameter{path}");
            match op.as_str() {
                "GetParameter" | "PutParameter" => ask(&format!("ssm:{op}"), arn, &[]),
                _ => return Err(format!("an SSM request not mapped here: {from}")),
            }
        }
        "events" => match op.as_str() {
            "PutEvents" => {
                for entry in body["Entries"].as_array().into_iter().flatten() {
                    let bus = entry["EventBusName"].as_str().unwrap_or("default");
                    let arn = if bus.starts_with("arn:") {
                        bus.to_owned()
                    } else {
                        format!("arn:aws:events:{region}:{ACCOUNT}:event-bus/{bus}")
                    };
                    ask("events:PutEvents", arn, &[]);
                }
            }
            _ => return Err(format!("an EventBridge request not mapped here: {from}")),
        },
        other => return Err(format!("a request to {other:?} not mapped here: {from}")),
    }
    Ok(out)
}

/// The condition keys of every S3 request here: the bucket's account, TLS.
const S3_CONTEXT: [(&str, &str); 2] = [
    ("s3:ResourceAccount", ACCOUNT),
    ("aws:SecureTransport", "true"),
];

/// Reading an object is `s3:GetObjectVersion` when a version is named.
fn s3_read(versioned: bool) -> &'static str {
    if versioned {
        "s3:GetObjectVersion"
    } else {
        "s3:GetObject"
    }
}

/// S3's use of the bucket's key for the caller.
fn kms(action: &str, key: &str, region: &str, via: &str, from: &str) -> IamRequest {
    IamRequest {
        action: action.to_owned(),
        resource: key.to_owned(),
        context: [
            ("aws:RequestedRegion".to_owned(), region.to_owned()),
            ("kms:ViaService".to_owned(), via.to_owned()),
        ]
        .into(),
        resource_policy: Some(default_key_policy()),
        from: format!("S3 for {from}"),
        unchecked: false,
    }
}

/// What the Lambda platform does with the function's role: write its logs
/// (each invocation), read the source queue (its event source mapping), send
/// a failed asynchronous event to the on-failure destination.
pub fn platform_logs(log_group: &str, region: &str) -> Vec<IamRequest> {
    let stream = format!(
        "arn:aws:logs:{region}:{ACCOUNT}:log-group:{log_group}:log-stream:2026/12/03/[$LATEST]0123456789abcdef"
    );
    ["logs:CreateLogStream", "logs:PutLogEvents"]
        .into_iter()
        .map(|action| platform(action, &stream, region, "the platform: the function's logs"))
        .collect()
}

pub fn platform_queue_reads(queue_arn: &str, region: &str) -> Vec<IamRequest> {
    [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    ]
    .into_iter()
    .map(|action| platform(action, queue_arn, region, "the event source mapping"))
    .collect()
}

pub fn platform_failed_event(queue_arn: &str, region: &str) -> IamRequest {
    platform(
        "sqs:SendMessage",
        queue_arn,
        region,
        "the on-failure destination",
    )
}

fn platform(action: &str, resource: &str, region: &str, from: &str) -> IamRequest {
    IamRequest {
        action: action.to_owned(),
        resource: resource.to_owned(),
        context: [("aws:RequestedRegion".to_owned(), region.to_owned())].into(),
        resource_policy: None,
        from: from.to_owned(),
        unchecked: false,
    }
}
