//! What the ZIP reader refuses, and what can go wrong while an entry's data
//! is read. Every name from the file is shown through [`quote`].

use std::io;

use budgetguard_base::quote::quote;

use super::names::MAX_NAME;

/// The largest central directory the reader takes (about 400 000 entries).
pub const MAX_DIRECTORY: u64 = 64 << 20;

/// The most entries the reader takes (a package's manifest lists every
/// entry, and no real one comes close).
pub const MAX_ENTRIES: u64 = 200_000;

/// Why a file is not a ZIP archive that a package reader accepts.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The file could not be read.
    #[error("it cannot be read: {0}")]
    Io(#[from] io::Error),
    /// No end of central directory record at the end of the file.
    #[error(
        "it has no end of central directory record: it is not a ZIP file, or it was cut short"
    )]
    NoEndRecord,
    /// A comment or other bytes follow the end record.
    #[error("it has a comment or other bytes after its end of central directory record")]
    TrailingData,
    /// A disk number other than the first.
    #[error("it claims to span several disks")]
    MultiDisk,
    /// The end record holds ZIP64 markers but no ZIP64 end record is there.
    #[error("its end record needs a ZIP64 end record, which is missing")]
    Zip64Missing,
    /// The ZIP64 end record or its locator is not where or what it should be.
    #[error("its ZIP64 end record is misplaced or malformed")]
    Zip64Malformed,
    /// The ZIP64 end record and the end record say different things.
    #[error("its ZIP64 end record disagrees with its end record")]
    Zip64Disagrees,
    /// The central directory does not end where the end records begin.
    #[error("its central directory does not end where its end record begins")]
    DirectoryMisplaced,
    /// The central directory is larger than the reader takes.
    #[error(
        "its central directory is {size} bytes, more than the {MAX_DIRECTORY} this reader takes"
    )]
    DirectoryTooLarge {
        /// Its size.
        size: u64,
    },
    /// The central directory lists more entries than the reader takes.
    #[error("it has {count} entries, more than the {MAX_ENTRIES} this reader takes")]
    TooManyEntries {
        /// How many its end record gives.
        count: u64,
    },
    /// A central directory record is cut short or has no signature.
    #[error("record {index} of its central directory is cut short or malformed")]
    BadCentralRecord {
        /// The record's place, from 1.
        index: usize,
    },
    /// The end record counts another number of entries than there are.
    #[error("its end record counts {said} entries, but its central directory holds {found}")]
    CountMismatch {
        /// The count in the end record.
        said: u64,
        /// The records found.
        found: usize,
    },
    /// Bytes between entries (or before the first) that no entry owns.
    #[error("it holds {len} bytes at offset {offset} that belong to no entry")]
    Gap {
        /// Where they start.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// An encrypted entry.
    #[error("entry `{}` is encrypted", quote(.entry))]
    Encrypted {
        /// The entry.
        entry: String,
    },
    /// An entry whose sizes follow its data (general purpose flag bit 3).
    #[error("entry `{}` keeps its sizes in a data descriptor after its data", quote(.entry))]
    DataDescriptor {
        /// The entry.
        entry: String,
    },
    /// General purpose flags the reader does not know.
    #[error("entry `{}` has general purpose flags {flags:#06x}, which this reader does not take", quote(.entry))]
    Flags {
        /// The entry.
        entry: String,
        /// Its flags.
        flags: u16,
    },
    /// A compression method other than stored, deflate or zstd.
    #[error("entry `{}` uses unsupported compression method {method}", quote(.entry))]
    Method {
        /// The entry.
        entry: String,
        /// The method number.
        method: u16,
    },
    /// A symbolic link, device, FIFO, socket or folder.
    #[error("entry `{}` is {kind}, not a regular file", quote(.entry))]
    NotRegular {
        /// The entry.
        entry: String,
        /// What it is.
        kind: FileKind,
    },
    /// A Unix mode with the setuid, setgid or sticky bit.
    #[error("entry `{}` has mode {mode:o}, with the setuid, setgid or sticky bit", quote(.entry))]
    SpecialMode {
        /// The entry.
        entry: String,
        /// Its mode.
        mode: u32,
    },
    /// An entry comment.
    #[error("entry `{}` has a comment, which packages do not have", quote(.entry))]
    Comment {
        /// The entry.
        entry: String,
    },
    /// An extra field of a type the reader does not take.
    #[error("entry `{}` has an extra field of type {tag:#06x}, which this reader does not take", quote(.entry))]
    ExtraField {
        /// The entry.
        entry: String,
        /// The field's type.
        tag: u16,
    },
    /// Extra fields that do not parse, or one type twice.
    #[error("entry `{}` has malformed extra fields", quote(.entry))]
    MalformedExtra {
        /// The entry.
        entry: String,
    },
    /// A ZIP64 extra field missing, of the wrong length, or not called for.
    #[error("entry `{}` has a ZIP64 extra field that does not match its header", quote(.entry))]
    Zip64Field {
        /// The entry.
        entry: String,
    },
    /// A stored entry whose compressed and uncompressed sizes differ.
    #[error("entry `{}` is stored uncompressed, but its two sizes differ", quote(.entry))]
    StoredSizes {
        /// The entry.
        entry: String,
    },
    /// A name the reader refuses.
    #[error("entry `{}` {problem}", quote(.entry))]
    Name {
        /// The entry's name (invalid UTF-8 replaced).
        entry: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// Two entries of the same name.
    #[error("entry `{}` appears twice", quote(.entry))]
    Duplicate {
        /// The entry.
        entry: String,
    },
    /// Two names that differ only in case.
    #[error("entries `{}` and `{}` differ only in case, and are one file on Windows and macOS", quote(.entry), quote(.other))]
    CaseDuplicate {
        /// The later entry.
        entry: String,
        /// The earlier one.
        other: String,
    },
    /// An entry inside a folder that is also a file entry.
    #[error("entry `{}` lies in `{}`, which is a file entry too", quote(.entry), quote(.file))]
    FileAndFolder {
        /// The entry in the folder.
        entry: String,
        /// The file entry of the folder's name.
        file: String,
    },
    /// No local header signature where the central directory points.
    #[error("entry `{}` has no local header where the central directory points", quote(.entry))]
    NoLocalHeader {
        /// The entry.
        entry: String,
    },
    /// A local header field that differs from the central directory's.
    #[error("entry `{}` has a local header whose {field} disagrees with the central directory", quote(.entry))]
    LocalHeader {
        /// The entry.
        entry: String,
        /// Which field.
        field: HeaderField,
    },
    /// A local header inside the central directory or past the end.
    #[error("entry `{}` has its local header inside the central directory or past the end of the file", quote(.entry))]
    HeaderOutside {
        /// The entry.
        entry: String,
    },
    /// Two entries sharing bytes.
    #[error("entry `{}` overlaps entry `{}`", quote(.entry), quote(.other))]
    Overlap {
        /// The later entry in the file.
        entry: String,
        /// The entry it overlaps.
        other: String,
    },
    /// Entry data that runs into the central directory.
    #[error("entry `{}` has data that runs into the central directory", quote(.entry))]
    DataIntoDirectory {
        /// The entry.
        entry: String,
    },
    /// Entry data that runs past the end of the file.
    #[error("entry `{}` has data that runs past the end of the file", quote(.entry))]
    DataPastEnd {
        /// The entry.
        entry: String,
    },
    /// An entry too large to read into memory.
    #[error("entry `{}` is {size} bytes, more than the {max} allowed", quote(.entry))]
    TooLarge {
        /// The entry.
        entry: String,
        /// Its size.
        size: u64,
        /// The most allowed.
        max: u64,
    },
    /// An entry's data is damaged.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// What is wrong with an entry name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    /// Not UTF-8.
    #[error("has a name that is not UTF-8")]
    NotUtf8,
    /// A control or direction-changing character.
    #[error("has a control character in its name")]
    Control,
    /// Longer than [`MAX_NAME`] bytes.
    #[error("has a name of {0} bytes, more than the {MAX_NAME} allowed")]
    TooLong(usize),
    /// Non-ASCII without the UTF-8 flag: other readers decode it as CP437.
    #[error(
        "has a non-ASCII name without the UTF-8 flag, which other ZIP readers decode differently"
    )]
    NotFlaggedUtf8,
    /// Ends in `/`: a folder entry.
    #[error("names a folder (it ends in `/`), which packages do not have")]
    Folder,
    /// Absolute, `\`, `:`, NUL, or an empty, `.` or `..` part.
    #[error("has a name that leaves the package")]
    Leaves,
    /// A part ending in a dot or space, which Windows drops.
    #[error("has a name part that ends in a dot or a space, which Windows drops")]
    WindowsTrailing,
}

