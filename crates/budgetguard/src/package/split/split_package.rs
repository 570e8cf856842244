//! `split-package`: an existing package streamed into parts beside it,
//! byte for byte, so its package id and signature stay what they are.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::list::PartList;
use super::part_size::PartSize;
use super::writer::PartsWriter;
use crate::package::{partial, Package, PackageError};
use crate::progress::{Event, Reporter, Step, Throttle};
use crate::signing::SigningKey;
use crate::Cancel;

/// What `split-package` made.
#[derive(Debug, Clone, Serialize)]
pub struct SplitReport {
    /// The package split.
    pub package: PathBuf,
    /// Its package id (the parts' too).
    pub package_id: String,
    /// The part list written beside the parts.
    pub list: PathBuf,
    /// The parts, in order.
    pub parts: PartList,
}

/// Splits the package at `path` into parts of at most `size` bytes beside
/// it (replacing earlier parts when `force` is given), their list signed
/// with `sign` when given. The package's structure is checked first; its
/// bytes are copied as they are.
pub fn split_package(
    path: &Path,
    size: PartSize,
    force: bool,
    sign: Option<&SigningKey>,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<SplitReport, PackageError> {
    let package = Package::open(path)?;
    super::check_parts_free(path, force)?;
    let io = |action: &'static str| {
        move |source| PackageError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let name = path
        .file_name()
        .map_or("package".into(), |n| n.to_string_lossy().into_owned());
    partial::remove_stale(&dir);
    let parts = PartsWriter::new(&dir, &name, size);
    let mut out = parts.clone();
    let mut file = crate::files::open_regular(path).map_err(io("read"))?;
    reporter.report(Event::Started {
        step: Step::Split,
        total: Some(package.file_size()),
    });
    let mut progress = Throttle::new(Step::Split);
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io("read"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buffer[..n])
            .map_err(|source| PackageError::Io {
                action: "write a part in",
                path: dir.clone(),
                source,
            })?;
        parts.settle_written();
        progress.add(n as u64, reporter);
        if cancel.is_cancelled() {
            return Err(PackageError::Cancelled);
        }
    }
    drop(out);
    let list = parts.finish(package.id(), force, sign)?;
    reporter.report(Event::Finished { step: Step::Split });
    Ok(SplitReport {
        package: path.to_owned(),
        package_id: package.id().to_owned(),
        list: dir.join(super::list_name(&name)),
        parts: list,
    })
}
