//! `dump-journal`, `dump-table` and `dump-manifest`: every record of one
//! file, one line each (a manifest edit one line per field), as
//! `leveldbutil dump` and `ldb manifest_dump` print them. Each prints what
//! it could read, reports damage on stderr naming the offset, and then
//! fails with [`Failure::Db`] (exit 3).

use crate::text::{escape, Notation};
use crate::Failure;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use tributary::version::edit::{Field, FileMeta, Record};
use tributary::version::leveldb::{self, LevelDbEdit};
use tributary::version::{manifest, Catalog};
use tributary::Batch;

/// Prints every record of a LevelDB-format log file, one line per batch
/// record: `SEQ put KEY VALUE` or `SEQ delete KEY`.
pub fn dump_journal(path: &Path, notation: Notation, out: &mut dyn Write) -> Result<(), Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::Db(format!("open {}: {e}", path.display())))?;
    each_log_record(path, file, out, |out, _offset, record| {
        let batch = Batch::decode(record).map_err(|e| Unreadable::Record(e.to_string()))?;
        for (i, r) in batch.records().enumerate() {
            let seq = batch.seq().0.saturating_add(i as u64);
            write_entry(out, notation, seq, r.key(), r.value())?;
        }
        Ok(())
    })
}

/// Prints every entry of a table file, one line each, in key order:
/// `SEQ put KEY VALUE` or `SEQ delete KEY`, as `dump-journal` does.
pub fn dump_table(path: &Path, notation: Notation, out: &mut dyn Write) -> Result<(), Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::Db(format!("read {}: {e}", path.display())))?;
    let damaged = |e: tributary::table::TableError| {
        Failure::Db(format!("{}: damaged table {e}", path.display()))
    };
    let table = Arc::new(tributary::table::Table::open(bytes).map_err(damaged)?);
    let mut it = table.iter();
    it.seek_to_first();
    let mut entries = 0u64;
    while it.valid() {
        let (user_key, seq, kind) = batch::key::parse(it.key())
            .expect("the table reader checks every key is an internal key");
        let value = (kind == tributary::Kind::Put).then(|| it.value());
        write_entry(out, notation, seq.0, user_key, value)?;
        entries += 1;
        it.next();
    }
    out.flush()?;
    if let Some(e) = it.error() {
        return Err(damaged(e.clone()));
    }
    eprintln!(
        "{}: {entries} entries in {} data blocks{}",
        path.display(),
        table.data_blocks(),
        if table.has_filter() {
            ", with a Bloom filter"
        } else {
            ""
        }
    );
    Ok(())
}

/// Prints every record of a manifest, Tributary's or LevelDB's (told
/// apart by [`leveldb::is_leveldb_manifest`]): `offset N: edit` and then
/// one indented line per field. On stderr, what the edits add up to.
pub fn dump_manifest(path: &Path, notation: Notation, out: &mut dyn Write) -> Result<(), Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::Db(format!("read {}: {e}", path.display())))?;
    let format = if leveldb::is_leveldb_manifest(&bytes) {
        ManifestFormat::LevelDb
    } else {
        ManifestFormat::Tributary
    };
    writeln!(out, "{}: {}", path.display(), format.name())?;
    each_log_record(path, &bytes[..], out, |out, offset, record| match format {
        ManifestFormat::Tributary => {
            let record = Record::decode(record).map_err(|e| Unreadable::Record(e.to_string()))?;
            write_record(out, notation, offset, &record)
        }
        ManifestFormat::LevelDb => {
            let edit = leveldb::decode_edit(record)
                .map_err(|e| Unreadable::Record(format!("LevelDB edit: {e}")))?;
            write_leveldb_edit(out, notation, offset, &edit)
        }
    })?;
    // Every record reads: whether the edits agree with each other is the
    // replay's to say, as an open would.
    let replayed = match format {
        ManifestFormat::Tributary => manifest::replay(&bytes),
        ManifestFormat::LevelDb => leveldb::replay(&bytes),
    };
    let replayed = replayed.map_err(|e| Failure::Db(format!("{}: {e}", path.display())))?;
    eprintln!(
        "{}: {} edits; {}",
        path.display(),
        replayed.edits,
        summary(&replayed.catalog)
    );
    Ok(())
}

/// The two manifest formats a database directory may hold.
#[derive(Clone, Copy)]
enum ManifestFormat {
    /// Ours: a header, then bincode edits (`version::edit`).
    Tributary,
    /// LevelDB's and goleveldb's `VersionEdit` records.
    LevelDb,
}

impl ManifestFormat {
    /// What the first line of a dump calls it.
    fn name(self) -> &'static str {
        match self {
            ManifestFormat::Tributary => "Tributary's manifest",
            ManifestFormat::LevelDb => "LevelDB's manifest",
        }
    }
}

/// Why one record of a file was not printed.
enum Unreadable {
    /// The record does not decode: damage to report, then go on.
    Record(String),
    /// Printing failed (a closed pipe, say): stop.
    Output(Failure),
}

impl From<io::Error> for Unreadable {
    fn from(e: io::Error) -> Unreadable {
        Unreadable::Output(Failure::from(e))
    }
}

