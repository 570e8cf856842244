//! Publishing a package to a registry (see the module's documentation for
//! what a publication holds). Blobs the registry has are not sent again;
//! an image's blobs reach its own repository by cross-repository mounts;
//! the tag is put last, so a publication stopped half-way tags nothing.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::super::layout::{blob_entry, hex_of};
use super::super::zip::{Compression, EntryInfo};
use super::super::Package;
use super::map::{PackageMap, Piece, MAP_VERSION, SMALL_ENTRY, TAIL};
use super::{
    OciAddress, OciError, ARTIFACT_TYPE, FILE_TYPE, MAP_TYPE, PACKAGE_ID, REF_NAME, SKELETON_TYPE,
    TITLE, ZIP_DATA_TYPE,
};
use crate::package::PackageError;
use crate::progress::{Event, SharedReporter, Step, Throttle};
use crate::reference::Reference;
use crate::registry::{
    ClientOptions, Descriptor, OpenBlob, Pushed, RegistryAuth, RegistryClient, OCI_INDEX,
    OCI_MANIFEST,
};
use crate::Cancel;

/// How a package is published.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Where: the package's repository and tag.
    pub to: OciAddress,
    /// Blobs sent at once.
    pub jobs: usize,
    /// How the registry client behaves.
    pub client: ClientOptions,
}

/// What a publication did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The address it is installed from (`oci://…`).
    pub address: String,
    /// The package id.
    pub package_id: String,
    /// The digest of the tagged index.
    pub index_digest: String,
    /// The images, as `docker pull` names them now.
    pub images: Vec<PublishedImage>,
    /// Blobs of the publication.
    pub blobs: usize,
    /// Of those, the ones uploaded.
    pub uploaded: usize,
    /// Their bytes.
    pub uploaded_bytes: u64,
    /// Of those, the ones mounted from another repository.
    pub mounted: usize,
    /// Of those, the ones the registry had.
    pub present: usize,
}

/// One image as published.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedImage {
    /// Its reference in the package.
    pub reference: String,
    /// Its reference in the registry.
    pub published: String,
    /// Its manifest's digest.
    pub digest: String,
}

/// Where a blob's bytes are read from.
#[derive(Debug, Clone)]
enum BlobData {
    /// An entry's uncompressed data, checked against the manifest.
    Entry(String),
    /// Bytes of the package file as stored.
    Raw { start: u64, len: u64 },
    /// Bytes made here (the skeleton, the map).
    Made(Bytes),
}

/// One blob to send.
#[derive(Debug, Clone)]
struct Upload {
    descriptor: Descriptor,
    data: BlobData,
}

/// What a package is published as, worked out from its file.
struct Plan {
    map: PackageMap,
    skeleton: Bytes,
    /// Every blob for the package's repository, each once.
    uploads: Vec<Upload>,
    /// The artifact manifest's layers after the skeleton.
    files: Vec<serde_json::Value>,
}

