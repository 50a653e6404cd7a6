//! [`OsFs`]: the [`Fs`] seam over the operating system's file system.

use super::{FileKind, FileLock, Fs, LockMode, MappedFile, Metadata, WritableFile};
use crate::tuning::{READ_BUFFER, TRIM_CHECK_BUFFER, ZERO_FILL_CHUNK};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

impl Fs for OsFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok()
    }

    fn stat(&self, path: &Path) -> io::Result<Metadata> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(path)?;
        let t = meta.file_type();
        let kind = if t.is_file() {
            FileKind::File
        } else if t.is_dir() {
            FileKind::Dir
        } else if t.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::Other
        };
        Ok(Metadata {
            kind,
            len: meta.len(),
            links: meta.nlink(),
        })
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // `create_new` is O_CREAT | O_EXCL: it fails on any existing name,
        // a symbolic link included, so nothing is written through a link.
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(file))
    }

    fn create_zeroed(&self, path: &Path, len: u64) -> io::Result<Box<dyn WritableFile>> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut fill = || -> io::Result<()> {
            let zeros = vec![0u8; ZERO_FILL_CHUNK];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            file.sync_all()?;
            file.seek(io::SeekFrom::Start(0))?;
            Ok(())
        };
        if let Err(e) = fill() {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(e);
        }
        Ok(Box::new(file))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let file = File::open(path)?;
        // Recovery checked the name with `lstat`; this checks what was
        // opened, in case the entry changed since (a device would read
        // forever).
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(Box::new(io::BufReader::with_capacity(READ_BUFFER, file)))
    }

    fn map(&self, path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            // A zero-length mapping is an error on Linux; an empty table is
            // refused by the reader anyway.
            return Ok(Box::new(Vec::<u8>::new()));
        }
        #[allow(unsafe_code)]
        // SAFETY: a memory map is sound only while no one changes or
        // shortens the file under it. Table files are created new under
        // their final name, written and synced before any reader maps them,
        // and never written, truncated or renamed over afterwards: the `Fs`
        // seam has no way to open an existing file for writing, and the
        // directory's `LOCK` keeps out every other Tributary process. The
        // map is dropped only after the last reader of the table is gone
        // (`version::current`). Another program that truncates the file
        // behind the lock can still make a read fault; that is outside the
        // fault model (RELIABILITY.md), as it is for LevelDB's mmap reads.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Box::new(map))
    }

    fn trim_zeros(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        file.seek(io::SeekFrom::Start(len))?;
        let mut buf = vec![0u8; TRIM_CHECK_BUFFER];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not only zeros from offset {len}"),
                ));
            }
        }
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<Box<dyn FileLock>> {
        super::lock::take(path, mode)
    }
}
