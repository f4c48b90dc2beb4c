//! A deterministic writer of "newc" cpio archives, the format the Linux
//! kernel unpacks as an initramfs.
//!
//! Each entry is a 110-byte ASCII header (the magic `070701` followed by
//! thirteen 8-digit hexadecimal fields: inode, mode, uid, gid, nlink, mtime,
//! file size, device major/minor, rdev major/minor, name size and checksum),
//! the NUL-terminated name padded to a 4-byte boundary, then the data padded
//! to a 4-byte boundary. The archive ends with an entry named `TRAILER!!!`.
//!
//! Output depends only on the set of entries added, never on the order they
//! were added in or on the host: entries are written sorted by path
//! component by component (so a directory comes right before its contents),
//! missing parent directories are created, every mtime, uid, gid and device
//! number is 0, nlink is 1 (2 for directories), and inode numbers count up
//! from 1 in output order.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

/// The longest path or symlink target the kernel accepts, without the NUL.
const MAX_PATH_LEN: usize = 4095;

/// File type bits of the cpio mode field.
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Mode of directories, whether added with [`Initramfs::add_dir`] or created
/// implicitly as parents.
pub const DIR_MODE: u32 = 0o755;

/// An initramfs being assembled in memory; see the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Initramfs {
    /// Path components -> entry. The ordering of `Vec<String>` (component by
    /// component) puts every directory before its contents.
    entries: BTreeMap<Vec<String>, Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File { data: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

/// Why an entry could not be added to an [`Initramfs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitramfsError {
    /// The path starts with `/`; entries are relative to the archive root.
    AbsolutePath {
        /// The path as given.
        path: String,
    },
    /// The path has a `..` component.
    ParentComponent {
        /// The path as given.
        path: String,
    },
    /// The path names the archive root itself (it is empty or only `.`/`/`
    /// separators).
    EmptyPath {
        /// The path as given.
        path: String,
    },
    /// The path or symlink target contains a NUL byte, or is longer than
    /// the kernel's limit of 4095 bytes.
    BadName {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The mode has bits other than permission bits (`0o7777`).
    InvalidMode {
        /// The normalised path of the entry.
        path: String,
        /// The mode given.
        mode: u32,
    },
    /// The file is larger than a newc header can describe (4 GiB - 1).
    FileTooLarge {
        /// The normalised path of the entry.
        path: String,
        /// The file's size in bytes.
        size: usize,
    },
    /// An entry with this path already exists (directories may be added
    /// more than once; files and symlinks may not).
    AlreadyExists {
        /// The normalised path of the entry.
        path: String,
    },
    /// A parent of the path already exists as a file or symlink.
    ParentNotADirectory {
        /// The normalised path of the entry being added.
        path: String,
        /// The normalised path of the parent that is not a directory.
        parent: String,
    },
}

impl fmt::Display for InitramfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitramfsError::AbsolutePath { path } => {
                write!(f, "initramfs path {path:?} is absolute; entries must be relative")
            }
            InitramfsError::ParentComponent { path } => {
                write!(f, "initramfs path {path:?} contains a '..' component")
            }
            InitramfsError::EmptyPath { path } => {
                write!(f, "initramfs path {path:?} names the archive root")
            }
            InitramfsError::BadName { path, detail } => {
                write!(f, "initramfs entry {path:?}: {detail}")
            }
            InitramfsError::InvalidMode { path, mode } => {
                write!(f, "initramfs entry {path:?}: mode {mode:#o} has bits outside 0o7777")
            }
            InitramfsError::FileTooLarge { path, size } => write!(
                f,
                "initramfs entry {path:?}: {size} bytes is too large for a newc archive"
            ),
            InitramfsError::AlreadyExists { path } => {
                write!(f, "initramfs entry {path:?} was already added")
            }
            InitramfsError::ParentNotADirectory { path, parent } => {
                write!(f, "initramfs entry {path:?}: parent {parent:?} is not a directory")
            }
        }
    }
}

impl std::error::Error for InitramfsError {}

/// Split a relative archive path into its components, dropping empty and
/// `.` components; reject absolute paths, `..`, NULs and over-long paths.
fn components(path: &str) -> Result<Vec<String>, InitramfsError> {
    if path.starts_with('/') {
        return Err(InitramfsError::AbsolutePath { path: path.to_owned() });
    }
    if path.contains('\0') {
        return Err(InitramfsError::BadName {
            path: path.to_owned(),
            detail: "the path contains a NUL byte",
        });
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(InitramfsError::ParentComponent { path: path.to_owned() }),
            _ => parts.push(part.to_owned()),
        }
    }
    if parts.is_empty() {
        return Err(InitramfsError::EmptyPath { path: path.to_owned() });
    }
    if parts.join("/").len() > MAX_PATH_LEN {
        return Err(InitramfsError::BadName {
            path: path.to_owned(),
            detail: "the path is longer than 4095 bytes",
        });
    }
    Ok(parts)
}

