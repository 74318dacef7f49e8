//! What the moto tests share: the folder, the lock files, and helpers that
//! act on moto directly (a layer version published by another tool, a
//! function, the lease's size). Re-exports what the tests use.

pub use crate::common::{md5_hex, sample, set_object, world, zip_bytes};
pub use layer_autopublish::config::Config;
pub use layer_autopublish::domain::outcome::{Adopted, Deployment};
pub use layer_autopublish::OutcomeKind;

pub const DIR: &str = "projects/my-app/lambda/layer";

pub const LOCK_V1: &str = "requests==2.32.3 --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6\n";

pub const LOCK_V2: &str = "requests==2.32.4 --hash=sha256:27babd3cda2a6d50b30443204ee89830707d396671944c998b5975b031ac2b2c\n";

pub fn key(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// Versions published by aws_lambda_artifact_builder carry no marker: their
/// lock file MD5 is known only from `{NNNNNN}/{manifest}`.
pub async fn publish_legacy_version(w: &crate::common::World, lock: Option<&str>) -> i64 {
    w.put(&key("legacy.zip"), &zip_bytes("legacy"), &[]).await;
    let out = w
        .lambda
        .publish_layer_version()
        .layer_name(&w.layer)
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .s3_bucket(&w.bucket)
                .s3_key(key("legacy.zip"))
                .build(),
        )
        .send()
        .await
        .expect("legacy publish");
    let version = out.version();
    if let Some(lock) = lock {
        w.put(
            &key(&format!("{version:06}/requirements.txt")),
            lock.as_bytes(),
            &[],
        )
        .await;
        w.put(&key("last-requirements.txt"), lock.as_bytes(), &[])
            .await;
    }
    version
}

/// The project's venv Python (`make tools`) run with `args` against the
/// server at `endpoint` (none when empty), with moto's test credentials;
/// its standard output.
/// Fails the test, with Python's error, when it fails.
pub fn venv_python(args: &[&str], endpoint: &str) -> Vec<u8> {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make tools`",
        python.display()
    );
    let mut command = std::process::Command::new(&python);
    if !endpoint.is_empty() {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    let output = command
        .args(args)
        .env("AWS_DEFAULT_REGION", crate::common::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("the venv's python runs");
    assert!(
        output.status.success(),
        "python {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A version of another layer, `name`, published from this world's
/// `key`: its ARN.
pub async fn publish_another_layer(w: &crate::common::World, name: &str, key: &str) -> String {
    w.lambda
        .publish_layer_version()
        .layer_name(name)
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .s3_bucket(&w.bucket)
                .s3_key(key)
                .build(),
        )
        .send()
        .await
        .expect("another layer")
        .layer_version_arn()
        .unwrap_or_default()
        .to_owned()
}

/// Creates a function on moto that uses `layers`, with boto3 from the
/// project's `.venv` (moto wants an IAM role Lambda can assume; the Rust
/// side has no IAM client).
pub fn create_function_on_moto(name: &str, layers: &[String]) {
    create_function_on(crate::common::moto_endpoint(), name, layers);
}

/// [`create_function_on_moto`], on the server at `endpoint`.
pub fn create_function_on(endpoint: &str, name: &str, layers: &[String]) {
    let script = r##"
import io, json, sys, zipfile, boto3
name, layers = sys.argv[1], json.loads(sys.argv[2])
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam = boto3.client("iam")
try:
    role = iam.create_role(RoleName="follower", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
except iam.exceptions.EntityAlreadyExistsException:
    role = iam.get_role(RoleName="follower")["Role"]["Arn"]
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\n")
boto3.client("lambda").create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
    Handler="bootstrap", Code={"ZipFile": code.getvalue()}, Layers=layers)
"##;
    let layers = serde_json::to_string(layers).expect("JSON");
    venv_python(&["-c", script, name, &layers], endpoint);
}

/// A function's layer version ARNs on moto, in order.
pub async fn layers_of(w: &crate::common::World, function: &str) -> Vec<String> {
    let out = w
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .expect("the function");
    out.layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_owned))
        .collect()
}

/// The layer's lease on moto, as a listing shows it: its size (512 held,
/// 1024 handed over, shorter released).
pub async fn lease_size(w: &crate::common::World) -> Option<i64> {
    let key = format!("layer-autopublish/leases/{}.lease", w.layer);
    let listed =
        w.s3.list_objects_v2()
            .bucket(&w.bucket)
            .prefix(&key)
            .send()
            .await
            .expect("listed");
    listed.contents().first().and_then(|o| o.size())
}

/// A new customer-managed KMS key on this world's server: its ARN. Made
/// with boto3 from the project's venv (the crate has no KMS client, and
/// needs none).
pub fn create_a_kms_key(w: &crate::common::World) -> String {
    let create = "import boto3; print(boto3.client('kms').create_key()['KeyMetadata']['Arn'])";
    let endpoint = w
        .sdk
        .endpoint_url()
        .unwrap_or_else(|| crate::common::moto_endpoint());
    String::from_utf8_lossy(&venv_python(&["-c", create], endpoint))
        .trim()
        .to_owned()
}

/// Makes SSE-KMS with a new customer-managed key the default encryption of
/// this world's bucket, as a company artifacts bucket often is; the key's
/// ARN.
pub async fn encrypt_with_a_kms_key(w: &crate::common::World) -> String {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let key = create_a_kms_key(w);
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(&key)
        .build()
        .expect("a default");
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default)
        .bucket_key_enabled(true)
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .expect("a configuration");
    w.s3.put_bucket_encryption()
        .bucket(&w.bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .expect("bucket encryption");
    key
}
