//! Step 3: what an upload says about itself, from its HEAD alone: the lock
//! file's MD5, the lock file's name, the layer, a size Lambda can take, and
//! the record's settings (what the version declares, which checks run).
//! This is where "what does the user see when the metadata is missing?"
//! is answered.

use crate::config::Config;
use crate::domain::event::Upload;
use crate::domain::layer_zip;
use crate::domain::layout::{LayerDir, LeaseKey};
use crate::domain::manifest::ManifestMd5;
use crate::domain::metadata::{self, Md5Problem};
use crate::domain::settings::{self, Defaults, Settings};
use crate::error::Problem;
use crate::ports::{ObjectHead, ObjectId};
use std::time::SystemTime;

/// An upload whose metadata and size passed the checks.
#[derive(Clone, Debug)]
pub struct CheckedUpload<'a> {
    pub upload: &'a Upload,
    pub dir: LayerDir,
    pub head: ObjectHead,
    pub md5: ManifestMd5,
    /// The lock file's name: `manifest-name`, else `MANIFEST_NAME`.
    pub manifest: String,
    /// The upload named its lock file (`manifest-name`). When it did not, a
    /// version's lock file kept under another name is recognised too (the
    /// seed names it by build tool: `poetry.lock`, `uv.lock`).
    pub manifest_named: bool,
    /// The layer: `layer-name`, else `LAYER_NAME`.
    pub layer: String,
    /// The record's settings: the deployment's defaults overlaid by the
    /// upload's metadata (and, once the zip is checked, what its compiled
    /// code proves). Every step reads these.
    pub settings: Settings,
    /// When the record must be done by: Lambda's deadline, less the time
    /// to answer. How long a publish without an answer is looked for.
    pub answer_by: SystemTime,
}

impl<'a> CheckedUpload<'a> {
    /// Checks the upload's `head` against the rules and the configuration.
    pub fn new(
        upload: &'a Upload, dir: LayerDir, head: ObjectHead, config: &Config, answer_by: SystemTime,
    ) -> Result<Self, Problem> {
        let md5 = metadata::manifest_md5(&head.metadata).map_err(|problem| {
            Problem::MissingManifestMd5 {
                problem: match problem {
                    Md5Problem::Missing => "it has no manifest-md5 user metadata".into(),
                    Md5Problem::NotAnMd5(value) => {
                        format!("its manifest-md5 metadata {value:?} is not an MD5 (32 hex digits)")
                    }
                },
            }
        })?;
        let invalid = |key: &'static str| {
            move |(value, problem): (String, String)| Problem::InvalidMetadata {
                key,
                value,
                problem,
            }
        };
        let manifest = metadata::manifest_name(&head.metadata, &config.manifest_name)
            .map_err(invalid(metadata::MANIFEST_NAME_KEY))?;
        let manifest_named = metadata::names_manifest(&head.metadata);
        let layer = metadata::layer_name(&head.metadata, config.layer_name.as_deref())
            .map_err(invalid(metadata::LAYER_NAME_KEY))?
            .ok_or(Problem::MissingLayerName)?;
        if !config.allowed_layers.allows(&layer) {
            return Err(Problem::LayerNotAllowed {
                layer,
                allowed: config.allowed_layers.describe(),
            });
        }
        layer_zip::check_size(head.size)?;
        let defaults = Defaults {
            runtimes: &config.compatible_runtimes,
            architectures: &config.compatible_architectures,
            license: config.license_info.as_deref(),
            skip_checks: config.skip_layer_checks,
        };
        let settings =
            settings::resolve(&head.metadata, defaults).map_err(|(key, value, problem)| {
                Problem::InvalidMetadata {
                    key,
                    value,
                    problem,
                }
            })?;
        Ok(Self {
            upload,
            dir,
            head,
            md5,
            manifest,
            manifest_named,
            layer,
            settings,
            answer_by,
        })
    }

    /// This upload with `settings` (those the zip's checks resolved), when given.
    pub fn with_settings(&self, settings: Option<Settings>) -> Self {
        let mut checked = self.clone();
        if let Some(settings) = settings {
            checked.settings = settings;
        }
        checked
    }

    /// This upload, its version declaring `declared` (a version already
    /// published: what Lambda keeps).
    pub fn declaring(&self, declared: &crate::domain::declared::Declared) -> Self {
        let mut checked = self.clone();
        checked.settings.declared = declared.clone();
        checked
    }

    /// The object the event reported, its ETag completed from the HEAD.
    pub fn event_object(&self) -> ObjectId {
        let reported = self.upload.object();
        ObjectId {
            etag: reported.etag.or(self.head.id.etag.clone()),
            ..reported
        }
    }

    /// What names this upload to a lease handed over to its deliveries.
    pub fn identity(&self) -> String {
        crate::domain::lease_state::upload_identity(&self.upload.s3_uri(), &self.event_object())
    }

    /// The layer's lease, in the upload's bucket.
    pub fn lease_key(&self) -> LeaseKey {
        LeaseKey::of_layer(&self.upload.bucket, &self.layer)
    }

    /// The object version to publish from: the event's, else the one HEAD saw.
    pub fn object_version(&self) -> Option<&str> {
        self.upload
            .version_id
            .as_deref()
            .or(self.head.id.version_id.as_deref())
    }
}
