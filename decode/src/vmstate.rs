//! Migration stream schema: parse QEMU `-dump-vmstate` output into typed
//! sections, descriptions and fields (compared by the checker). Parsing is
//! pure; [`load`] only adds reading the file.
//!
//! A dump lists every device type that has a `VMStateDescription` (whether or
//! not the machine instantiates it), keyed by QOM type name. What goes on the
//! wire is positional: a section is found by its description's name, then its
//! fields are read in order with no names. So the comparison here works on the
//! flattened layout of each description (sizes, array lengths, which fields a
//! given stream version carries) and treats names only as labels. That is what
//! lets a renamed field, a renamed QOM type, or fields moved into a substruct
//! come out as `info` instead of a failure, with no table of known renames.
//!
//! Wire rules the comparison follows (QEMU `migration/vmstate.c`, `savevm.c`):
//! - a top-level section and each subsection carry their version; the loader
//!   rejects a version above its own or below its `minimum_version_id`, and
//!   reads exactly the fields whose `version_id` is at most the stream version;
//! - a nested struct (`VMSTATE_STRUCT`) carries no version: each side uses its
//!   own nested description's version to decide which fields exist;
//! - a field with a `field_exists` test ignores its `version_id`; whether it is
//!   sent is decided at run time, so a dump cannot tell;
//! - subsections are sent by name after the fields, only when their `needed`
//!   callback says so; the dump does not record the callback, so a subsection
//!   the source has and the destination lacks is reported as a break;
//! - the `size` of a struct field is the C struct's size, not its wire size,
//!   and arrays record their length (`num`) only since QEMU 8.1.

use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// Name of the pseudo-section in which QEMU records the machine type.
pub const MACHINE_KEY: &str = "vmschkmachine";

/// Field name QEMU gives to `VMSTATE_UNUSED*` padding.
const PADDING_NAME: &str = "unused";

/// A parsed `-dump-vmstate` file.
#[derive(Debug, Clone, PartialEq)]
pub struct VmstateDump {
    /// Machine type the dump was taken with (`vmschkmachine.Name`), if present.
    pub machine: Option<String>,
    /// Every section of the dump, sorted by [`Section::name`].
    pub sections: Vec<Section>,
    /// Whether the dumping QEMU records array lengths (`num`, QEMU 8.1 and later).
    /// Without them an array and a single element of the same type look alike.
    pub records_array_lengths: bool,
}

impl VmstateDump {
    /// The section registered for QOM type `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.sections[i])
    }
}

/// One device type's migration section.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// QOM type name, the dump's key. Not sent on the wire.
    pub name: String,
    /// Name of the top-level `VMStateDescription`; QEMU builds the wire section
    /// id from it, so changing it breaks migration even with the same layout.
    pub vmsd_name: String,
    /// Version this build sends.
    pub version_id: u32,
    /// Oldest stream version this build accepts.
    pub minimum_version_id: u32,
    /// Fields in wire order.
    pub fields: Vec<Field>,
    /// Optional named parts sent after the fields.
    pub subsections: Vec<Subsection>,
}

/// A `VMStateDescription` below the top level: a nested struct or a subsection.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// Description name; on the wire only for subsections.
    pub name: String,
    /// Version of this description.
    pub version_id: u32,
    /// Oldest version accepted (checked on the wire only for subsections).
    pub minimum_version_id: u32,
    /// Fields in wire order.
    pub fields: Vec<Field>,
    /// Subsections sent after this description's fields.
    pub subsections: Vec<Subsection>,
}

/// A subsection: a description sent by name, and only when its `needed`
/// callback returns true.
pub type Subsection = Description;

/// One entry of a description's field list.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Field name as QEMU prints it (may contain dots, e.g. `parent_obj.exp`).
    pub name: String,
    /// Lowest stream version that carries this field (0: always).
    pub version_id: u32,
    /// Element size in bytes; for a struct, the C struct's size, not its wire size.
    pub size: u64,
    /// Element count of a fixed array; recorded only by QEMU 8.1 and later.
    pub num: Option<u32>,
    /// The field has a `field_exists` test: it is sent or not at run time and
    /// its `version_id` is ignored.
    pub exists_test: bool,
    /// What the field holds.
    pub kind: FieldKind,
}

/// What a field holds.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// Bytes of a scalar, array or buffer, with its own put/get.
    Scalar,
    /// `VMSTATE_UNUSED` padding: bytes that are sent and ignored.
    Padding,
    /// A nested description whose fields go on the wire inline.
    Struct(Description),
}

/// Why a dump could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct VmstateError {
    /// File the dump came from, when read through [`load`].
    pub file: Option<PathBuf>,
    /// Where in the dump, e.g. `section "e1000" > Fields[3] "mac_reg"`.
    pub location: String,
    /// What was wrong there.
    pub message: String,
}

impl fmt::Display for VmstateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if self.location.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

impl std::error::Error for VmstateError {}

/// An error at `location` of the dump.
pub fn parse_err(location: &str, message: impl fmt::Display) -> VmstateError {
    VmstateError {
        file: None,
        location: location.to_string(),
        message: message.to_string(),
    }
}

/// Read and parse the dump at `path`; errors name the file.
pub fn load(path: &Path) -> Result<VmstateDump, VmstateError> {
    let text = std::fs::read_to_string(path).map_err(|e| VmstateError {
        file: Some(path.to_path_buf()),
        location: String::new(),
        message: format!("cannot read vmstate dump: {e}"),
    })?;
    parse(&text).map_err(|e| VmstateError {
        file: Some(path.to_path_buf()),
        ..e
    })
}