impl Initramfs {
    /// An empty archive (it still has a trailer when written).
    pub fn new() -> Initramfs {
        Initramfs::default()
    }

    /// The number of entries, including implicitly created directories and
    /// excluding the trailer.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an entry (of any kind, explicit or implicit) exists at `path`.
    pub fn contains(&self, path: &str) -> bool {
        components(path).is_ok_and(|parts| self.entries.contains_key(&parts))
    }

    /// Add a directory with mode [`DIR_MODE`], e.g. `"lib/modules"`.
    ///
    /// Adding a directory that already exists (explicitly or as the parent
    /// of another entry) does nothing.
    pub fn add_dir(&mut self, path: &str) -> Result<(), InitramfsError> {
        let parts = components(path)?;
        match self.entries.get(&parts) {
            Some(Node::Dir) => Ok(()),
            Some(_) => Err(InitramfsError::AlreadyExists { path: parts.join("/") }),
            None => self.insert(parts, Node::Dir),
        }
    }

    /// Add a regular file with permission bits `mode` (e.g. `0o755`), e.g.
    /// `"init"` or `"lib/modules/virtio.ko"`.
    pub fn add_file(&mut self, path: &str, data: Vec<u8>, mode: u32) -> Result<(), InitramfsError> {
        let parts = components(path)?;
        if mode & !0o7777 != 0 {
            return Err(InitramfsError::InvalidMode {
                path: parts.join("/"),
                mode,
            });
        }
        if u32::try_from(data.len()).is_err() {
            return Err(InitramfsError::FileTooLarge {
                path: parts.join("/"),
                size: data.len(),
            });
        }
        self.insert_new(parts, Node::File { data, mode })
    }

    /// Add a symbolic link at `path` pointing to `target` (which may be
    /// absolute, e.g. `"/bin/probe"`, or relative).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), InitramfsError> {
        let parts = components(path)?;
        let detail = if target.is_empty() {
            Some("the symlink target is empty")
        } else if target.contains('\0') {
            Some("the symlink target contains a NUL byte")
        } else if target.len() > MAX_PATH_LEN {
            Some("the symlink target is longer than 4095 bytes")
        } else {
            None
        };
        if let Some(detail) = detail {
            return Err(InitramfsError::BadName {
                path: path.to_owned(),
                detail,
            });
        }
        self.insert_new(
            parts,
            Node::Symlink {
                target: target.to_owned(),
            },
        )
    }

    /// Insert a file or symlink, which must not exist yet.
    fn insert_new(&mut self, parts: Vec<String>, node: Node) -> Result<(), InitramfsError> {
        if self.entries.contains_key(&parts) {
            return Err(InitramfsError::AlreadyExists { path: parts.join("/") });
        }
        self.insert(parts, node)
    }

    /// Insert `node` at `parts`, creating missing parents; nothing changes
    /// if a parent is not a directory.
    fn insert(&mut self, parts: Vec<String>, node: Node) -> Result<(), InitramfsError> {
        for depth in 1..parts.len() {
            match self.entries.get(&parts[..depth]) {
                None | Some(Node::Dir) => {}
                Some(_) => {
                    return Err(InitramfsError::ParentNotADirectory {
                        path: parts.join("/"),
                        parent: parts[..depth].join("/"),
                    })
                }
            }
        }
        for depth in 1..parts.len() {
            self.entries.entry(parts[..depth].to_vec()).or_insert(Node::Dir);
        }
        self.entries.insert(parts, node);
        Ok(())
    }

    /// Write the archive, trailer included, to `out`.
    pub fn write_to(&self, mut out: impl Write) -> io::Result<()> {
        for (ino, (parts, node)) in (1u32..).zip(&self.entries) {
            let name = parts.join("/");
            let (mode, nlink, data): (u32, u32, &[u8]) = match node {
                Node::Dir => (S_IFDIR | DIR_MODE, 2, &[]),
                Node::File { data, mode } => (S_IFREG | mode, 1, data),
                Node::Symlink { target } => (S_IFLNK | 0o777, 1, target.as_bytes()),
            };
            write_entry(&mut out, ino, mode, nlink, &name, data)?;
        }
        write_entry(&mut out, 0, 0, 1, "TRAILER!!!", &[])
    }

    /// The archive, trailer included, as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }
}

