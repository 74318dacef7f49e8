//! The ports' contract, held by both sides: every assertion here runs once
//! against the in-memory AWS (`layer_autopublish::adapters::fake`) and once against
//! moto server through the SDK (`layer_autopublish::adapters::aws`), so the fake the
//! fault scenarios run on cannot drift from the real services. Where moto
//! itself departs from AWS, the assertion says so and holds on the fake.

use layer_autopublish::adapters::fake::{code_sha256, FakeAws};
use layer_autopublish::domain::manifest::ManifestMd5;
use layer_autopublish::ports::{
    Events, Folder, Layer, ObjectId, ObjectStart, Parameters, PublishRequest, SmallObject,
    SourceObject, WriteCondition,
};
use std::time::UNIX_EPOCH;

/// Setting the scene on one side: a bucket and a layer of the test's own.
trait Scene {
    fn bucket(&self) -> &str;
    fn layer(&self) -> &str;
    /// moto departs from AWS in a few places, named where they matter.
    fn is_moto(&self) -> bool;
    async fn enable_versioning(&self);
    async fn put(&self, key: &str, bytes: &[u8], metadata: &[(&str, &str)]) -> ObjectId;
    /// A second bucket, created empty.
    async fn other_bucket(&self) -> String;
}

struct Fake {
    aws: FakeAws,
}

impl Scene for Fake {
    fn bucket(&self) -> &str {
        "contract"
    }
    fn layer(&self) -> &str {
        "contract-layer"
    }
    fn is_moto(&self) -> bool {
        false
    }
    async fn enable_versioning(&self) {
        self.aws.enable_versioning(self.bucket());
    }
    async fn put(&self, key: &str, bytes: &[u8], metadata: &[(&str, &str)]) -> ObjectId {
        self.aws
            .put_object(self.bucket(), key, bytes, metadata, None)
    }
    async fn other_bucket(&self) -> String {
        self.aws.create_bucket("contract-other");
        "contract-other".into()
    }
}

impl Scene for crate::common::World {
    fn bucket(&self) -> &str {
        &self.bucket
    }
    fn layer(&self) -> &str {
        &self.layer
    }
    fn is_moto(&self) -> bool {
        true
    }
    async fn enable_versioning(&self) {
        crate::common::World::enable_versioning(self).await;
    }
    async fn put(&self, key: &str, bytes: &[u8], metadata: &[(&str, &str)]) -> ObjectId {
        let (etag, version_id) = crate::common::World::put(self, key, bytes, metadata).await;
        ObjectId {
            version_id,
            etag: Some(etag),
        }
    }
    async fn other_bucket(&self) -> String {
        let other = format!("{}-other", self.bucket);
        self.s3
            .create_bucket()
            .bucket(&other)
            .send()
            .await
            .expect("another bucket");
        other
    }
}

/// Each contract as two tests: `fake` and `moto`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn fake() {
                let fake = super::Fake { aws: super::FakeAws::new() };
                fake.aws.create_bucket("contract");
                super::$name(&fake.aws, &fake).await;
            }

            #[tokio::test]
            async fn moto() {
                let world = crate::common::world(stringify!($name)).await;
                super::$name(&world.aws, &world).await;
            }
        }
    )*};
}

contract!(
    head_tells_etag_size_metadata_and_version,
    read_start_gives_the_first_bytes_and_which_object_they_are_from,
    ranges_are_read_only_from_the_object_named,
    read_small_reads_only_what_fits,
    listings_are_in_key_order_after_start_after,
    puts_hold_to_their_condition,
    copies_hold_to_the_sources_etag,
    copies_across_buckets_take_the_version_named,
    layers_number_their_versions_and_hash_what_they_took,
    a_publish_takes_the_object_version_it_names,
    a_bucket_that_does_not_exist,
    parameters_are_read_and_overwritten,
    sharing_a_version_twice_is_one_grant,
    an_event_goes_on_the_default_bus,
    versions_and_objects_are_deleted_once_and_again,
);

fn md5(bytes: &[u8]) -> String {
    ManifestMd5::of(bytes).to_string()
}