/// Parse the JSON written by `qemu-system-* -dump-vmstate FILE`.
///
/// Unknown keys are ignored so that dumps from newer QEMU still load; a known
/// key with the wrong type is an error naming its location.
pub fn parse(json: &str) -> Result<VmstateDump, VmstateError> {
    let root: Value = serde_json::from_str(json).map_err(|e| parse_err("", format!("not valid JSON: {e}")))?;
    let top = root
        .as_object()
        .ok_or_else(|| parse_err("", "top level is not a JSON object"))?;
    let mut machine = None;
    let mut sections = Vec::new();
    for (key, value) in top {
        if key == MACHINE_KEY {
            let loc = format!("\"{MACHINE_KEY}\"");
            let obj = value.as_object().ok_or_else(|| parse_err(&loc, "not an object"))?;
            machine = opt_str(obj, "Name", &loc)?;
            continue;
        }
        sections.push(parse_section(key, value)?);
    }
    sections.sort_by(|a, b| a.name.cmp(&b.name));
    let records_array_lengths = sections
        .iter()
        .any(|s| any_num(&s.fields) || s.subsections.iter().any(desc_has_num));
    Ok(VmstateDump {
        machine,
        sections,
        records_array_lengths,
    })
}

fn any_num(fields: &[Field]) -> bool {
    fields
        .iter()
        .any(|f| f.num.is_some() || matches!(&f.kind, FieldKind::Struct(d) if desc_has_num(d)))
}

fn desc_has_num(d: &Description) -> bool {
    any_num(&d.fields) || d.subsections.iter().any(desc_has_num)
}

fn parse_section(key: &str, value: &Value) -> Result<Section, VmstateError> {
    let loc = format!("section \"{key}\"");
    let obj = value.as_object().ok_or_else(|| parse_err(&loc, "not an object"))?;
    let desc_value = obj
        .get("Description")
        .ok_or_else(|| parse_err(&loc, "no \"Description\""))?;
    let desc = parse_description(desc_value, &format!("{loc} > Description"))?;
    // The section's own version keys repeat the description's; trust the
    // description but refuse a dump where they disagree.
    for (k, v) in [
        ("version_id", desc.version_id),
        ("minimum_version_id", desc.minimum_version_id),
    ] {
        if let Some(top) = opt_u32(obj, k, &loc)? {
            if top != v {
                return Err(parse_err(
                    &loc,
                    format!("\"{k}\" is {top} but the Description says {v}"),
                ));
            }
        }
    }
    Ok(Section {
        name: key.to_string(),
        vmsd_name: desc.name,
        version_id: desc.version_id,
        minimum_version_id: desc.minimum_version_id,
        fields: desc.fields,
        subsections: desc.subsections,
    })
}

fn parse_description(value: &Value, loc: &str) -> Result<Description, VmstateError> {
    let obj = value
        .as_object()
        .ok_or_else(|| parse_err(loc, "description is not an object"))?;
    let name = opt_str(obj, "name", loc)?.ok_or_else(|| parse_err(loc, "no \"name\""))?;
    let loc = format!("{loc} \"{name}\"");
    let version_id = opt_u32(obj, "version_id", &loc)?.ok_or_else(|| parse_err(&loc, "no \"version_id\""))?;
    let minimum_version_id =
        opt_u32(obj, "minimum_version_id", &loc)?.ok_or_else(|| parse_err(&loc, "no \"minimum_version_id\""))?;
    let mut fields = Vec::new();
    for (i, f) in opt_array(obj, "Fields", &loc)?.iter().enumerate() {
        fields.push(parse_field(f, &format!("{loc} > Fields[{i}]"))?);
    }
    let mut subsections = Vec::new();
    for (i, s) in opt_array(obj, "Subsections", &loc)?.iter().enumerate() {
        subsections.push(parse_description(s, &format!("{loc} > Subsections[{i}]"))?);
    }
    Ok(Description {
        name,
        version_id,
        minimum_version_id,
        fields,
        subsections,
    })
}

fn parse_field(value: &Value, loc: &str) -> Result<Field, VmstateError> {
    let obj = value
        .as_object()
        .ok_or_else(|| parse_err(loc, "field is not an object"))?;
    let name = opt_str(obj, "field", loc)?.ok_or_else(|| parse_err(loc, "no \"field\""))?;
    let loc = format!("{loc} \"{name}\"");
    let version_id = opt_u32(obj, "version_id", &loc)?.ok_or_else(|| parse_err(&loc, "no \"version_id\""))?;
    let exists_test = match obj.get("field_exists") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(parse_err(&loc, format!("\"field_exists\" is not a boolean: {other}"))),
    };
    let size = match obj.get("size") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| parse_err(&loc, format!("\"size\" is not an unsigned integer: {v}")))?,
        None => return Err(parse_err(&loc, "no \"size\"")),
    };
    let num = opt_u32(obj, "num", &loc)?;
    let kind = match obj.get("Description") {
        Some(d) => FieldKind::Struct(parse_description(d, &format!("{loc} > Description"))?),
        None if name == PADDING_NAME => FieldKind::Padding,
        None => FieldKind::Scalar,
    };
    Ok(Field {
        name,
        version_id,
        size,
        num,
        exists_test,
        kind,
    })
}

fn opt_str(obj: &Map<String, Value>, key: &str, loc: &str) -> Result<Option<String>, VmstateError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(parse_err(loc, format!("\"{key}\" is not a string: {other}"))),
    }
}

fn opt_u32(obj: &Map<String, Value>, key: &str, loc: &str) -> Result<Option<u32>, VmstateError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| parse_err(loc, format!("\"{key}\" is not a 32-bit unsigned integer: {v}"))),
    }
}

fn opt_array<'a>(obj: &'a Map<String, Value>, key: &str, loc: &str) -> Result<&'a [Value], VmstateError> {
    match obj.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(parse_err(loc, format!("\"{key}\" is not an array: {}", kind_of(other)))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