/// Gives every record of the LevelDB-format log in `source` to `dump`,
/// with its offset, skipping damage to the next block; then reports on
/// stderr the records that do not decode and the bytes that do not read
/// (a torn tail too, but not a zeroed one: that is preallocation), and
/// fails if there were any.
fn each_log_record(
    path: &Path,
    source: impl io::Read,
    out: &mut dyn Write,
    mut dump: impl FnMut(&mut dyn Write, u64, &[u8]) -> Result<(), Unreadable>,
) -> Result<(), Failure> {
    let mut reader = journal::Reader::new(source, journal::Recovery::Tolerant);
    let mut damaged = false;
    // The record, copied: the reader lends it only until it is asked for
    // the record's offset.
    let mut record = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => {
                record.clear();
                record.extend_from_slice(r);
            }
            Ok(None) => break,
            Err(e) => {
                out.flush()?;
                return Err(Failure::Db(format!("{}: {e}", path.display())));
            }
        }
        let offset = reader.record_offset();
        match dump(out, offset, &record) {
            Ok(()) => {}
            Err(Unreadable::Record(reason)) => {
                damaged = true;
                out.flush()?;
                eprintln!("{}: record at offset {offset}: {reason}", path.display());
            }
            Err(Unreadable::Output(failure)) => return Err(failure),
        }
    }
    out.flush()?;
    let torn = reader
        .torn_tail()
        .filter(|t| t.reason != journal::Corruption::ZeroedTail);
    for d in reader.dropped().iter().chain(torn.as_ref()) {
        damaged = true;
        eprintln!(
            "{}: dropped {} bytes at offset {}: {}",
            path.display(),
            d.len,
            d.offset,
            d.reason
        );
    }
    if damaged {
        return Err(Failure::Db(format!(
            "{}: damaged or torn, records above are those that could be read",
            path.display()
        )));
    }
    Ok(())
}

/// One entry of a journal or table: `SEQ put KEY VALUE`, or `SEQ delete
/// KEY` when there is no value.
fn write_entry(
    out: &mut dyn Write,
    notation: Notation,
    seq: u64,
    key: &[u8],
    value: Option<&[u8]>,
) -> io::Result<()> {
    match value {
        Some(v) => writeln!(out, "{seq} put {} {}", notation.show(key), notation.show(v)),
        None => writeln!(out, "{seq} delete {}", notation.show(key)),
    }
}

/// One record of our manifest: its header on one line, or an edit's
/// fields one a line.
fn write_record(
    out: &mut dyn Write,
    notation: Notation,
    offset: u64,
    record: &Record,
) -> Result<(), Unreadable> {
    match record {
        Record::Header(header) => writeln!(
            out,
            "offset {offset}: header: magic {}, format {}, comparator {}",
            escape(&header.magic),
            header.format,
            header.comparator
        )?,
        Record::Edit(fields) => {
            writeln!(out, "offset {offset}: edit")?;
            for field in fields {
                writeln!(out, "  {}", show_field(notation, field))?;
            }
        }
    }
    Ok(())
}

/// One record of a LevelDB manifest: its fields one a line, the
/// comparator first (where LevelDB writes it) and the previous log number
/// last (`LevelDbEdit` keeps it apart from the fields).
fn write_leveldb_edit(
    out: &mut dyn Write,
    notation: Notation,
    offset: u64,
    edit: &LevelDbEdit,
) -> Result<(), Unreadable> {
    writeln!(out, "offset {offset}: edit")?;
    if let Some(name) = &edit.comparator {
        writeln!(out, "  comparator {}", escape(name))?;
    }
    for field in &edit.fields {
        writeln!(out, "  {}", show_field(notation, field))?;
    }
    if let Some(number) = edit.prev_log_number {
        writeln!(out, "  previous log number {number}")?;
    }
    Ok(())
}

/// One field of an edit, as a line.
fn show_field(notation: Notation, field: &Field) -> String {
    match field {
        Field::LogNumber(n) => format!("log number {n}"),
        Field::NextFileNumber(n) => format!("next file number {n}"),
        Field::LastSeq(seq) => format!("last sequence {seq}"),
        Field::CompactPointer { level, key } => format!(
            "compact pointer level {level} {}",
            show_internal_key(notation, key)
        ),
        Field::AddFile { level, file } => show_added(notation, *level, file),
        Field::DeleteFile { level, number } => format!("delete table {number} level {level}"),
        Field::JournalSynced { number, len } => {
            format!("journal {number} synced length {len}")
        }
        Field::Continues => "continues in the next record".to_owned(),
    }
}

/// A table an edit adds: `add table N level L size S [entries E] smallest
/// K largest K`.
fn show_added(notation: Notation, level: u8, file: &FileMeta) -> String {
    // LevelDB records no entry count (read as 0); every table we write
    // holds at least one entry.
    let entries = match file.entries {
        0 => String::new(),
        n => format!(" entries {n}"),
    };
    format!(
        "add table {} level {level} size {}{entries} smallest {} largest {}",
        file.number,
        file.size,
        show_internal_key(notation, &file.smallest),
        show_internal_key(notation, &file.largest)
    )
}

/// An internal key as `USER_KEY @ SEQ put|delete` (the user key escaped or
/// hex, so it holds no space), or its bytes if it is not one.
fn show_internal_key(notation: Notation, key: &[u8]) -> String {
    match batch::key::parse(key) {
        Some((user_key, seq, kind)) => {
            let kind = match kind {
                tributary::Kind::Put => "put",
                tributary::Kind::Delete => "delete",
            };
            format!("{} @ {} {kind}", notation.show(user_key), seq.0)
        }
        None => format!("{} (not an internal key)", notation.show(key)),
    }
}

/// What a catalog holds, in a line.
fn summary(catalog: &Catalog) -> String {
    let per_level: Vec<usize> = catalog.levels.iter().map(|l| l.len()).collect();
    format!(
        "tables per level {per_level:?}, log number {}, next file number {}, last sequence {}",
        catalog.log_number, catalog.next_file_number, catalog.last_seq
    )
}