async fn head_tells_etag_size_metadata_and_version<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let b = scene.bucket();
    assert_eq!(ports.head(b, "app/missing.zip").await.unwrap(), None);
    let put = scene
        .put(
            "app/layer.zip",
            b"PK\x03\x04 zip",
            &[("manifest-md5", "abc")],
        )
        .await;

    let head = ports
        .head(b, "app/layer.zip")
        .await
        .unwrap()
        .expect("exists");

    assert_eq!(head.id, put);
    assert_eq!(
        head.id.etag,
        Some(md5(b"PK\x03\x04 zip")),
        "a single PUT's ETag is its MD5"
    );
    assert_eq!(head.id.version_id, None, "unversioned");
    assert_eq!(head.size, 8);
    assert_eq!(
        head.metadata.get("manifest-md5").map(String::as_str),
        Some("abc")
    );
    assert_eq!(head.sha256, None, "uploaded without a checksum");
    assert!(!head.kms);
    // When S3 wrote it, to the second, as its listing says.
    let listed = ports.list_after(b, "app/layer.zip", None).await.unwrap();
    assert!(head.last_modified.is_some());
    assert_eq!(head.last_modified, listed[0].last_modified);

    scene.enable_versioning().await;
    let second = scene.put("app/layer.zip", b"PK\x03\x04 two", &[]).await;
    let head = ports
        .head(b, "app/layer.zip")
        .await
        .unwrap()
        .expect("exists");
    assert!(second.version_id.is_some(), "versioned");
    assert_eq!(head.id, second, "the current version");
}

async fn ranges_are_read_only_from_the_object_named<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let b = scene.bucket();
    let read = |key: &'static str, id: &ObjectId, start: u64, len: u64| {
        let (version_id, etag) = (id.version_id.clone(), id.etag.clone());
        async move {
            let source = SourceObject {
                bucket: b,
                key,
                version_id: version_id.as_deref(),
                etag: etag.as_deref(),
            };
            ports.read_range(&source, start, len).await.unwrap()
        }
    };
    let first = scene.put("r/layer.zip", b"0123456789", &[]).await;
    assert_eq!(
        read("r/layer.zip", &first, 7, 3).await.as_deref(),
        Some(&b"789"[..])
    );
    assert_eq!(
        read("r/layer.zip", &first, 0, 4).await.as_deref(),
        Some(&b"0123"[..])
    );
    let second = scene.put("r/layer.zip", b"abcdefghij", &[]).await;
    let replaced = read("r/layer.zip", &first, 7, 3).await;
    assert_eq!(replaced, None, "replaced: another ETag");
    assert_eq!(
        read("r/layer.zip", &second, 7, 3).await.as_deref(),
        Some(&b"hij"[..])
    );
    assert_eq!(read("r/nothing.zip", &second, 0, 4).await, None, "missing");

    scene.enable_versioning().await;
    let one = scene.put("r/v.zip", b"version one", &[]).await;
    scene.put("r/v.zip", b"version two", &[]).await;
    assert!(one.version_id.is_some(), "versioned");
    let old = read("r/v.zip", &one, 8, 3).await;
    assert_eq!(
        old.as_deref(),
        Some(&b"one"[..]),
        "the version named, not the current one"
    );
}

async fn read_start_gives_the_first_bytes_and_which_object_they_are_from<P: Folder, S: Scene>(
    ports: &P, scene: &S,
) {
    let b = scene.bucket();
    let put = scene.put("z/layer.zip", b"PK\x03\x04rest", &[]).await;
    let start = ports.read_start(b, "z/layer.zip", 4).await.unwrap();
    assert_eq!(
        start,
        Some(ObjectStart {
            id: put,
            bytes: b"PK\x03\x04".to_vec()
        })
    );

    scene.put("z/short", b"PK", &[]).await;
    let short = ports
        .read_start(b, "z/short", 4)
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(short.bytes, b"PK");

    scene.put("z/empty", b"", &[]).await;
    let empty = ports
        .read_start(b, "z/empty", 4)
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(empty.bytes, b"");
    assert_eq!(
        empty.id,
        ObjectId::default(),
        "S3 answers 416 without the object's ETag"
    );

    assert_eq!(ports.read_start(b, "z/missing", 4).await.unwrap(), None);
}

