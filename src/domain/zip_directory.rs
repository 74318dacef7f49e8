//! A zip archive's central directory, read from the archive's end: the
//! names and unzipped sizes of its entries, which is all the checks before
//! a publish need (`layer_checks.rs`). Zip64 included.
//!
//! Pure and streaming: the caller reads the archive's last bytes (at least
//! [`TAIL_BYTES`], or the whole archive when shorter), asks [`locate`] where
//! the directory is, and feeds its bytes in chunks of any size to a
//! [`Scan`], which hands each entry to a visitor and keeps at most one
//! entry's bytes between chunks: memory stays bounded whatever the
//! directory's size. A malformed archive is a [`DirectoryProblem`], never a
//! panic: every read of the bytes is checked.

/// How many of the archive's last bytes hold its end record whatever its
/// comment (22 bytes and at most 65,535 of comment), with zip64's locator
/// (20) and record (56) before it.
pub const END_SEARCH_BYTES: u64 = 22 + 65_535 + 20 + 56;

/// What the function reads of an archive's end at first: the end records,
/// and the whole directory of a layer of up to about a thousand files.
pub const TAIL_BYTES: u64 = 128 * 1024;

const END_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
const ENTRY_SIGNATURE: u32 = 0x0201_4b50;
const END_LEN: usize = 22;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_END_LEN: usize = 56;
const ENTRY_FIXED_LEN: usize = 46;
/// The zip64 extra field's id.
const ZIP64_EXTRA: u16 = 0x0001;

/// Why an archive's directory cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryProblem(pub String);

impl std::fmt::Display for DirectoryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn problem<T>(why: impl Into<String>) -> Result<T, DirectoryProblem> {
    Err(DirectoryProblem(why.into()))
}

/// Where the central directory is, and how many entries it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Directory {
    pub offset: u64,
    pub size: u64,
    pub entries: u64,
}

/// What the archive's end says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Located {
    Directory(Directory),
    /// A zip64 archive whose zip64 end record starts at this offset, before
    /// the bytes read: read [`ZIP64_END_LEN`] bytes there and [`zip64_end`].
    Zip64EndAt(u64),
}

/// Where the directory is, from `tail`: the last bytes of an archive of
/// `size` bytes (all of them when it is shorter than [`END_SEARCH_BYTES`]).
pub fn locate(tail: &[u8], size: u64) -> Result<Located, DirectoryProblem> {
    let tail_start = size
        .checked_sub(tail.len() as u64)
        .ok_or_else(|| DirectoryProblem("more bytes read than the archive holds".into()))?;
    // The end record is the last `PK\5\6` whose comment runs to the end.
    let end_at = (0..=tail.len().saturating_sub(END_LEN)).rev().find(|&at| {
        u32_at(tail, at) == Some(END_SIGNATURE)
            && u16_at(tail, at + 20)
                .is_some_and(|comment| at + END_LEN + comment as usize == tail.len())
    });
    let Some(end_at) = end_at.filter(|_| tail.len() >= END_LEN) else {
        return problem(
            "it has no end-of-central-directory record: it is not a zip archive, or it was cut \
             short",
        );
    };
    let field16 = |offset| {
        u16_at(tail, end_at + offset)
            .map(u64::from)
            .unwrap_or_default()
    };
    let field32 = |offset| {
        u32_at(tail, end_at + offset)
            .map(u64::from)
            .unwrap_or_default()
    };
    let (entries, dir_size, dir_offset) = (field16(10), field32(12), field32(16));
    let zip64 = entries == 0xFFFF || dir_size == 0xFFFF_FFFF || dir_offset == 0xFFFF_FFFF;
    let locator_at = end_at.checked_sub(ZIP64_LOCATOR_LEN);
    let locator = locator_at.filter(|&at| u32_at(tail, at) == Some(ZIP64_LOCATOR_SIGNATURE));
    if let Some(at) = locator {
        let record = u64_at(tail, at + 8).unwrap_or(u64::MAX);
        let in_tail = record
            .checked_sub(tail_start)
            .and_then(|rel| usize::try_from(rel).ok());
        return match in_tail {
            Some(rel) => {
                zip64_end(tail.get(rel..).unwrap_or_default(), size).map(Located::Directory)
            }
            None if record < tail_start => Ok(Located::Zip64EndAt(record)),
            None => problem("its zip64 locator points past the archive's end"),
        };
    }
    if zip64 {
        return problem("its end record says zip64 but no zip64 locator precedes it");
    }
    let directory = Directory {
        offset: dir_offset,
        size: dir_size,
        entries,
    };
    check_bounds(directory, size - (tail.len() - end_at) as u64)?;
    Ok(Located::Directory(directory))
}

