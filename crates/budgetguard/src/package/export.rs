//! Turns the engine's `docker save` stream into the package's OCI layout, as
//! it arrives: every layer goes straight into its ZIP entry, named by the
//! SHA-256 computed on the way. Layers stay as the engine exports them:
//! uncompressed tars from the classic store; from the containerd store, as
//! it keeps them (gzip-compressed when pulled or built), with their diff IDs
//! from the image config, as a registry's layers are packaged.
//!
//! Both save formats are read the same way. Docker 20.10 writes
//! `<id>/layer.tar` (a layer shared by two images is a symlink) and
//! `<config>.json`; Docker 25+ writes `blobs/sha256/<hex>`. Either way
//! `manifest.json` comes last and says which file is which image's config and
//! layers. Small JSON files and tiny files are kept in memory until then;
//! what `manifest.json` does not name (Docker's own OCI manifests and index,
//! `VERSION` files) is dropped, since the package writes its own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::image_config::ImageConfig;
use super::layout::{self, SaveManifestItem, BLOBS_DIR};
use super::manifest::{Blob, PackagedImage, GZIP_LAYER};
use super::since::chain_ids;
use super::writer::PackageWriter;
use super::PackageError;
use crate::digest::{HashWriter, ImageId};
use crate::progress::{Counted, Event, Reporter, Step, Throttle};
use crate::reference::familiar;
use crate::Cancel;

/// Files up to this size that look like JSON are held in memory until
/// `manifest.json` tells what they are.
const SMALL_FILE: u64 = 1 << 20;
/// Files up to this size are held whatever they hold (`VERSION` files, and
/// tiny layers), and written only if `manifest.json` names them.
const TINY_FILE: u64 = 4096;

/// An image the package must carry.
#[derive(Debug, Clone)]
pub(crate) struct WantedImage {
    /// The image ID the engine reports: the config digest on the classic
    /// store, the manifest digest on the containerd store.
    pub id: ImageId,
    /// The diff IDs of its layers, bottom first.
    pub layers: Vec<crate::digest::Digest>,
    /// The references to tag it with.
    pub references: Vec<String>,
    /// Registry digests, recorded in the manifest.
    pub repo_digests: Vec<String>,
}

/// What a tar path of the save stream turned out to be.
enum Target {
    /// A blob already written to the package.
    Written(Blob),
    /// A small file held in memory.
    Held(Vec<u8>),
    /// A link to another path.
    Link(String),
}

/// Writes the images of the save stream `input` into the package and
/// returns them.
pub(crate) fn write_images(
    input: impl Read,
    package: &mut PackageWriter,
    wanted: &[WantedImage],
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Vec<PackagedImage>, PackageError> {
    let mut converter = Converter {
        package,
        paths: HashMap::new(),
        cancel,
    };
    // Progress counts the save stream as it is read.
    let mut progress = Throttle::new(Step::Export);
    let mut archive = tar::Archive::new(Counted {
        inner: input,
        progress: &mut progress,
        reporter,
        cancel,
    });
    for entry in archive.entries().map_err(bad_export)? {
        converter.read_entry(entry.map_err(bad_export)?)?;
    }
    drop(archive);
    let images = converter.finish(wanted)?;
    tracing::info!(
        images = images.len(),
        export_bytes = progress.done(),
        "export converted into the package"
    );
    reporter.report(Event::Advanced {
        step: Step::Export,
        done: progress.done(),
    });
    Ok(images)
}

struct Converter<'a> {
    package: &'a mut PackageWriter,
    paths: HashMap<String, Target>,
    cancel: &'a Cancel,
}

