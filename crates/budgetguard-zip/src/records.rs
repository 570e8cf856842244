//! The numbers of the ZIP format that the writer and the reader share: the
//! signatures of its records, their fixed lengths, and the values that
//! stand for "see the ZIP64 field".

/// A local file header.
pub(super) const LOCAL_SIG: u32 = 0x0403_4b50;
/// A central directory record.
pub(super) const CENTRAL_SIG: u32 = 0x0201_4b50;
/// The end of central directory record.
pub(super) const EOCD_SIG: u32 = 0x0605_4b50;
/// The ZIP64 end of central directory record.
pub(super) const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
/// The ZIP64 end of central directory locator.
pub(super) const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;

/// The fixed part of a local file header.
pub(super) const LOCAL_LEN: usize = 30;
/// The fixed part of a central directory record.
pub(super) const CENTRAL_LEN: usize = 46;
/// The end record without a comment.
pub(super) const EOCD_LEN: usize = 22;
/// The ZIP64 locator.
pub(super) const LOCATOR_LEN: usize = 20;
/// The ZIP64 end record without an extensible data sector.
pub(super) const ZIP64_EOCD_LEN: u64 = 56;
/// What the ZIP64 end record's size field holds: the record but for its
/// signature and that field.
pub(super) const ZIP64_EOCD_REST: u64 = ZIP64_EOCD_LEN - 12;

/// The ZIP64 extended information extra field's type.
pub(super) const ZIP64_EXTRA: u16 = 0x0001;
/// The head of an extra field: its type and the length of its data.
pub(super) const EXTRA_HEAD_LEN: u16 = 4;
/// The data of the ZIP64 field of a local header: both sizes.
pub(super) const ZIP64_LOCAL_DATA_LEN: u16 = 16;
/// The ZIP64 field of a local header, head and data: the writer puts it in
/// every local header (the sizes are not known yet when it is written).
pub(super) const ZIP64_LOCAL_EXTRA_LEN: u16 = EXTRA_HEAD_LEN + ZIP64_LOCAL_DATA_LEN;

/// A 16-bit count that overflowed into the ZIP64 end record.
pub(super) const MAX16: u64 = 0xFFFF;
/// A 32-bit size or offset that overflowed into a ZIP64 field.
pub(super) const MAX32: u64 = 0xFFFF_FFFF;