/// The directory a zip64 end record (its first bytes in `record`) names.
pub fn zip64_end(record: &[u8], size: u64) -> Result<Directory, DirectoryProblem> {
    if u32_at(record, 0) != Some(ZIP64_END_SIGNATURE) || record.len() < ZIP64_END_LEN {
        return problem("its zip64 locator does not point at a zip64 end record");
    }
    let field = |offset| u64_at(record, offset).unwrap_or(u64::MAX);
    let directory = Directory {
        entries: field(32),
        size: field(40),
        offset: field(48),
    };
    check_bounds(directory, size)?;
    Ok(directory)
}

/// The directory must end before `end` (where the end records start).
fn check_bounds(directory: Directory, end: u64) -> Result<(), DirectoryProblem> {
    let fits = directory
        .offset
        .checked_add(directory.size)
        .is_some_and(|dir_end| dir_end <= end);
    // An entry takes at least 46 bytes: a count the size cannot hold is a lie.
    let count_fits = directory.entries <= directory.size / ENTRY_FIXED_LEN as u64;
    if !fits || !count_fits {
        return problem(format!(
            "its end record puts {} entries in {} bytes at offset {}, which the archive of {end} \
             bytes before its end record cannot hold",
            directory.entries, directory.size, directory.offset
        ));
    }
    Ok(())
}

/// One entry of the directory, as the checks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The entry's path, `/`-separated; a directory's ends with `/`. Not
    /// UTF-8 bytes are replaced.
    pub name: &'a str,
    pub unzipped: u64,
    /// Where its data is, for a reader holding the whole archive
    /// (`layerctl`): its local header's offset, compression method (0
    /// stored, 8 deflated) and compressed size.
    pub local_header: u64,
    pub method: u16,
    pub compressed: u64,
}

/// Reads the directory's bytes, fed in order in chunks of any size.
#[derive(Debug)]
pub struct Scan {
    directory: Directory,
    /// The bytes of an entry split between two chunks.
    carried: Vec<u8>,
    fed: u64,
    seen: u64,
}

impl Scan {
    pub fn new(directory: Directory) -> Self {
        Self {
            directory,
            carried: Vec::new(),
            fed: 0,
            seen: 0,
        }
    }

    /// The bytes of the directory not fed yet: `(offset, length)`.
    pub fn remaining(&self) -> (u64, u64) {
        let left = self.directory.size.saturating_sub(self.fed);
        (self.directory.offset + self.fed, left)
    }

    /// The directory's next bytes; each whole entry goes to `visit`.
    pub fn feed(
        &mut self, chunk: &[u8], mut visit: impl FnMut(Entry<'_>),
    ) -> Result<(), DirectoryProblem> {
        let (_, left) = self.remaining();
        let chunk = chunk.get(..chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX)));
        let chunk = chunk.unwrap_or_default();
        self.fed += chunk.len() as u64;
        let mut joined;
        let bytes: &[u8] = if self.carried.is_empty() {
            chunk
        } else {
            joined = std::mem::take(&mut self.carried);
            joined.extend_from_slice(chunk);
            &joined
        };
        let mut at = 0;
        while let Some(len) = entry_len(bytes.get(at..).unwrap_or_default())? {
            let entry = bytes.get(at..at + len).unwrap_or_default();
            self.seen += 1;
            if self.seen > self.directory.entries {
                return problem(format!(
                    "its directory holds more entries than the {} its end record counts",
                    self.directory.entries
                ));
            }
            visit(parse_entry(entry)?.as_entry());
            at += len;
        }
        self.carried = bytes.get(at..).unwrap_or_default().to_vec();
        Ok(())
    }

    /// Once every byte was fed: the directory held what its end record said.
    pub fn finish(self) -> Result<u64, DirectoryProblem> {
        if !self.carried.is_empty() || self.remaining().1 > 0 {
            return problem("its directory ends in the middle of an entry");
        }
        if self.seen != self.directory.entries {
            return problem(format!(
                "its directory holds {} entries, not the {} its end record counts",
                self.seen, self.directory.entries
            ));
        }
        Ok(self.seen)
    }
}

/// The whole length of the entry at the start of `bytes`; `None` when they
/// do not hold all of it yet.
fn entry_len(bytes: &[u8]) -> Result<Option<usize>, DirectoryProblem> {
    if bytes.len() < ENTRY_FIXED_LEN {
        if bytes.len() >= 4 && u32_at(bytes, 0) != Some(ENTRY_SIGNATURE) {
            return problem("its directory holds something that is not an entry");
        }
        return Ok(None);
    }
    if u32_at(bytes, 0) != Some(ENTRY_SIGNATURE) {
        return problem("its directory holds something that is not an entry");
    }
    let var = |offset| u16_at(bytes, offset).map(usize::from).unwrap_or_default();
    let len = ENTRY_FIXED_LEN + var(28) + var(30) + var(32);
    Ok((bytes.len() >= len).then_some(len))
}