async fn read_small_reads_only_what_fits<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let b = scene.bucket();
    scene.put("r/lock.txt", b"boto3==1.35.0\n", &[]).await;
    assert_eq!(
        ports.read_small(b, "r/lock.txt", 14).await.unwrap(),
        Some(SmallObject::Read(b"boto3==1.35.0\n".to_vec()))
    );
    assert_eq!(
        ports.read_small(b, "r/lock.txt", 13).await.unwrap(),
        Some(SmallObject::TooLarge { size: 14 })
    );
    assert_eq!(ports.read_small(b, "r/missing", 13).await.unwrap(), None);
}

async fn listings_are_in_key_order_after_start_after<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let b = scene.bucket();
    for key in [
        "d/publish.lease",
        "d/000010/requirements.txt",
        "d/000002/requirements.txt",
        "d/last-requirements.txt",
        "d/layer.zip",
        "d/.hidden",
        "e/outside.txt",
        "d/café.txt",
    ] {
        scene.put(key, key.as_bytes(), &[]).await;
    }

    let all = ports.list_after(b, "d/", None).await.unwrap();
    let keys: Vec<&str> = all.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "d/.hidden",
            "d/000002/requirements.txt",
            "d/000010/requirements.txt",
            "d/café.txt",
            "d/last-requirements.txt",
            "d/layer.zip",
            "d/publish.lease",
        ],
        "UTF-8 byte order, inside the prefix"
    );
    let lease = all.last().expect("listed");
    assert_eq!(lease.etag, md5(b"d/publish.lease"));
    assert_eq!(lease.size, 15);
    let written = lease.last_modified.expect("S3 says when");
    let nanos = written.duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    assert_eq!(nanos, 0, "to the second");

    let after = ports.list_after(b, "d/", Some("d/000002")).await.unwrap();
    assert_eq!(
        after.first().map(|o| o.key.as_str()),
        Some("d/000002/requirements.txt")
    );
    assert_eq!(after.len(), 6, "only what sorts after d/000002");
}

async fn puts_hold_to_their_condition<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let b = scene.bucket();
    let json = "application/json";
    let put = |body: &'static [u8], condition| {
        ports.put(b, "p/publish.lease", body.to_vec(), json, condition)
    };

    let first = put(b"one", WriteCondition::Absent).await.unwrap();
    assert_eq!(first, Some(md5(b"one")));
    assert_eq!(
        put(b"two", WriteCondition::Absent).await.unwrap(),
        None,
        "412: it exists"
    );
    assert_eq!(
        put(b"two", WriteCondition::ETagIs("0123")).await.unwrap(),
        None,
        "412: another ETag"
    );
    let one = md5(b"one");
    let second = put(b"two", WriteCondition::ETagIs(&one)).await.unwrap();
    assert_eq!(second, Some(md5(b"two")));
    let third = put(b"three", WriteCondition::Always).await.unwrap();
    assert_eq!(third, Some(md5(b"three")));
    let read = ports.read_small(b, "p/publish.lease", 10).await.unwrap();
    assert_eq!(read, Some(SmallObject::Read(b"three".to_vec())));
}

async fn copies_hold_to_the_sources_etag<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let b = scene.bucket();
    let lock = b"boto3==1.35.0\n";
    scene.put("c/my lock+.txt", lock, &[]).await;

    let copied = ports
        .copy_if(b, "c/my lock+.txt", "c/000001/my lock+.txt", &md5(lock))
        .await;
    assert!(copied.unwrap());
    let head = ports
        .head(b, "c/000001/my lock+.txt")
        .await
        .unwrap()
        .expect("copied");
    assert_eq!(head.id.etag, Some(md5(lock)), "a copy keeps the MD5 ETag");

    let gone = ports
        .copy_if(b, "c/missing.txt", "c/000002/x", &md5(lock))
        .await;
    assert!(!gone.unwrap(), "no source: refused");

    let stale = ports
        .copy_if(b, "c/my lock+.txt", "c/000003/x", "0123")
        .await
        .unwrap();
    if scene.is_moto() {
        // moto ignores x-amz-copy-source-if-match (AWS answers 412); what
        // the SDK side sends is asserted in tests/checks/sdk_adapter.rs.
        assert!(stale, "moto copies whatever the ETag");
    } else {
        assert!(!stale, "412: the source changed");
        assert_eq!(ports.head(b, "c/000003/x").await.unwrap(), None);
    }
}