/// The number of zero bytes that bring `len` up to a multiple of 4.
fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Write one newc entry (a multiple of 4 bytes long). Sizes were already
/// checked when the entry was added.
fn write_entry(out: &mut impl Write, ino: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) -> io::Result<()> {
    let too_large = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
    let filesize = u32::try_from(data.len()).map_err(|_| too_large("file too large for a newc archive"))?;
    let namesize = u32::try_from(name.len() + 1).map_err(|_| too_large("name too long for a newc archive"))?;
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
    // rdevmajor, rdevminor, namesize, check.
    let fields: [u32; 13] = [ino, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0];
    let mut header = String::with_capacity(110);
    header.push_str("070701");
    for field in fields {
        header.push_str(&format!("{field:08X}"));
    }
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    let name_pad = 1 + pad4(header.len() + name.len() + 1);
    out.write_all(&[0; 4][..name_pad])?;
    out.write_all(data)?;
    let data_pad = pad4(data.len());
    out.write_all(&[0; 3][..data_pad])
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// One entry read back from a newc archive.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Read {
        ino: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        nlink: u32,
        mtime: u32,
        dev: [u32; 4],
        check: u32,
        name: String,
        data: Vec<u8>,
    }

    /// Parse a newc archive up to and including its trailer, checking the
    /// magic and the 4-byte alignment of every name and data block.
    fn read_newc(bytes: &[u8]) -> Vec<Read> {
        let mut pos = 0;
        let mut entries = Vec::new();
        loop {
            assert_eq!(pos % 4, 0, "entry at {pos} is not aligned");
            let header = &bytes[pos..pos + 110];
            assert_eq!(&header[..6], b"070701", "bad magic at {pos}");
            let field = |i: usize| {
                let hex = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(hex, 16).unwrap()
            };
            let namesize = field(11) as usize;
            let name_start = pos + 110;
            let name = &bytes[name_start..name_start + namesize];
            assert_eq!(name.last(), Some(&0), "name is not NUL-terminated");
            let name = std::str::from_utf8(&name[..namesize - 1]).unwrap().to_owned();
            let name_end = name_start + namesize;
            let data_start = name_end.next_multiple_of(4);
            assert!(
                bytes[name_end..data_start].iter().all(|&b| b == 0),
                "name padding is not zero"
            );
            let filesize = field(6) as usize;
            let data = bytes[data_start..data_start + filesize].to_vec();
            let data_end = data_start + filesize;
            pos = data_end.next_multiple_of(4);
            assert!(bytes[data_end..pos].iter().all(|&b| b == 0), "data padding is not zero");
            let entry = Read {
                ino: field(0),
                mode: field(1),
                uid: field(2),
                gid: field(3),
                nlink: field(4),
                mtime: field(5),
                dev: [field(7), field(8), field(9), field(10)],
                check: field(12),
                name,
                data,
            };
            let done = entry.name == "TRAILER!!!";
            entries.push(entry);
            if done {
                assert_eq!(pos, bytes.len(), "bytes after the trailer");
                return entries;
            }
        }
    }

    fn sample(order: &[usize]) -> Initramfs {
        let mut i = Initramfs::new();
        for &step in order {
            match step {
                0 => i.add_file("init", b"#!probe\n".to_vec(), 0o755),
                1 => i.add_file("lib/modules/virtio.ko", vec![1, 2, 3, 4, 5], 0o644),
                2 => i.add_dir("lib/modules"),
                3 => i.add_symlink("bin/sh", "/init"),
                4 => i.add_dir("dev"),
                5 => i.add_file("lib-extra", Vec::new(), 0o600),
                6 => i.add_file("lib/a", b"abc".to_vec(), 0o4755),
                _ => unreachable!(),
            }
            .unwrap();
        }
        i
    }

    #[test]
    fn output_does_not_depend_on_insertion_order() {
        let a = sample(&[0, 1, 2, 3, 4, 5, 6]).to_bytes();
        let b = sample(&[6, 5, 4, 3, 2, 1, 0]).to_bytes();
        let c = sample(&[2, 4, 0, 6, 1, 5, 3]).to_bytes();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.len() % 4, 0);
    }

    #[test]
    fn round_trip_through_a_newc_reader() {
        let initramfs = sample(&[0, 1, 2, 3, 4, 5, 6]);
        let mut written = Vec::new();
        initramfs.write_to(&mut written).unwrap();
        assert_eq!(written, initramfs.to_bytes());

        let entries = read_newc(&written);
        let summary: Vec<(u32, &str, u32, u32, &[u8])> = entries
            .iter()
            .map(|e| (e.ino, e.name.as_str(), e.mode, e.nlink, e.data.as_slice()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, "bin", 0o040_755, 2, &b""[..]),
                (2, "bin/sh", 0o120_777, 1, &b"/init"[..]),
                (3, "dev", 0o040_755, 2, &b""[..]),
                (4, "init", 0o100_755, 1, &b"#!probe\n"[..]),
                (5, "lib", 0o040_755, 2, &b""[..]),
                (6, "lib/a", 0o104_755, 1, &b"abc"[..]),
                (7, "lib/modules", 0o040_755, 2, &b""[..]),
                (8, "lib/modules/virtio.ko", 0o100_644, 1, &[1, 2, 3, 4, 5][..]),
                (9, "lib-extra", 0o100_600, 1, &b""[..]),
                (0, "TRAILER!!!", 0, 1, &b""[..]),
            ]
        );
        for e in &entries {
            assert_eq!((e.uid, e.gid, e.mtime, e.dev, e.check), (0, 0, 0, [0; 4], 0));
        }
        assert_eq!(initramfs.len(), 9);
    }

    #[test]
    fn empty_archive_is_just_a_trailer() {
        let bytes = Initramfs::new().to_bytes();
        assert_eq!(bytes.len(), 124);
        assert_eq!(
            &bytes[..],
            &b"070701\
               00000000000000000000000000000000000000010000000000000000\
               000000000000000000000000000000000000000B00000000\
               TRAILER!!!\0\0\0\0"[..]
        );
    }

    #[test]
    fn paths_are_normalised() {
        let mut a = Initramfs::new();
        a.add_file("./lib//x", b"x".to_vec(), 0o644).unwrap();
        a.add_dir("lib/").unwrap();
        let mut b = Initramfs::new();
        b.add_file("lib/x", b"x".to_vec(), 0o644).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert!(a.contains("lib"));
        assert!(a.contains("./lib/x"));
    }

    #[test]
    fn rejects_absolute_and_parent_paths() {
        let mut i = Initramfs::new();
        assert_eq!(
            i.add_file("../x", vec![], 0o644),
            Err(InitramfsError::ParentComponent { path: "../x".into() })
        );
        assert_eq!(
            i.add_file("/x", vec![], 0o644),
            Err(InitramfsError::AbsolutePath { path: "/x".into() })
        );
        assert!(i.add_dir("a/../b").is_err());
        assert!(i.add_symlink("/bin/sh", "init").is_err());
        assert!(matches!(i.add_dir("."), Err(InitramfsError::EmptyPath { .. })));
        assert!(matches!(i.add_dir(""), Err(InitramfsError::EmptyPath { .. })));
        assert!(i.is_empty());
        let msg = i.add_file("../x", vec![], 0o644).unwrap_err().to_string();
        assert!(msg.contains("\"../x\""), "{msg}");
    }

    #[test]
    fn rejects_conflicts_bad_modes_and_bad_names() {
        let mut i = Initramfs::new();
        i.add_file("init", vec![], 0o755).unwrap();
        assert_eq!(
            i.add_file("init", vec![1], 0o755),
            Err(InitramfsError::AlreadyExists { path: "init".into() })
        );
        assert!(i.add_dir("init").is_err());
        assert_eq!(
            i.add_file("init/x", vec![], 0o644),
            Err(InitramfsError::ParentNotADirectory {
                path: "init/x".into(),
                parent: "init".into()
            })
        );
        i.add_dir("lib").unwrap();
        assert!(i.add_symlink("lib", "x").is_err());
        assert!(matches!(
            i.add_file("x", vec![], 0o100_644),
            Err(InitramfsError::InvalidMode { .. })
        ));
        assert!(i.add_file("a\0b", vec![], 0o644).is_err());
        assert!(i.add_symlink("s", "").is_err());
        assert!(i.add_file(&"x".repeat(4096), vec![], 0o644).is_err());
        // Nothing was added by the failed calls.
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn cpio_tool_lists_the_names() {
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-it", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            return; // No cpio on this machine; the round-trip test covers the format.
        };
        let bytes = sample(&[0, 1, 2, 3, 4, 5, 6]).to_bytes();
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&bytes).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let listed: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            listed,
            vec![
                "bin",
                "bin/sh",
                "dev",
                "init",
                "lib",
                "lib/a",
                "lib/modules",
                "lib/modules/virtio.ko",
                "lib-extra",
            ]
        );
    }
}
