//! When a package says it was made. Every run of the same inputs makes the
//! same bytes, so it is never the clock: `SOURCE_DATE_EPOCH` when it is set
//! (the reproducible-builds convention), else the newest creation time of
//! the package's images. The manifest's `created` and every entry's time in
//! the ZIP headers are this time.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::PackageError;

/// The environment variable of reproducible builds.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// The time `SOURCE_DATE_EPOCH` gives (a whole number of seconds since
/// 1970, up to the year 9999), when it is set and not empty.
pub fn source_date_epoch() -> Result<Option<OffsetDateTime>, PackageError> {
    match std::env::var(SOURCE_DATE_EPOCH) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|seconds| *seconds >= 0)
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
            .map(Some)
            .ok_or(PackageError::BadSourceDateEpoch { value }),
        _ => Ok(None),
    }
}

/// The package's time: `given`, else the newest of `images` (their
/// creation times), else the Unix epoch (which ZIP headers show as
/// 1980-01-01).
pub(crate) fn package_time(
    given: Option<OffsetDateTime>,
    images: impl IntoIterator<Item = Option<OffsetDateTime>>,
) -> OffsetDateTime {
    given
        .or_else(|| images.into_iter().flatten().max())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An RFC 3339 time as images and manifests write it.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// The manifest's form of a time: RFC 3339 in UTC.
pub(crate) fn format_time(time: OffsetDateTime) -> String {
    time.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("a time between years 0 and 9999 formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_image_time_is_the_package_time_unless_one_is_given() {
        let old = parse_time("2025-01-02T03:04:05Z");
        let new = parse_time("2026-02-03T04:05:06.123456789Z");
        assert!(new.is_some());
        assert_eq!(package_time(None, [old, new, None]), new.unwrap());
        let given = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        assert_eq!(package_time(Some(given), [new]), given);
        assert_eq!(format_time(given), "2026-01-01T00:00:00Z");
        assert_eq!(package_time(None, [None]), OffsetDateTime::UNIX_EPOCH);
    }
}