/// The file type of an entry that is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileKind {
    /// A symbolic link.
    #[error("a symbolic link")]
    Symlink,
    /// A character device.
    #[error("a character device")]
    CharDevice,
    /// A block device.
    #[error("a block device")]
    BlockDevice,
    /// A named pipe.
    #[error("a FIFO")]
    Fifo,
    /// A socket.
    #[error("a socket")]
    Socket,
    /// A folder.
    #[error("a folder")]
    Folder,
    /// A type bit pattern no file system uses.
    #[error("of unknown file type {0:o}")]
    Unknown(u32),
}

/// A local header field compared with the central directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderField {
    /// The name.
    #[error("name")]
    Name,
    /// The general purpose flags.
    #[error("flags")]
    Flags,
    /// The compression method.
    #[error("compression method")]
    Method,
    /// The CRC-32.
    #[error("CRC-32")]
    Crc,
    /// The compressed or uncompressed size.
    #[error("size")]
    Sizes,
}

/// An entry's data that does not read back as its headers say. A reader of
/// entry data fails with an `io::Error` holding this, which callers take
/// back out with `io::Error::downcast`.
#[derive(Debug, thiserror::Error)]
#[error("entry `{}` {problem}", quote(.entry))]
pub struct DataError {
    /// The entry.
    pub entry: String,
    /// What is wrong.
    pub problem: DataProblem,
}

/// What is wrong with an entry's data.
#[derive(Debug, thiserror::Error)]
pub enum DataProblem {
    /// More data than the recorded size (a ZIP bomb).
    #[error("holds more data than its recorded size")]
    Longer,
    /// Less data than the recorded size.
    #[error("ends before its recorded size")]
    Shorter,
    /// The data does not match the recorded CRC-32.
    #[error("does not match its CRC-32")]
    Crc,
    /// The decompressor refused the data.
    #[error("cannot be decompressed: {0}")]
    Undecodable(io::Error),
}

impl DataError {
    /// The `io::Error` a reader of entry data fails with.
    pub(super) fn into_io(self) -> io::Error {
        let kind = match self.problem {
            DataProblem::Shorter => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}