impl Converter<'_> {
    fn read_entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), PackageError> {
        self.check_cancel()?;
        let path = normalize(&entry.path().map_err(bad_export)?.to_string_lossy());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(bad_export)?
                .ok_or_else(|| bad("a link without a target".into()))?;
            let link = link.to_string_lossy();
            let target = if kind.is_symlink() {
                resolve_relative(&path, &link)
            } else {
                normalize(&link)
            };
            tracing::debug!(path = %path, target = %target, "export: link");
            self.paths.insert(path, Target::Link(target));
        } else if kind.is_file() {
            let size = entry.size();
            let target = if size <= SMALL_FILE {
                let mut data = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut data).map_err(bad_export)?;
                if size <= TINY_FILE || matches!(data.first(), Some(b'{' | b'[')) {
                    Target::Held(data)
                } else {
                    Target::Written(self.write_blob(&mut data.as_slice())?)
                }
            } else {
                Target::Written(self.write_blob(&mut entry)?)
            };
            self.paths.insert(path, target);
        }
        Ok(())
    }

    /// Streams one blob into the package's image layout, as the package
    /// holds it (see [`as_packaged`]). In an update package, a layer whose
    /// diff ID the base holds is left out, whatever blob brings it: a
    /// compressed blob's diff ID is computed as it streams.
    fn write_blob(&mut self, data: &mut dyn Read) -> Result<Blob, PackageError> {
        let (data, gzip) = as_packaged(data).map_err(bad_export)?;
        let decode = gzip
            && self
                .package
                .base()
                .is_some_and(|base| !base.diff_ids.is_empty());
        let diff_id = RefCell::new(None);
        let mut data: Box<dyn Read + '_> = if decode {
            Box::new(DiffIdReader {
                inner: data,
                decoder: Some(flate2::write::MultiGzDecoder::new(HashWriter::default())),
                diff_id: &diff_id,
            })
        } else {
            data
        };
        let layer_diff_id = |hex: &str| {
            if gzip {
                diff_id.borrow().clone()
            } else {
                Some(format!("sha256:{hex}"))
            }
        };
        let blob = self.package.add_layer_blob(
            BLOBS_DIR,
            &mut data,
            gzip.then_some(GZIP_LAYER),
            self.cancel,
            &bad_export,
            &layer_diff_id,
        )?;
        tracing::debug!(digest = %blob.digest, size = blob.size, gzip, "export: blob written");
        Ok(blob)
    }

    /// Follows links from `path` (at most 32): the path reached and what is
    /// there. `Err` holds the last path of a link loop.
    fn follow(&self, path: &str) -> Result<(String, Option<&Target>), String> {
        let mut path = normalize(path);
        for _ in 0..32 {
            match self.paths.get(&path) {
                Some(Target::Link(next)) => path = next.clone(),
                found => return Ok((path, found)),
            }
        }
        Err(path)
    }

    /// The blob a path of the save stream stands for, writing a held file now.
    fn blob_at(&mut self, path: &str) -> Result<Blob, PackageError> {
        let (path, found) = self
            .follow(path)
            .map_err(|path| bad(format!("`{path}` is a link loop")))?;
        match found {
            Some(Target::Written(blob)) => Ok(blob.clone()),
            Some(Target::Held(data)) => {
                let data = data.clone();
                let blob = self.write_blob(&mut data.as_slice())?;
                self.paths.insert(path, Target::Written(blob.clone()));
                Ok(blob)
            }
            _ => Err(bad(format!("`{path}` is named but missing"))),
        }
    }

    /// The config path, config bytes and layer paths of a wanted image: the
    /// `manifest.json` item tagged with one of its references, or whose
    /// config digest is its ID (classic store).
    fn find_image(
        &self,
        items: &[SaveManifestItem],
        want: &WantedImage,
    ) -> Result<(String, Vec<u8>, Vec<String>), PackageError> {
        let wanted_tags: Vec<String> = want.references.iter().map(|r| familiar(r)).collect();
        for item in items {
            let config_path = normalize(&item.config);
            let Some(Target::Held(config)) = self.paths.get(&config_path) else {
                continue;
            };
            let tagged = item
                .repo_tags
                .iter()
                .flatten()
                .any(|tag| wanted_tags.contains(&familiar(tag)));
            let id = format!("sha256:{}", hex::encode(Sha256::digest(config)));
            if tagged || id == want.id.as_str() {
                return Ok((config_path, config.clone(), item.layers.clone()));
            }
        }
        Err(bad(format!(
            "image `{}` is not in the export",
            want.references[0]
        )))
    }

    fn held_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, PackageError> {
        match self.follow(path) {
            Ok((path, Some(Target::Held(data)))) => {
                serde_json::from_slice(data).map_err(|e| bad(format!("`{path}` is not valid: {e}")))
            }
            Ok((path, _)) | Err(path) => Err(bad(format!("`{path}` is missing"))),
        }
    }

    /// Matches `manifest.json` to the wanted images and writes their configs,
    /// OCI manifests, index and `manifest.json`.
    fn finish(&mut self, wanted: &[WantedImage]) -> Result<Vec<PackagedImage>, PackageError> {
        let items: Vec<SaveManifestItem> = self.held_json("manifest.json")?;
        let mut images = Vec::new();
        for want in wanted {
            let (config_path, config_bytes, layer_paths) = self.find_image(&items, want)?;
            let id = format!("sha256:{}", hex::encode(Sha256::digest(&config_bytes)));
            let config = ImageConfig::parse(&config_bytes)
                .map_err(|e| bad(format!("config of {id} is not valid: {e}")))?;
            let reported = want.layers.iter().map(crate::digest::Digest::as_str);
            if config
                .rootfs
                .diff_ids
                .iter()
                .map(String::as_str)
                .ne(reported)
            {
                return Err(bad(format!(
                    "the exported config of `{}` has other layers than the engine reported",
                    want.references[0]
                )));
            }
            let config_blob = self.blob_at(&config_path)?;
            let diff_ids = config.rootfs.diff_ids;
            if layer_paths.len() != diff_ids.len() {
                return Err(bad(format!("the layers of {id} do not match its config")));
            }
            let diff_id_strs: Vec<&str> = diff_ids.iter().map(String::as_str).collect();
            let mut layers = Vec::new();
            for (path, chain) in layer_paths.iter().zip(chain_ids(&diff_id_strs)) {
                // Where the base holds the layer, the base's blob stands
                // for it (the export's was left out as it streamed).
                let held = self
                    .package
                    .base()
                    .and_then(|base| base.layers.get(&chain))
                    .cloned();
                layers.push(match held {
                    Some(blob) => {
                        self.package.has(BLOBS_DIR, &blob);
                        blob
                    }
                    None => self.blob_at(path)?,
                });
            }
            // An uncompressed layer is named by its diff ID; a compressed
            // one by its digest, its diff ID from the config.
            if layers
                .iter()
                .zip(&diff_ids)
                .any(|(layer, diff_id)| layer.media_type.is_none() && layer.digest != *diff_id)
            {
                return Err(bad(format!("the layers of {id} do not match its config")));
            }
            let manifest_bytes = layout::oci_manifest(&config_blob, &layers);
            let manifest_blob = self.package.add_blob(
                BLOBS_DIR,
                &mut manifest_bytes.as_slice(),
                self.cancel,
                &bad_export,
            )?;
            tracing::info!(
                image = ?want.references,
                id = %id,
                layers = layers.len(),
                "export: image matched to its config and layers"
            );
            images.push(PackagedImage {
                references: want.references.clone(),
                id,
                repo_digests: want.repo_digests.clone(),
                manifest: manifest_blob,
                config: config_blob,
                diff_ids: PackagedImage::recorded_diff_ids(&layers, diff_ids),
                layers,
            });
        }
        self.package.add_image_layout(&images)?;
        let dropped: Vec<&String> = self
            .paths
            .iter()
            .filter(|(_, target)| matches!(target, Target::Held(_)))
            .map(|(path, _)| path)
            .collect();
        tracing::debug!(
            ?dropped,
            "export: files no image uses, left out (the package writes its own)"
        );
        Ok(images)
    }

    fn check_cancel(&self) -> Result<(), PackageError> {
        if self.cancel.is_cancelled() {
            Err(PackageError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The data of a blob as the package holds it, and whether it is a
/// gzip-compressed layer. The containerd image store exports layers as it
/// keeps them: gzip-compressed ones stay so (every supported engine loads
/// them), zstd-compressed ones are decompressed (Docker 20.10 loads no zstd
/// layer); the classic store exports uncompressed tars.
fn as_packaged<'a>(data: &'a mut dyn Read) -> io::Result<(Box<dyn Read + 'a>, bool)> {
    let mut magic = Vec::with_capacity(4);
    data.take(4).read_to_end(&mut magic)?;
    let whole = io::Cursor::new(magic.clone()).chain(data);
    Ok(match magic.as_slice() {
        [0x1f, 0x8b, ..] => (Box::new(whole), true),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            tracing::debug!("export: a zstd-compressed blob, stored uncompressed");
            (Box::new(zstd::stream::read::Decoder::new(whole)?), false)
        }
        _ => (Box::new(whole), false),
    })
}

/// Reads a gzip-compressed layer through as it is, decompressing it on the
/// side to compute its diff ID (the SHA-256 of the uncompressed tar), which
/// `diff_id` holds once the data has ended. Gzip the decoder does not take
/// (the engine's own `docker load` may) only leaves the diff ID unknown:
/// the layer is then packaged, not left out.
struct DiffIdReader<'a, R> {
    inner: R,
    decoder: Option<flate2::write::MultiGzDecoder<HashWriter>>,
    diff_id: &'a RefCell<Option<String>>,
}