async fn copies_across_buckets_take_the_version_named<P: Folder, S: Scene>(ports: &P, scene: &S) {
    scene.enable_versioning().await;
    let (from, key) = (scene.bucket(), "c/layer.zip");
    let first = scene.put(key, b"build 1", &[]).await;
    scene.put(key, b"build 2", &[]).await;
    let to = scene.other_bucket().await;
    let pinned = SourceObject {
        bucket: from,
        key,
        version_id: first.version_id.as_deref(),
        etag: None,
    };

    let copy = ports
        .copy_across(&pinned, &to, "c/publish-source.zip")
        .await;

    let copy = copy.unwrap().expect("copied");
    assert_eq!(
        copy.etag,
        Some(md5(b"build 1")),
        "the version named, not the latest"
    );
    let head = ports.head(&to, "c/publish-source.zip").await.unwrap();
    assert_eq!(head.map(|h| h.id.etag), Some(Some(md5(b"build 1"))));

    let by_etag = SourceObject {
        version_id: None,
        etag: Some("0123"),
        ..pinned
    };
    let stale = ports
        .copy_across(&by_etag, &to, "c/stale.zip")
        .await
        .unwrap();
    if scene.is_moto() {
        assert!(stale.is_some(), "moto ignores x-amz-copy-source-if-match");
    } else {
        assert_eq!(stale, None, "412: the source changed");
    }
    let missing = SourceObject {
        key: "c/missing.zip",
        ..by_etag
    };
    let gone = ports.copy_across(&missing, &to, "c/gone.zip").await;
    assert_eq!(gone.unwrap(), None, "no source: refused");
}

fn request<'a>(
    layer: &'a str, bucket: &'a str, key: &'a str, version: Option<&'a str>, description: &'a str,
) -> PublishRequest<'a> {
    PublishRequest {
        layer_name: layer,
        bucket,
        key,
        object_version: version,
        description,
        compatible_runtimes: &[],
        compatible_architectures: &[],
        license_info: None,
    }
}

async fn layers_number_their_versions_and_hash_what_they_took<P: Folder + Layer, S: Scene>(
    ports: &P, scene: &S,
) {
    let (b, layer) = (scene.bucket(), scene.layer());
    assert_eq!(
        ports.recent_versions(layer).await.unwrap(),
        [],
        "no layer yet"
    );
    scene.put("l/layer.zip", b"PK\x03\x04 first", &[]).await;
    let first = ports
        .publish(&request(layer, b, "l/layer.zip", None, "manifest-md5:a"))
        .await
        .unwrap();
    scene.put("l/layer.zip", b"PK\x03\x04 second", &[]).await;
    let second = ports
        .publish(&request(layer, b, "l/layer.zip", None, "manifest-md5:b"))
        .await
        .unwrap();

    assert_eq!((first.version.version, second.version.version), (1, 2));
    assert!(
        second.version.arn.ends_with(&format!(":layer:{layer}:2")),
        "{}",
        second.version.arn
    );
    assert_eq!(second.code_sha256, Some(code_sha256(b"PK\x03\x04 second")));
    let recent = ports.recent_versions(layer).await.unwrap();
    let numbers: Vec<i64> = recent.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [2, 1], "newest first");
    let latest = &recent[0];
    assert_eq!(latest.description, "manifest-md5:b");
    assert_eq!(latest.arn, second.version.arn);
    let created = layer_autopublish::domain::dates::parse(&latest.created);
    assert!(created.is_some(), "a date: {:?}", latest.created);
    assert_eq!(
        ports.version_sha256(layer, 1).await.unwrap(),
        first.code_sha256
    );

    let missing = ports
        .publish(&request(layer, b, "l/missing.zip", None, "x"))
        .await;
    if scene.is_moto() {
        // moto publishes a version from a key that does not exist (AWS
        // answers InvalidParameterValueException).
        assert!(missing.is_ok(), "moto publishes anyway");
    } else {
        let error = missing.unwrap_err();
        assert_eq!(
            error.code.as_deref(),
            Some("InvalidParameterValueException")
        );
    }
}

