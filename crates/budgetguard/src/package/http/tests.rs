//! The HTTP source against Debian's nginx on loopback: reads alike a file,
//! its end and headers in few requests, entries resumed after cuts, and a
//! server without ranges refused.

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use testkit::http_faults::{Fault, FaultProxy};
use testkit::nginx::Nginx;

use super::*;
use crate::package::zip::{Compression, DosTime, ZipReader, ZipWriter};

/// A folder with `p.zip`: 40 small entries and 3 of 300 KB.
fn served_zip() -> (tempfile::TempDir, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let time = DosTime::from_utc(time::OffsetDateTime::UNIX_EPOCH);
    let mut zip = ZipWriter::new(File::create(dir.path().join("p.zip")).unwrap(), time);
    let mut entries = Vec::new();
    for i in 0..43u32 {
        let size = if i % 20 == 5 {
            300_000
        } else {
            100 + i as usize
        };
        let data: Vec<u8> = (0..size).map(|b| (b as u32 * 7 + i) as u8).collect();
        let name = format!("e{i:02}");
        zip.write_entry(&name, Compression::None, &data).unwrap();
        entries.push((name, data));
    }
    zip.finish().unwrap();
    (dir, entries)
}

fn fast() -> HttpOptions {
    HttpOptions {
        backoff: Duration::from_millis(10),
        ..HttpOptions::default()
    }
}

/// A proxy doing `fault` in front of `nginx`, and the URL of `p.zip`
/// through it.
fn behind(nginx: &Nginx, fault: Fault) -> (FaultProxy, String) {
    let proxy = FaultProxy::start(nginx.addr(), fault);
    let url = format!("http://{}/p.zip", proxy.host());
    (proxy, url)
}

/// Where the ranges the proxy saw start, relative to `from`, of those
/// starting in `from..to`.
fn starts(proxy: &FaultProxy, from: u64, to: u64) -> Vec<u64> {
    proxy
        .seen()
        .iter()
        .filter_map(|s| s.range_bounds())
        .map(|(first, _)| first)
        .filter(|s| (from..to).contains(s))
        .map(|s| s - from)
        .collect()
}

fn read_all(reader: &ZipReader) -> Vec<(String, Vec<u8>)> {
    reader
        .entries()
        .iter()
        .map(|entry| {
            let mut data = Vec::new();
            reader
                .open_entry(entry)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            (entry.name.clone(), data)
        })
        .collect()
}

#[test]
fn reads_alike_a_file_in_few_requests() {
    let (dir, entries) = served_zip();
    let nginx = Nginx::serve(dir.path());
    let source = HttpSource::open(&nginx.url("p.zip"), &fast()).unwrap();
    assert_eq!(source.description(), Path::new(&nginx.url("p.zip")));
    let reader = ZipReader::from_source(Arc::new(source)).unwrap();
    // One request for the end (the directory is in it), and the headers
    // merged: the small entries' in one, each large entry's on its own.
    let opened = nginx.served();
    assert!(opened.len() <= 5, "{opened:?}");
    assert_eq!(opened[0].range, format!("bytes=-{END_WINDOW}"));
    assert_eq!(read_all(&reader), entries);
    assert_eq!(nginx.served().len(), opened.len() + entries.len());
}

#[test]
fn a_cut_entry_resumes_from_the_byte_reached() {
    let (dir, entries) = served_zip();
    let nginx = Nginx::serve(dir.path());
    let (proxy, url) = behind(
        &nginx,
        Fault::CutRanges {
            longer_than: 100_000,
            after: 100_000,
            times: 2,
        },
    );
    let reader =
        ZipReader::from_source(Arc::new(HttpSource::open(&url, &fast()).unwrap())).unwrap();
    assert_eq!(read_all(&reader), entries);
    assert_eq!(proxy.seen().len(), nginx.served().len());
    // A large entry cut twice: its second and third requests start later.
    let large = reader.entry("e05").unwrap();
    let end = large.data_start + large.size;
    assert_eq!(starts(&proxy, large.data_start, end), [0, 100_000, 200_000]);
}