impl<R: Read> Read for DiffIdReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(decoder) = &mut self.decoder {
                if decoder.write_all(&buf[..n]).is_err() {
                    self.decoder = None;
                }
            }
        } else if let Some(Ok(hashed)) = self.decoder.take().map(|d| d.finish()) {
            *self.diff_id.borrow_mut() = Some(format!("sha256:{}", hashed.hex()));
        }
        Ok(n)
    }
}

/// `./a//b/` becomes `a/b`.
fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves a symlink target relative to the folder of the link.
fn resolve_relative(link_path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut dir: Vec<&str> = link_path.split('/').collect();
        dir.pop();
        dir
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn bad(detail: String) -> PackageError {
    PackageError::BadExport { detail }
}

/// A read error of the save stream: an engine failure passes through as such.
fn bad_export(error: io::Error) -> PackageError {
    if error.kind() == io::ErrorKind::Interrupted {
        return PackageError::Cancelled;
    }
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<crate::engine::EngineError>())
    {
        Some(_) => match error
            .into_inner()
            .map(|e| e.downcast::<crate::engine::EngineError>())
        {
            Some(Ok(engine)) => PackageError::Engine(*engine),
            _ => bad("unreadable stream".into()),
        },
        None => bad(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_blobs_stay_compressed_and_zstd_ones_are_decompressed() {
        use std::io::Write;
        let plain: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&plain).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd = zstd::encode_all(plain.as_slice(), 1).unwrap();
        for (what, data, expected, compressed) in [
            ("gzip", gzip.clone(), gzip.clone(), true),
            ("zstd", zstd, plain.clone(), false),
            ("plain", plain.clone(), plain.clone(), false),
            ("tiny", b"ab".to_vec(), b"ab".to_vec(), false),
        ] {
            let mut source = data.as_slice();
            let mut out = Vec::new();
            let (mut packaged, gzip) = as_packaged(&mut source).unwrap();
            packaged.read_to_end(&mut out).unwrap();
            assert_eq!(out, expected, "{what}");
            assert_eq!(gzip, compressed, "{what}");
        }
    }

    #[test]
    fn a_gzip_layer_passes_unchanged_and_its_diff_id_is_computed() {
        let plain: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        // Two gzip members, as some compressors write them.
        let mut gzip = Vec::new();
        for half in plain.chunks(plain.len() / 2) {
            let mut member =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            member.write_all(half).unwrap();
            gzip.extend(member.finish().unwrap());
        }
        let diff_id = RefCell::new(None);
        let mut reader = DiffIdReader {
            inner: gzip.as_slice(),
            decoder: Some(flate2::write::MultiGzDecoder::new(HashWriter::default())),
            diff_id: &diff_id,
        };
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, gzip);
        assert_eq!(
            diff_id.into_inner(),
            Some(format!("sha256:{}", hex::encode(Sha256::digest(&plain))))
        );
        let mut broken = gzip.clone();
        broken.truncate(gzip.len() / 2);
        broken.extend([0u8; 64]);
        let diff_id = RefCell::new(None);
        let mut reader = DiffIdReader {
            inner: broken.as_slice(),
            decoder: Some(flate2::write::MultiGzDecoder::new(HashWriter::default())),
            diff_id: &diff_id,
        };
        assert!(reader.read_to_end(&mut Vec::new()).is_err() || diff_id.into_inner().is_none());
    }

    #[test]
    fn symlinks_resolve_from_their_folder() {
        assert_eq!(
            resolve_relative("abc/layer.tar", "../def/layer.tar"),
            "def/layer.tar"
        );
        assert_eq!(
            resolve_relative("abc/layer.tar", "/def/layer.tar"),
            "def/layer.tar"
        );
        assert_eq!(normalize("./blobs//sha256/x/"), "blobs/sha256/x");
    }
}