async fn a_publish_takes_the_object_version_it_names<P: Folder + Layer, S: Scene>(
    ports: &P, scene: &S,
) {
    let (b, layer) = (scene.bucket(), scene.layer());
    scene.enable_versioning().await;
    let checked = scene.put("v/layer.zip", b"PK\x03\x04 checked", &[]).await;
    scene.put("v/layer.zip", b"PK\x03\x04 newer", &[]).await;
    let pinned = request(layer, b, "v/layer.zip", checked.version_id.as_deref(), "m");

    let new = ports.publish(&pinned).await.unwrap();

    if scene.is_moto() {
        // moto ignores S3ObjectVersion and takes the current object (AWS
        // takes the version named); the request is asserted in sdk_adapter.
        assert_eq!(new.code_sha256, Some(code_sha256(b"PK\x03\x04 newer")));
    } else {
        assert_eq!(new.code_sha256, Some(code_sha256(b"PK\x03\x04 checked")));
    }
}

async fn a_bucket_that_does_not_exist<P: Folder, S: Scene>(ports: &P, scene: &S) {
    let nowhere = format!("{}-gone", scene.bucket());
    // HEAD has no body: S3 answers a bare 404, as for a missing key.
    assert_eq!(ports.head(&nowhere, "a/layer.zip").await.unwrap(), None);
    let listing = ports.list_after(&nowhere, "a/", None).await.unwrap_err();
    assert_eq!(listing.code.as_deref(), Some("NoSuchBucket"));
    assert_eq!(listing.operation, "ListObjectsV2");
}

async fn parameters_are_read_and_overwritten<P: Parameters, S: Scene>(ports: &P, scene: &S) {
    let name = format!("/layer-autopublish/{}/latest", scene.layer());
    assert_eq!(ports.get_parameter(&name).await.unwrap(), None, "none yet");

    ports.put_parameter(&name, "arn:1").await.unwrap();
    assert_eq!(
        ports.get_parameter(&name).await.unwrap().as_deref(),
        Some("arn:1")
    );
    ports.put_parameter(&name, "arn:2").await.unwrap();
    assert_eq!(
        ports.get_parameter(&name).await.unwrap().as_deref(),
        Some("arn:2"),
        "overwritten"
    );
}

async fn sharing_a_version_twice_is_one_grant<P: Folder + Layer, S: Scene>(ports: &P, scene: &S) {
    let (b, layer) = (scene.bucket(), scene.layer());
    scene.put("s/layer.zip", b"PK\x03\x04 shared", &[]).await;
    let version = ports
        .publish(&request(layer, b, "s/layer.zip", None, "manifest-md5:s"))
        .await
        .unwrap()
        .version
        .version;
    let grant = layer_autopublish::ports::Grant {
        statement_id: "layer-autopublish-123456789012".into(),
        principal: "123456789012".into(),
        organization_id: None,
    };

    ports.share(layer, version, &grant).await.expect("granted");
    // Lambda refuses the same statement id (409), which is success here;
    // moto appends it again, which is success too.
    ports
        .share(layer, version, &grant)
        .await
        .expect("granted again");

    let missing = ports.share(layer, version + 10, &grant).await.unwrap_err();
    assert!(missing.code.is_some(), "{missing}");
}

async fn an_event_goes_on_the_default_bus<P: Events, S: Scene>(ports: &P, _scene: &S) {
    let detail = r#"{"outcome":"published","layer_version":1}"#;
    ports
        .put_event(
            "default",
            "layer-autopublish",
            "Layer Version Published",
            detail,
        )
        .await
        .expect("put");
}

async fn versions_and_objects_are_deleted_once_and_again<P: Folder + Layer, S: Scene>(
    ports: &P, scene: &S,
) {
    let (b, layer) = (scene.bucket(), scene.layer());
    scene.put("r/layer.zip", b"PK\x03\x04 kept", &[]).await;
    for marker in ["manifest-md5:1", "manifest-md5:2", "manifest-md5:3"] {
        ports
            .publish(&request(layer, b, "r/layer.zip", None, marker))
            .await
            .unwrap();
    }

    ports.delete_layer_version(layer, 1).await.expect("deleted");
    ports
        .delete_layer_version(layer, 1)
        .await
        .expect("gone already: success");
    let numbers: Vec<i64> = ports
        .all_versions(layer)
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(numbers, [3, 2], "every page, newest first");

    ports.delete(b, "r/layer.zip").await.expect("deleted");
    ports
        .delete(b, "r/layer.zip")
        .await
        .expect("gone already: success");
    assert_eq!(ports.head(b, "r/layer.zip").await.unwrap(), None);
}
