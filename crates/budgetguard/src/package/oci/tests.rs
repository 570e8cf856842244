use super::map::{segment_at, From, PackageMap, Piece, Segment, MAP_VERSION};
use super::{is_oci, OciAddress};
use crate::reference::Reference;

fn map(size: u64, pieces: &[(u64, u64)]) -> PackageMap {
    PackageMap {
        version: MAP_VERSION,
        package_id: "a".repeat(64),
        size,
        tail: 0,
        pieces: pieces
            .iter()
            .map(|&(at, size)| Piece {
                at,
                size,
                digest: format!("sha256:{}", "b".repeat(64)),
            })
            .collect(),
    }
}

#[test]
fn a_map_is_the_skeleton_with_its_pieces_put_back() {
    let m = map(100, &[(10, 20), (40, 50)]);
    assert_eq!(m.check(30), Ok(()));
    let segments = m.segments();
    let expected = [
        (0, 10, From::Skeleton(0)),
        (10, 20, From::Piece(0)),
        (30, 10, From::Skeleton(10)),
        (40, 50, From::Piece(1)),
        (90, 10, From::Skeleton(20)),
    ]
    .map(|(at, len, from)| Segment { at, len, from });
    assert_eq!(segments, expected);
    assert_eq!(segment_at(&segments, 0), Some(0));
    assert_eq!(segment_at(&segments, 29), Some(1));
    assert_eq!(segment_at(&segments, 30), Some(2));
    assert_eq!(segment_at(&segments, 99), Some(4));
    assert_eq!(segment_at(&segments, 100), None);
    // Pieces at both ends leave no empty stretch.
    let ends = map(30, &[(0, 10), (20, 10)]);
    assert_eq!(ends.check(10), Ok(()));
    assert_eq!(ends.segments().len(), 3);
}

#[test]
fn the_tail_comes_from_the_skeleton_even_where_a_piece_reaches_into_it() {
    // Pieces 10..30 and 40..90 of 100 bytes; the last 15 bytes copied.
    let mut m = map(100, &[(10, 20), (40, 50)]);
    m.tail = 15;
    assert_eq!(m.check(45), Ok(()));
    let expected = [
        (0, 10, From::Skeleton(0)),
        (10, 20, From::Piece(0)),
        (30, 10, From::Skeleton(10)),
        (40, 45, From::Piece(1)),
        (85, 15, From::Skeleton(30)),
    ]
    .map(|(at, len, from)| Segment { at, len, from });
    assert_eq!(m.segments(), expected);
    // A tail that covers a whole piece and a gap.
    m.tail = 65;
    assert_eq!(m.check(95), Ok(()));
    let expected = [
        (0, 10, From::Skeleton(0)),
        (10, 20, From::Piece(0)),
        (30, 5, From::Skeleton(10)),
        (35, 65, From::Skeleton(30)),
    ]
    .map(|(at, len, from)| Segment { at, len, from });
    assert_eq!(m.segments(), expected);
    m.tail = 101;
    assert!(m.check(131).unwrap_err().contains("longer than the file"));
}

#[test]
fn a_map_that_describes_no_file_is_refused() {
    let refused = |m: PackageMap, skeleton: u64| m.check(skeleton).unwrap_err();
    assert!(refused(map(100, &[(10, 20), (25, 10)]), 70).contains("overlaps"));
    assert!(refused(map(100, &[(90, 20)]), 80).contains("past the file"));
    assert!(refused(map(100, &[(10, 0)]), 100).contains("empty"));
    assert!(refused(map(100, &[(10, 20)]), 79).contains("make no file"));
    assert!(refused(map(u64::MAX, &[(u64::MAX - 1, 5)]), 0).contains("past the file"));
    let mut bad_digest = map(100, &[(10, 20)]);
    bad_digest.pieces[0].digest = "md5:abc".into();
    assert!(refused(bad_digest, 80).contains("no SHA-256"));
    let mut newer = map(10, &[]);
    newer.version = 2;
    assert!(refused(newer, 10).contains("update budgetguard-techops"));
    let mut no_id = map(10, &[]);
    no_id.package_id = "x".into();
    assert!(refused(no_id, 10).contains("package id"));
}

#[test]
fn addresses_name_a_registry_and_a_tag() {
    assert!(is_oci("oci://r.lan/a:1") && is_oci("OCI://r.lan/a:1") && !is_oci("https://x"));
    let address = OciAddress::parse("oci://registry.studio.lan/budgetguard/flux:2026-12").unwrap();
    assert_eq!(address.reference().registry(), "registry.studio.lan");
    assert_eq!(address.reference().repository(), "budgetguard/flux");
    assert_eq!(
        address.to_string(),
        "oci://registry.studio.lan/budgetguard/flux:2026-12"
    );
    assert!(OciAddress::parse("127.0.0.1:5000/p:1").is_ok());
    assert!(OciAddress::parse(&format!("localhost/p@sha256:{}", "c".repeat(64))).is_ok());
    for (given, why) in [
        ("oci://budgetguard/flux:1", "names no registry"),
        ("oci://flux:1", "names no registry"),
        ("oci://r.lan/flux", "no tag"),
        ("oci://r.lan/Flux:1", ""),
    ] {
        let error = OciAddress::parse(given).unwrap_err().to_string();
        assert!(
            error.contains(why) && error.contains("oci://registry.studio.lan"),
            "{given}: {error}"
        );
    }
    let image = Reference::parse("nvcr.io/nim/black-forest-labs/flux.1-dev:1.2.3").unwrap();
    assert_eq!(
        address.image_reference(&image).unwrap().full(),
        "registry.studio.lan/budgetguard/flux/nim/black-forest-labs/flux.1-dev:1.2.3"
    );
    let untagged = Reference::parse("budgetguard/demo-nim").unwrap();
    assert_eq!(
        address.image_reference(&untagged).unwrap().full(),
        "registry.studio.lan/budgetguard/flux/budgetguard/demo-nim:latest"
    );
}

/// A publication runs in any task (a GUI job, `tokio::spawn`): its future
/// is `Send`, which this checks when it compiles.
#[test]
fn publishing_is_send() {
    fn send<T: Send>(_: &T) {}
    let _check =
        |package, options: &super::PublishOptions, auth, reporter, cancel: &crate::Cancel| {
            send(&super::publish_package(
                package, options, auth, reporter, cancel,
            ))
        };
}
