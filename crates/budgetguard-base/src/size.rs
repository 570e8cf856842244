//! Byte counts: their sums, and how people read them.

/// The sum of `sizes`, or `None` when it does not fit in 64 bits (sizes from
/// a package or a registry may be anything).
pub fn total(sizes: impl IntoIterator<Item = u64>) -> Option<u64> {
    sizes.into_iter().try_fold(0u64, u64::checked_add)
}

/// `1536` becomes `1.5 KiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_well() {
        assert_eq!(super::human(512), "512 B");
        assert_eq!(super::human(1536), "1.5 KiB");
        assert_eq!(super::human(5 << 30), "5.0 GiB");
    }

    #[test]
    fn sums_that_overflow_are_none() {
        assert_eq!(super::total([1, 2, 3]), Some(6));
        assert_eq!(super::total([u64::MAX, 0]), Some(u64::MAX));
        assert_eq!(super::total([u64::MAX, 1]), None);
        assert_eq!(super::total([1 << 63, 1 << 63]), None);
    }
}