#[test]
fn cuts_beyond_the_retries_are_an_error() {
    let (dir, _) = served_zip();
    let nginx = Nginx::serve(dir.path());
    let (_proxy, url) = behind(
        &nginx,
        Fault::CutRanges {
            longer_than: 100_000,
            after: 0,
            times: 1000,
        },
    );
    let options = HttpOptions {
        retries: 2,
        ..fast()
    };
    let reader =
        ZipReader::from_source(Arc::new(HttpSource::open(&url, &options).unwrap())).unwrap();
    let entry = reader.entry("e05").unwrap();
    let error = reader
        .open_entry(entry)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    let http = HttpError::from_io(&error).expect("an HTTP error");
    assert!(
        matches!(http, HttpError::CutTooOften { attempts: 3, .. }),
        "{http}"
    );
}

#[test]
fn a_server_without_ranges_a_missing_file_and_plain_http_are_refused() {
    let (dir, _) = served_zip();
    let nginx = Nginx::serve_without_ranges(dir.path());
    let refused = HttpSource::open(&nginx.url("p.zip"), &fast()).unwrap_err();
    assert!(matches!(refused, HttpError::NoRanges { .. }), "{refused}");
    let nginx = Nginx::serve(dir.path());
    let missing = HttpSource::open(&nginx.url("nothing.zip"), &fast()).unwrap_err();
    assert!(matches!(missing, HttpError::NotFound { .. }), "{missing}");
    let plain = HttpSource::open("http://192.0.2.1/p.zip", &fast()).unwrap_err();
    assert!(matches!(plain, HttpError::PlainHttp { .. }), "{plain}");
    let closed = format!("http://127.0.0.1:{}/p.zip", testkit::fixtures::free_port());
    // Said at once, not after retries.
    let started = std::time::Instant::now();
    let unreachable = HttpSource::open(&closed, &fast()).unwrap_err();
    assert!(
        matches!(unreachable, HttpError::Unreachable { .. }),
        "{unreachable}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn content_ranges_are_parsed_strictly() {
    assert_eq!(
        content_range("bytes 5-9/10"),
        Some(ContentRange {
            first: 5,
            last: 9,
            total: 10
        })
    );
    assert_eq!(content_range("bytes 5-10/10"), None);
    assert_eq!(content_range("bytes */10"), None);
    assert_eq!(content_range("5-9/10"), None);
}

#[test]
fn a_long_entry_is_read_in_pieces_at_once_and_each_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let time = DosTime::from_utc(time::OffsetDateTime::UNIX_EPOCH);
    let mut zip = ZipWriter::new(File::create(dir.path().join("p.zip")).unwrap(), time);
    let data: Vec<u8> = (0..9u32 << 20).map(|b| (b * 13 % 251) as u8).collect();
    zip.write_entry("long", Compression::None, &data).unwrap();
    zip.finish().unwrap();
    let nginx = Nginx::serve(dir.path());
    let (proxy, url) = behind(
        &nginx,
        Fault::CutRanges {
            longer_than: 1 << 20,
            after: 1 << 20,
            times: 2,
        },
    );
    let options = HttpOptions { jobs: 3, ..fast() };
    let reader =
        ZipReader::from_source(Arc::new(HttpSource::open(&url, &options).unwrap())).unwrap();
    let entry = reader.entry("long").unwrap();
    let mut read = Vec::new();
    reader
        .open_entry(entry)
        .unwrap()
        .read_to_end(&mut read)
        .unwrap();
    assert!(read == data, "the pieces join into the entry");
    let starts = starts(&proxy, entry.data_start, entry.data_start + entry.size);
    let segment = stream::SEGMENT;
    for piece in [0, segment, 2 * segment] {
        assert!(starts.contains(&piece), "{starts:?}");
    }
    // Two pieces were cut 1 MiB in, and went on from there.
    let resumed = starts.iter().filter(|&&s| s % segment == 1 << 20).count();
    assert_eq!(resumed, 2, "{starts:?}");
}

#[test]
fn a_token_never_goes_over_plain_http_to_another_machine() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-plain").unwrap();
    let options = HttpOptions {
        allow_http: true,
        token: Some(TokenSource::File(token)),
        ..fast()
    };
    let refused = HttpSource::open("http://192.0.2.1/p.zip", &options).unwrap_err();
    assert!(
        matches!(refused, HttpError::LoginOverPlainHttp { .. }),
        "{refused}"
    );
    assert!(!refused.to_string().contains("tok-plain"));
}