/// An entry's name and sizes, owned for the span of a visit.
struct Parsed<'a> {
    name: std::borrow::Cow<'a, str>,
    unzipped: u64,
    compressed: u64,
    local_header: u64,
    method: u16,
}

impl Parsed<'_> {
    fn as_entry(&self) -> Entry<'_> {
        Entry {
            name: &self.name,
            unzipped: self.unzipped,
            local_header: self.local_header,
            method: self.method,
            compressed: self.compressed,
        }
    }
}

/// One whole entry (its length checked by [`entry_len`]).
fn parse_entry(entry: &[u8]) -> Result<Parsed<'_>, DirectoryProblem> {
    let var = |offset| u16_at(entry, offset).map(usize::from).unwrap_or_default();
    let (name_len, extra_len) = (var(28), var(30));
    let name = entry
        .get(ENTRY_FIXED_LEN..ENTRY_FIXED_LEN + name_len)
        .unwrap_or_default();
    let extra = entry
        .get(ENTRY_FIXED_LEN + name_len..ENTRY_FIXED_LEN + name_len + extra_len)
        .unwrap_or_default();
    let field = |offset| u32_at(entry, offset).map(u64::from).unwrap_or_default();
    // Zip64: each of these three that is 0xFFFFFFFF is in the extra field,
    // in this order.
    let mut values = [field(24), field(20), field(42)];
    let mut zip64 = zip64_fields(extra);
    for value in values.iter_mut().filter(|v| **v == 0xFFFF_FFFF) {
        *value = zip64.next().ok_or_else(|| {
            let name = String::from_utf8_lossy(name);
            DirectoryProblem(format!(
                "its entry {name} says its size is in a zip64 extra field it does not have"
            ))
        })?;
    }
    let [unzipped, compressed, local_header] = values;
    Ok(Parsed {
        name: String::from_utf8_lossy(name),
        unzipped,
        compressed,
        local_header,
        method: u16_at(entry, 10).unwrap_or_default(),
    })
}