/// Publishes `package` to `options.to`: its blobs, its images (each also
/// tagged in a repository of its own), its artifact and, last, the tagged
/// index. Logins are this machine's Docker logins (`auth`).
pub async fn publish_package(
    package: Arc<Package>,
    options: &PublishOptions,
    auth: RegistryAuth,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<PublishReport, PackageError> {
    let plan = tokio::task::spawn_blocking({
        let package = package.clone();
        move || plan(&package)
    })
    .await
    .expect("planning does not panic")?;
    let client = RegistryClient::new(auth, options.client.clone())?;
    let to = options.to.reference();
    check_base(&package, &client, to).await?;

    let total = plan.uploads.iter().map(|u| u.descriptor.size).sum();
    reporter.report(Event::Started {
        step: Step::Publish,
        total: Some(total),
    });
    let progress = Arc::new(Mutex::new(Throttle::new(Step::Publish)));
    // Each upload owns what it needs: the stream's futures run in any task.
    let outcomes: Vec<Pushed> = futures_util::stream::iter(plan.uploads.clone())
        .map(|upload| {
            let open = opener(&package, &upload, &progress, &reporter);
            let (client, to, cancel) = (client.clone(), to.clone(), cancel.clone());
            let (progress, reporter) = (progress.clone(), reporter.clone());
            async move {
                let pushed = client
                    .push_blob(&to, &upload.descriptor, None, open, &cancel)
                    .await?;
                if pushed != Pushed::Uploaded {
                    let mut progress = progress.lock().expect("not poisoned");
                    progress.add(upload.descriptor.size, &*reporter);
                }
                Ok::<_, PackageError>(pushed)
            }
        })
        .buffered(options.jobs.max(1))
        .try_collect()
        .await?;
    let uploaded_bytes = plan
        .uploads
        .iter()
        .zip(&outcomes)
        .filter(|(_, p)| **p == Pushed::Uploaded)
        .map(|(u, _)| u.descriptor.size)
        .sum();

    let (images, image_descriptors, mounted) =
        publish_images(&package, options, &client, (&progress, &reporter), cancel).await?;
    let artifact = artifact_manifest(&plan, package.id());
    let artifact_digest = client
        .put_manifest(to, &digest_of(&artifact), OCI_MANIFEST, artifact.clone())
        .await?;
    let mut manifests = image_descriptors;
    manifests.push(json!({
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "digest": artifact_digest,
        "size": artifact.len(),
    }));
    let index = to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": ARTIFACT_TYPE,
        "manifests": manifests,
        "annotations": { PACKAGE_ID: package.id() },
    }));
    let index_digest = client
        .put_manifest(to, to.manifest_reference(), OCI_INDEX, index.into())
        .await?;
    reporter.report(Event::Finished {
        step: Step::Publish,
    });
    let count = |p: Pushed| outcomes.iter().filter(|o| **o == p).count();
    Ok(PublishReport {
        address: options.to.to_string(),
        package_id: package.id().to_owned(),
        index_digest,
        images,
        blobs: outcomes.len(),
        uploaded: count(Pushed::Uploaded),
        uploaded_bytes,
        mounted: count(Pushed::Mounted) + mounted,
        present: count(Pushed::Present),
    })
}

/// Puts each image's manifest into the package's repository (by digest)
/// and into its own repository, tagged, with its blobs mounted there.
/// Returns the images, their descriptors for the index, and the blobs
/// mounted.
async fn publish_images(
    package: &Arc<Package>,
    options: &PublishOptions,
    client: &RegistryClient,
    (progress, reporter): (&Arc<Mutex<Throttle>>, &SharedReporter),
    cancel: &Cancel,
) -> Result<(Vec<PublishedImage>, Vec<serde_json::Value>, usize), PackageError> {
    let to = options.to.reference();
    let (mut images, mut descriptors, mut mounted) = (Vec::new(), Vec::new(), 0);
    for image in &package.manifest().images {
        let manifest = tokio::task::spawn_blocking({
            let (package, name) = (package.clone(), blob_entry(hex_of(&image.manifest.digest)));
            move || package.read_small(&name, super::map::MAX_MAP)
        })
        .await
        .expect("reading does not panic")?;
        let blobs: Vec<Descriptor> = std::iter::once(&image.config)
            .chain(&image.layers)
            .map(|b| Descriptor {
                media_type: String::new(),
                digest: b.digest.clone(),
                size: b.size,
            })
            .collect();
        let digest = client
            .put_manifest(
                to,
                &image.manifest.digest,
                OCI_MANIFEST,
                manifest.clone().into(),
            )
            .await?;
        for reference in &image.references {
            let original = Reference::parse(reference).map_err(|e| OciError::BadAddress {
                given: reference.clone(),
                detail: e.to_string(),
            })?;
            let published = options.to.image_reference(&original)?;
            for blob in &blobs {
                // Mounted from the package's repository; sent again only to
                // a registry that does not mount.
                let upload = Upload {
                    descriptor: blob.clone(),
                    data: BlobData::Entry(blob_entry(hex_of(&blob.digest))),
                };
                let open = opener(package, &upload, progress, reporter);
                let pushed = client
                    .push_blob(&published, blob, Some(to.repository()), open, cancel)
                    .await?;
                mounted += usize::from(pushed == Pushed::Mounted);
            }
            let tag = published.tag().unwrap_or(crate::reference::DEFAULT_TAG);
            client
                .put_manifest(&published, tag, OCI_MANIFEST, manifest.clone().into())
                .await?;
            reporter.report(Event::Note {
                message: format!("published {reference} as {}", published.familiar()),
            });
            images.push(PublishedImage {
                reference: reference.clone(),
                published: published.full(),
                digest: digest.clone(),
            });
            descriptors.push(json!({
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": manifest.len(),
                "annotations": { REF_NAME: reference },
            }));
        }
    }
    Ok((images, descriptors, mounted))
}

