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

/// Creates a function on moto that uses `layers`, with boto3 from the
/// project's `.venv` (moto wants an IAM role Lambda can assume; the Rust
/// side has no IAM client).
pub fn create_function_on_moto(name: &str, layers: &[String]) {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
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
    let output = std::process::Command::new(python)
        .args(["-c", script, name, &layers])
        .env("AWS_ENDPOINT_URL", crate::common::moto_endpoint())
        .env("AWS_DEFAULT_REGION", crate::common::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

/// Makes SSE-KMS with a new customer-managed key the default encryption of
/// this world's bucket, as a company artifacts bucket often is; the key's
/// ARN. The key is made with boto3 from the project's venv (the crate has
/// no KMS client, and needs none).
pub async fn encrypt_with_a_kms_key(w: &crate::common::World) -> String {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    let create = "import boto3, sys; kms = boto3.client('kms', endpoint_url=sys.argv[1], \
                  region_name=sys.argv[2], aws_access_key_id='testing', \
                  aws_secret_access_key='testing'); \
                  print(kms.create_key()['KeyMetadata']['Arn'])";
    let out = std::process::Command::new(python)
        .args([
            "-c",
            create,
            crate::common::moto_endpoint(),
            crate::common::REGION,
        ])
        .output()
        .expect("the venv's python (make tools) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
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
