//! Split packages: a package written as parts of at most a given size
//! (`flux.zip.001`, `flux.zip.002`, …) that joined by `cat` are the package
//! an unsplit create writes, with a part list (`flux.zip.parts`) naming
//! each part's size and SHA-256, signed beside it when the package is
//! (`flux.zip.parts.minisig`). A reader checks the parts against the list
//! before it reads them in place as one package; see
//! `docs/package-format.md`, "Split packages".

mod disk;
mod error;
mod list;
mod part_size;
mod reader;
mod split_package;
mod writer;

pub use error::{PartError, PartsHolding};
pub use list::{list_name, list_signature_name, part_name, PartList, PartRecord};
pub use part_size::{PartSize, MAX_PARTS, MIN_PART_SIZE};
pub use reader::SplitParts;
pub use split_package::{split_package, SplitReport};
pub(crate) use writer::{check_parts_free, PartsWriter};

#[cfg(test)]
mod tests;