/// Refuses, before anything is sent, an update package whose left-out
/// blobs (its base's) the repository `to` lacks: its images could not be
/// put there.
async fn check_base(
    package: &Package,
    client: &RegistryClient,
    to: &Reference,
) -> Result<(), PackageError> {
    for image in &package.manifest().images {
        for blob in std::iter::once(&image.config).chain(&image.layers) {
            if !package.carries(&blob_entry(hex_of(&blob.digest)))
                && !client.has_blob(to, &blob.digest).await?
            {
                return Err(OciError::BaseNotPublished {
                    image: image.references.first().cloned().unwrap_or_default(),
                    digest: blob.digest.clone(),
                    repository: format!("{}/{}", to.registry(), to.repository()),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// Works out the map, the skeleton and the blobs of `package` (reading
/// the skeleton's bytes and hashing the data of large compressed entries).
fn plan(package: &Package) -> Result<Plan, PackageError> {
    let zip = package.zip();
    let mut entries: Vec<&EntryInfo> = zip.entries().iter().collect();
    entries.sort_by_key(|e| e.data_start);
    let image_blobs: HashSet<String> = package
        .manifest()
        .images
        .iter()
        .flat_map(|i| std::iter::once(&i.config).chain(&i.layers))
        .map(|b| b.digest.clone())
        .collect();
    let mut uploads: BTreeMap<String, Upload> = BTreeMap::new();
    let mut files = Vec::new();
    let mut pieces = Vec::new();
    for entry in &entries {
        let (content, data) = match package.unlisted_entry(&entry.name) {
            Some(bytes) => (
                digest_of(bytes),
                BlobData::Made(Bytes::copy_from_slice(bytes)),
            ),
            None => {
                let sha256 = package
                    .listed_sha256(&entry.name)
                    .expect("an opened package lists every other entry");
                (
                    format!("sha256:{sha256}"),
                    BlobData::Entry(entry.name.clone()),
                )
            }
        };
        let content_upload = Upload {
            descriptor: Descriptor {
                media_type: FILE_TYPE.to_owned(),
                digest: content.clone(),
                size: entry.size,
            },
            data,
        };
        if !image_blobs.contains(&content) || entry.name != blob_entry(hex_of(&content)) {
            files.push(json!({
                "mediaType": FILE_TYPE,
                "digest": content,
                "size": entry.size,
                "annotations": { TITLE: entry.name },
            }));
        }
        uploads.entry(content.clone()).or_insert(content_upload);
        if entry.compressed_size < SMALL_ENTRY {
            continue;
        }
        let digest = match entry.compression {
            Compression::None => content,
            _ => {
                let digest = raw_digest(package, entry)?;
                files.push(json!({
                    "mediaType": ZIP_DATA_TYPE,
                    "digest": digest,
                    "size": entry.compressed_size,
                }));
                uploads.entry(digest.clone()).or_insert(Upload {
                    descriptor: Descriptor {
                        media_type: ZIP_DATA_TYPE.to_owned(),
                        digest: digest.clone(),
                        size: entry.compressed_size,
                    },
                    data: BlobData::Raw {
                        start: entry.data_start,
                        len: entry.compressed_size,
                    },
                });
                digest
            }
        };
        pieces.push(Piece {
            at: entry.data_start,
            size: entry.compressed_size,
            digest,
        });
    }
    let map = PackageMap {
        version: MAP_VERSION,
        package_id: package.id().to_owned(),
        size: package.file_size(),
        tail: TAIL.min(package.file_size()),
        pieces,
    };
    let skeleton = skeleton_of(package, &map)?;
    map.check(skeleton.len() as u64)
        .expect("a map made from a checked package describes it");
    let mut uploads: Vec<Upload> = uploads.into_values().collect();
    for (media_type, bytes) in [
        (SKELETON_TYPE, skeleton.clone()),
        (MAP_TYPE, Bytes::from(to_bytes(&map))),
    ] {
        uploads.push(Upload {
            descriptor: Descriptor {
                media_type: media_type.to_owned(),
                digest: digest_of(&bytes),
                size: bytes.len() as u64,
            },
            data: BlobData::Made(bytes),
        });
    }
    Ok(Plan {
        map,
        skeleton,
        uploads,
        files,
    })
}

/// The bytes of the package file outside the map's pieces, in order, then
/// its tail.
fn skeleton_of(package: &Package, map: &PackageMap) -> Result<Bytes, PackageError> {
    let mut skeleton = Vec::new();
    let mut read = |start: u64, end: u64| {
        package
            .zip()
            .source()
            .open_range(start, end - start)
            .and_then(|mut r| r.read_to_end(&mut skeleton))
            .map_err(|e| package.read_error(e))
    };
    let mut at = 0;
    for piece in &map.pieces {
        read(at, piece.at)?;
        at = piece.at + piece.size;
    }
    read(at, map.size)?;
    read(map.size - map.tail, map.size)?;
    Ok(Bytes::from(skeleton))
}

/// The SHA-256 of `entry`'s data as stored.
fn raw_digest(package: &Package, entry: &EntryInfo) -> Result<String, PackageError> {
    let mut reader = package
        .zip()
        .source()
        .open_range(entry.data_start, entry.compressed_size)
        .map_err(|e| package.read_error(e))?;
    let mut hasher = Sha256::new();
    loop {
        let chunk = reader.fill_buf().map_err(|e| package.read_error(e))?;
        if chunk.is_empty() {
            return Ok(format!("sha256:{}", hex::encode(hasher.finalize())));
        }
        hasher.update(chunk);
        let n = chunk.len();
        reader.consume(n);
    }
}

/// The artifact manifest: the map as config, the skeleton, then the files.
fn artifact_manifest(plan: &Plan, package_id: &str) -> Bytes {
    let made = |media_type: &str, bytes: &[u8]| json!({ "mediaType": media_type, "digest": digest_of(bytes), "size": bytes.len() });
    let mut layers = vec![made(SKELETON_TYPE, &plan.skeleton)];
    layers.extend(plan.files.iter().cloned());
    Bytes::from(to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": made(MAP_TYPE, &to_bytes(&plan.map)),
        "layers": layers,
        "annotations": { PACKAGE_ID: package_id },
    })))
}

/// Opens an upload's bytes, counted into the publication's progress.
fn opener(
    package: &Arc<Package>,
    upload: &Upload,
    progress: &Arc<Mutex<Throttle>>,
    reporter: &SharedReporter,
) -> OpenBlob {
    let (package, data) = (package.clone(), upload.data.clone());
    let (progress, reporter) = (progress.clone(), reporter.clone());
    Arc::new(move || {
        let inner: Box<dyn Read + Send> = match &data {
            BlobData::Entry(name) => Box::new(
                package
                    .open_entry(name)
                    .map_err(|e| io::Error::other(e.to_string()))?,
            ),
            BlobData::Raw { start, len } => package.zip().source().open_range(*start, *len)?,
            BlobData::Made(bytes) => Box::new(io::Cursor::new(bytes.clone())),
        };
        Ok(Box::new(SharedCounted {
            inner,
            progress: progress.clone(),
            reporter: reporter.clone(),
        }) as Box<dyn Read + Send>)
    })
}

/// A reader whose bytes count into a progress shared by several.
struct SharedCounted {
    inner: Box<dyn Read + Send>,
    progress: Arc<Mutex<Throttle>>,
    reporter: SharedReporter,
}

impl Read for SharedCounted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut progress = self.progress.lock().expect("not poisoned");
        progress.add(n as u64, &*self.reporter);
        Ok(n)
    }
}

/// The digest of `bytes`.
fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A JSON document as bytes.
fn to_bytes(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON of plain data serializes")
}