/// The values of the zip64 extra field in `extra`, in order.
fn zip64_fields(extra: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let mut at = 0;
    let mut field: &[u8] = &[];
    while at + 4 <= extra.len() {
        let id = u16_at(extra, at).unwrap_or_default();
        let len = usize::from(u16_at(extra, at + 2).unwrap_or_default());
        if id == ZIP64_EXTRA {
            field = extra.get(at + 4..at + 4 + len).unwrap_or_default();
            break;
        }
        at += 4 + len;
    }
    field.chunks_exact(8).filter_map(|value| u64_at(value, 0))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Reads the whole directory of an archive held in memory (`layerctl`,
/// tests): each entry to `visit`; the number of entries.
pub fn read_all(archive: &[u8], mut visit: impl FnMut(Entry<'_>)) -> Result<u64, DirectoryProblem> {
    let size = archive.len() as u64;
    let tail_len = archive.len().min(TAIL_BYTES as usize);
    let tail = archive.get(archive.len() - tail_len..).unwrap_or_default();
    let directory = match locate(tail, size)? {
        Located::Directory(directory) => directory,
        Located::Zip64EndAt(at) => {
            let start = usize::try_from(at).unwrap_or(usize::MAX);
            zip64_end(archive.get(start..).unwrap_or_default(), size)?
        }
    };
    let mut scan = Scan::new(directory);
    let (offset, len) = scan.remaining();
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let end = usize::try_from(offset + len).unwrap_or(usize::MAX);
    scan.feed(archive.get(start..end).unwrap_or_default(), &mut visit)?;
    scan.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(files: &[(&str, usize)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, len) in files {
            zip.start_file(*name, options).unwrap();
            zip.write_all(&vec![b'x'; *len]).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn names(archive: &[u8]) -> Result<Vec<(String, u64)>, DirectoryProblem> {
        let mut seen = Vec::new();
        read_all(archive, |e| seen.push((e.name.to_owned(), e.unzipped)))?;
        Ok(seen)
    }

    #[test]
    fn every_entry_is_read_with_its_size() {
        let zip = archive(&[("python/a.py", 3), ("python/b/c.so", 10)]);
        assert_eq!(
            names(&zip).unwrap(),
            [("python/a.py".into(), 3), ("python/b/c.so".into(), 10)]
        );
    }

    #[test]
    fn the_directory_is_read_the_same_in_chunks_of_any_size() {
        let files: Vec<(String, usize)> =
            (0..300).map(|i| (format!("python/m{i}.py"), i)).collect();
        let files: Vec<(&str, usize)> = files.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let zip = archive(&files);
        let whole = names(&zip).unwrap();
        let Located::Directory(directory) = locate(&zip, zip.len() as u64).unwrap() else {
            panic!("not zip64")
        };
        for chunk in [1, 7, 46, 100, 4096] {
            let mut scan = Scan::new(directory);
            let mut seen = Vec::new();
            let (offset, len) = scan.remaining();
            let bytes = &zip[offset as usize..(offset + len) as usize];
            for part in bytes.chunks(chunk) {
                scan.feed(part, |e| seen.push((e.name.to_owned(), e.unzipped)))
                    .unwrap();
                assert!(
                    scan.carried.len() < 46 + 64,
                    "bounded: {}",
                    scan.carried.len()
                );
            }
            assert_eq!(scan.finish().unwrap(), 300);
            assert_eq!(seen, whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_comment_after_the_end_record_is_skipped() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.set_comment("PK\u{5}\u{6} not the end record").unwrap();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("python/a.py", options).unwrap();
        let zip = zip.finish().unwrap().into_inner();
        assert_eq!(names(&zip).unwrap(), [("python/a.py".into(), 0)]);
    }

    /// A zip64 archive of one stored entry, built by hand (the zip crate
    /// writes zip64 records only for archives past 4 GiB or 65,535 entries):
    /// its directory entry's sizes in the zip64 extra field, and the zip64
    /// end record and locator before the end record.
    fn zip64_archive(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(data);
        let directory_at = out.len() as u64;
        out.extend(ENTRY_SIGNATURE.to_le_bytes());
        out.extend([45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(u32::MAX.to_le_bytes()); // compressed: in the extra field
        out.extend(u32::MAX.to_le_bytes()); // unzipped: in the extra field
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(20u16.to_le_bytes()); // extra
        out.extend([0u8; 10]); // comment, disk, attributes
        out.extend(0u32.to_le_bytes()); // local header offset
        out.extend(name.as_bytes());
        out.extend(ZIP64_EXTRA.to_le_bytes());
        out.extend(16u16.to_le_bytes());
        out.extend((data.len() as u64).to_le_bytes());
        out.extend((data.len() as u64).to_le_bytes());
        let directory_size = out.len() as u64 - directory_at;
        let end64_at = out.len() as u64;
        out.extend(ZIP64_END_SIGNATURE.to_le_bytes());
        out.extend(44u64.to_le_bytes());
        out.extend([45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(1u64.to_le_bytes());
        out.extend(1u64.to_le_bytes());
        out.extend(directory_size.to_le_bytes());
        out.extend(directory_at.to_le_bytes());
        out.extend(ZIP64_LOCATOR_SIGNATURE.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(end64_at.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend(END_SIGNATURE.to_le_bytes());
        out.extend([0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        out.extend([0xFF; 8]);
        out.extend(0u16.to_le_bytes());
        out
    }

    #[test]
    fn zip64_archives_are_read() {
        let zip = zip64_archive("python/big.bin", b"0123456789");
        assert_eq!(names(&zip).unwrap(), [("python/big.bin".into(), 10)]);
        // With the zip64 end record before the bytes read first.
        let tail = &zip[zip.len() - 42..];
        let Located::Zip64EndAt(at) = locate(tail, zip.len() as u64).unwrap() else {
            panic!("the record is before the tail")
        };
        let directory = zip64_end(&zip[at as usize..], zip.len() as u64).unwrap();
        assert_eq!(directory.entries, 1);
    }

    #[test]
    fn malformed_archives_are_problems_not_panics() {
        let long = "python/a_module_with_a_name_long_enough_for_the_count.py";
        let zip = archive(&[(long, 3), ("python/b.py", 4)]);
        assert!(names(b"not a zip at all, not even close").is_err());
        assert!(names(&[]).is_err());
        // Cut short, or with a byte changed anywhere in its directory or end.
        for cut in 1..zip.len() {
            let _ = names(&zip[..cut]);
            let _ = names(&zip[cut..]);
        }
        for at in 0..zip.len() {
            for value in [0, 0xFF, 0x50] {
                let mut changed = zip.clone();
                changed[at] = value;
                let _ = names(&changed);
            }
        }
        let mut lying = zip.clone();
        let end = lying.len() - 22;
        lying[end + 10] = 3; // three entries counted, two there
        let err = names(&lying).unwrap_err();
        assert!(err.0.contains("holds 2 entries, not the 3"), "{err}");
    }
}
