//! A bounds walk over a Parquet footer's Thrift bytes, run before the `parquet` crate decodes them.
//!
//! The crate sizes its vectors from counts the bytes declare: a list header's element count and a
//! schema element's `num_children`, each up to `i32::MAX`. A footer of a few bytes can so ask for
//! gigabytes before the decoder finds out the elements are not there (the fuzzer found a 13 GB
//! allocation). Its schema builder also recurses once per nesting level, so a deep enough schema
//! overflows the stack, which no panic guard can catch.
//!
//! This walk reads the bytes first, without allocating, **as the decoder will read them**. The
//! decoder reads a field it knows by the type it expects for that field id, whatever type the
//! wire declares, and skips a field it does not know by the wire type. A walk that read every
//! field by its wire type would see other values than the decoder where the two disagree (the
//! fuzzer found that too), so the walk holds the field table of every footer structure
//! (`parquet.thrift`, as parquet 58 decodes it) and refuses a footer where:
//! - a known field's wire type, or a known list's element type, is not the one the format defines;
//! - a list or binary declares more elements (or bytes) than the bytes left can hold;
//! - a field id overflows, or a type is one no footer holds (set, map, uuid);
//! - Thrift structures nest deeper than [`MAX_THRIFT_DEPTH`];
//! - a schema element declares a negative `num_children`, or more children than elements follow;
//! - the schema tree nests deeper than [`MAX_SCHEMA_DEPTH`], or its leaves' column paths (each
//!   leaf holds a copy of every ancestor's name) would take more than [`MAX_PATH_BYTES`].
//!
//! On bytes the walk accepts, the decoder consumes exactly what the walk consumed, so every count
//! it trusts is backed by bytes actually present, and what it allocates is bounded by a constant
//! factor of the footer's size. A footer any Parquet writer produces passes: its fields carry the
//! types the format defines, and only the two nesting limits can refuse well-formed bytes (which
//! [`Refused::is_limit`] says).

/// Deeper than any Parquet footer's structures (about ten levels) and at most the decoder's own
/// skip depth (64), so nothing it accepts is refused here for depth.
pub const MAX_THRIFT_DEPTH: usize = 64;

/// Nesting of groups in a schema. Real schemas nest a handful of levels; the decoder recurses once
/// per level on the calling thread's stack.
pub const MAX_SCHEMA_DEPTH: usize = 128;

/// What the decoder may reserve for lists, against the footer's length: at least 64 MiB, and 16
/// bytes per footer byte above that. The walk charges each list the decoder reads into a vector
/// [`RESERVE_PER_STRUCT`] per structure element (more than any footer structure takes in memory)
/// and 24 per other element. A real footer's elements take tens of bytes on the wire each, so it
/// stays far inside; a footer of empty structures declaring a billion row groups does not.
pub fn reserve_budget(footer_len: usize) -> u64 {
    (64 << 20) + 16 * footer_len as u64
}

/// The walk's charge per structure element of a list (see [`reserve_budget`]).
pub const RESERVE_PER_STRUCT: u64 = 256;

/// The bytes the decoder's column paths may take: each leaf copies the names of all its
/// ancestors, so a long group name over many leaves multiplies. A 10,000-column schema nested
/// three deep with 100-byte names takes about 4 MiB.
pub const MAX_PATH_BYTES: u64 = 256 << 20;

/// Why a footer was refused before decoding. The text is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("footer refused before decoding: {why}")]
pub struct Refused {
    why: String,
    limit: bool,
}

impl Refused {
    /// `true` when the footer is refused for the verifier's own nesting limit, which well-formed
    /// bytes can exceed: could not check, not proof the file is wrong. `false` when the bytes
    /// contradict themselves (a count past the end), which no well-formed footer does.
    pub fn is_limit(&self) -> bool {
        self.limit
    }
}

fn refused(why: impl Into<String>) -> Refused {
    Refused {
        why: why.into(),
        limit: false,
    }
}

fn beyond_limit(why: impl Into<String>) -> Refused {
    Refused {
        why: why.into(),
        limit: true,
    }
}

/// Thrift compact protocol wire types.
mod wire {
    pub const STOP: u8 = 0;
    pub const TRUE: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const I16: u8 = 4;
    pub const I32: u8 = 5;
    pub const I64: u8 = 6;
    pub const DOUBLE: u8 = 7;
    pub const BINARY: u8 = 8;
    pub const LIST: u8 = 9;
    pub const STRUCT: u8 = 12;
}

/// A field's type as the format defines it (enums are i32, strings are binary).
#[derive(Clone, Copy)]
enum T {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    Binary,
    List(&'static T),
    Struct(&'static Fields),
}

/// A structure's (or union's) known fields, by id.
type Fields = [(i16, T)];

impl T {
    fn wire_matches(self, w: u8) -> bool {
        match self {
            T::Bool => matches!(w, wire::TRUE | wire::FALSE),
            T::I8 => w == wire::BYTE,
            T::I16 => w == wire::I16,
            T::I32 => w == wire::I32,
            T::I64 => w == wire::I64,
            T::Double => w == wire::DOUBLE,
            T::Binary => w == wire::BINARY,
            T::List(_) => w == wire::LIST,
            T::Struct(_) => w == wire::STRUCT,
        }
    }
}

// The footer's structures (parquet.thrift). `EMPTY` stands for every structure without fields
// (the LogicalType markers, TimeUnit's units, TypeDefinedOrder, EncryptionWithFooterKey).
const EMPTY: &Fields = &[];
const SCHEMA_ELEMENT_LIST: T = T::List(&T::Struct(SCHEMA_ELEMENT));
const FILE_META_DATA: &Fields = &[
    (1, T::I32),
    (2, SCHEMA_ELEMENT_LIST),
    (3, T::I64),
    (4, T::List(&T::Struct(ROW_GROUP))),
    (5, T::List(&T::Struct(KEY_VALUE))),
    (6, T::Binary),
    (7, T::List(&T::Struct(COLUMN_ORDER))),
    (8, T::Struct(ENCRYPTION_ALGORITHM)),
    (9, T::Binary),
];
const SCHEMA_ELEMENT: &Fields = &[
    (1, T::I32),
    (2, T::I32),
    (3, T::I32),
    (4, T::Binary),
    (5, T::I32),
    (6, T::I32),
    (7, T::I32),
    (8, T::I32),
    (9, T::I32),
    (10, T::Struct(LOGICAL_TYPE)),
];
const LOGICAL_TYPE: &Fields = &[
    (1, T::Struct(EMPTY)),
    (2, T::Struct(EMPTY)),
    (3, T::Struct(EMPTY)),
    (4, T::Struct(EMPTY)),
    (5, T::Struct(&[(1, T::I32), (2, T::I32)])),
    (6, T::Struct(EMPTY)),
    (7, T::Struct(TIME)),
    (8, T::Struct(TIME)),
    (10, T::Struct(&[(1, T::I8), (2, T::Bool)])),
    (11, T::Struct(EMPTY)),
    (12, T::Struct(EMPTY)),
    (13, T::Struct(EMPTY)),
    (14, T::Struct(EMPTY)),
    (15, T::Struct(EMPTY)),
    (16, T::Struct(&[(1, T::I8)])),
    (17, T::Struct(&[(1, T::Binary)])),
    (18, T::Struct(&[(1, T::Binary), (2, T::I32)])),
];
const TIME: &Fields = &[
    (1, T::Bool),
    (
        2,
        T::Struct(&[
            (1, T::Struct(EMPTY)),
            (2, T::Struct(EMPTY)),
            (3, T::Struct(EMPTY)),
        ]),
    ),
];
const ROW_GROUP: &Fields = &[
    (1, T::List(&T::Struct(COLUMN_CHUNK))),
    (2, T::I64),
    (3, T::I64),
    (
        4,
        T::List(&T::Struct(&[(1, T::I32), (2, T::Bool), (3, T::Bool)])),
    ),
    (5, T::I64),
    (6, T::I64),
    (7, T::I16),
];
const COLUMN_CHUNK: &Fields = &[
    (1, T::Binary),
    (2, T::I64),
    (3, T::Struct(COLUMN_META_DATA)),
    (4, T::I64),
    (5, T::I32),
    (6, T::I64),
    (7, T::I32),
    (
        8,
        T::Struct(&[
            (1, T::Struct(EMPTY)),
            (2, T::Struct(&[(1, T::List(&T::Binary)), (2, T::Binary)])),
        ]),
    ),
    (9, T::Binary),
];
const COLUMN_META_DATA: &Fields = &[
    (1, T::I32),
    (2, T::List(&T::I32)),
    (3, T::List(&T::Binary)),
    (4, T::I32),
    (5, T::I64),
    (6, T::I64),
    (7, T::I64),
    (8, T::List(&T::Struct(KEY_VALUE))),
    (9, T::I64),
    (10, T::I64),
    (11, T::I64),
    (12, T::Struct(STATISTICS)),
    (
        13,
        T::List(&T::Struct(&[(1, T::I32), (2, T::I32), (3, T::I32)])),
    ),
    (14, T::I64),
    (15, T::I32),
    (
        16,
        T::Struct(&[(1, T::I64), (2, T::List(&T::I64)), (3, T::List(&T::I64))]),
    ),
    (
        17,
        T::Struct(&[(1, T::Struct(BOUNDING_BOX)), (2, T::List(&T::I32))]),
    ),
];
const STATISTICS: &Fields = &[
    (1, T::Binary),
    (2, T::Binary),
    (3, T::I64),
    (4, T::I64),
    (5, T::Binary),
    (6, T::Binary),
    (7, T::Bool),
    (8, T::Bool),
];
const BOUNDING_BOX: &Fields = &[
    (1, T::Double),
    (2, T::Double),
    (3, T::Double),
    (4, T::Double),
    (5, T::Double),
    (6, T::Double),
    (7, T::Double),
    (8, T::Double),
];
const KEY_VALUE: &Fields = &[(1, T::Binary), (2, T::Binary)];
const COLUMN_ORDER: &Fields = &[(1, T::Struct(EMPTY))];
const AES_GCM: &Fields = &[(1, T::Binary), (2, T::Binary), (3, T::Bool)];
const ENCRYPTION_ALGORITHM: &Fields = &[(1, T::Struct(AES_GCM)), (2, T::Struct(AES_GCM))];

/// One schema element as far as the bounds need it.
struct Element {
    num_children: Option<i64>,
    name_len: u64,
}

struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The elements of the first `FileMetaData.schema`, the only one the decoder builds a schema
    /// from (it skips a repeated field 2).
    schema: Option<Vec<Element>>,
    /// The last `FileMetaData.num_rows` and `row_groups` count, as the decoder keeps them.
    num_rows: Option<i64>,
    row_groups: Option<usize>,
    /// What is left of [`reserve_budget`].
    budget: u64,
}

impl<'a> Walk<'a> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, Refused> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| refused(format!("ends inside a value at byte {}", self.pos)))?;
        self.pos += 1;
        Ok(b)
    }

    fn skip(&mut self, n: usize) -> Result<(), Refused> {
        if n > self.left() {
            return Err(refused(format!(
                "declares {n} bytes at byte {} where {} remain",
                self.pos,
                self.left()
            )));
        }
        self.pos += n;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Refused> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(refused(format!(
                    "varint overflows 64 bits at byte {}",
                    self.pos
                )));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(refused(format!(
            "varint longer than 10 bytes at byte {}",
            self.pos
        )))
    }

    fn zigzag(&mut self) -> Result<i64, Refused> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn binary(&mut self) -> Result<u64, Refused> {
        let n = self.varint()?;
        self.skip(usize::try_from(n).map_err(|_| refused("binary length overflows"))?)?;
        Ok(n)
    }

    /// A list header: its element wire type and a count the bytes left can hold, `min` bytes
    /// per element. `None` for the zero byte some writers spell an empty list with.
    fn list_header(&mut self, min: usize) -> Result<Option<(u8, usize)>, Refused> {
        let header = self.byte()?;
        if header == 0 {
            return Ok(None);
        }
        let declared = match header >> 4 {
            15 => self.varint()?,
            n => u64::from(n),
        };
        let fits = usize::try_from(declared)
            .ok()
            .filter(|&n| n.checked_mul(min).is_some_and(|bytes| bytes <= self.left()));
        match fits {
            Some(n) => Ok(Some((header & 0x0f, n))),
            None => Err(refused(format!(
                "declares {declared} elements at byte {} where {} bytes remain",
                self.pos,
                self.left()
            ))),
        }
    }

    /// A field header: `None` at the structure's end, else the wire type and the id, computed as
    /// the decoder computes it (a 4-bit delta added to the last id, or a full i16).
    fn field(&mut self, last: i16) -> Result<Option<(u8, i16)>, Refused> {
        let header = self.byte()?;
        let w = header & 0x0f;
        if w == wire::STOP {
            return Ok(None);
        }
        let id = match header >> 4 {
            0 => self.zigzag()? as i16,
            delta => last
                .checked_add(i16::from(delta))
                .ok_or_else(|| refused(format!("field id overflows at byte {}", self.pos)))?,
        };
        Ok(Some((w, id)))
    }

    /// Charges a list of `n` elements the decoder reserves a vector for.
    fn reserve(&mut self, n: usize, structures: bool) -> Result<(), Refused> {
        let each = if structures { RESERVE_PER_STRUCT } else { 24 };
        match self.budget.checked_sub(n as u64 * each) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(beyond_limit(format!(
                "its lists would have the decoder reserve more than {} bytes for a {}-byte footer",
                reserve_budget(self.buf.len()),
                self.buf.len()
            ))),
        }
    }

    fn depth_ok(depth: usize) -> Result<(), Refused> {
        if depth > MAX_THRIFT_DEPTH {
            return Err(beyond_limit(format!(
                "structures nest deeper than {MAX_THRIFT_DEPTH} levels"
            )));
        }
        Ok(())
    }

    /// A value of a known type, read as the decoder reads it.
    fn typed(&mut self, t: T, depth: usize) -> Result<(), Refused> {
        Self::depth_ok(depth)?;
        match t {
            // A bool field's value is its header's wire type; none is ever a list element.
            T::Bool => Ok(()),
            T::I8 => self.skip(1),
            T::I16 | T::I32 | T::I64 => self.varint().map(drop),
            T::Double => self.skip(8),
            T::Binary => self.binary().map(drop),
            T::List(element) => {
                let min = if matches!(element, T::Double) { 8 } else { 1 };
                let Some((w, n)) = self.list_header(min)? else {
                    return Ok(());
                };
                if !element.wire_matches(w) {
                    return Err(refused(format!(
                        "a list's elements have wire type {w}, not the format's, at byte {}",
                        self.pos
                    )));
                }
                self.reserve(n, matches!(element, T::Struct(_)))?;
                for _ in 0..n {
                    self.typed(*element, depth + 1)?;
                }
                Ok(())
            }
            T::Struct(fields) => self.structure(fields, depth, false),
        }
    }

    /// A structure; `top` for the `FileMetaData` itself, whose field 2 is the schema.
    fn structure(
        &mut self,
        fields: &'static Fields,
        depth: usize,
        top: bool,
    ) -> Result<(), Refused> {
        let mut last = 0i16;
        while let Some((w, id)) = self.field(last)? {
            last = id;
            match fields.iter().find(|(known, _)| *known == id) {
                Some(&(_, t)) if !t.wire_matches(w) => {
                    return Err(refused(format!(
                        "field {id} has wire type {w}, not the format's, at byte {}",
                        self.pos
                    )));
                }
                Some(_) if top && id == 3 => self.num_rows = Some(self.zigzag()?),
                Some(_) if top && id == 4 => {
                    let mut n = 0;
                    if let Some((w, declared)) = self.list_header(1)? {
                        if w != wire::STRUCT {
                            return Err(refused("the row groups are not structures"));
                        }
                        self.reserve(declared, true)?;
                        for _ in 0..declared {
                            self.structure(ROW_GROUP, depth + 2, false)?;
                        }
                        n = declared;
                    }
                    self.row_groups = Some(n);
                }
                Some(_) if top && id == 2 => {
                    if self.schema.is_some() {
                        self.skipped(w, depth + 1)?;
                    } else {
                        self.schema_list(depth + 1)?;
                    }
                }
                Some(&(_, t)) => self.typed(t, depth + 1)?,
                None => self.skipped(w, depth + 1)?,
            }
        }
        Ok(())
    }

    /// `FileMetaData.schema`, keeping what the bounds on the schema tree need.
    fn schema_list(&mut self, depth: usize) -> Result<(), Refused> {
        let mut elements = Vec::new();
        if let Some((w, n)) = self.list_header(1)? {
            if w != wire::STRUCT {
                return Err(refused("the schema's elements are not structures"));
            }
            self.reserve(n, true)?;
            for _ in 0..n {
                Self::depth_ok(depth + 1)?;
                let mut element = Element {
                    num_children: None,
                    name_len: 0,
                };
                let mut last = 0i16;
                while let Some((w, id)) = self.field(last)? {
                    last = id;
                    match SCHEMA_ELEMENT.iter().find(|(known, _)| *known == id) {
                        Some(&(_, t)) if !t.wire_matches(w) => {
                            return Err(refused(format!(
                                "schema field {id} has wire type {w}, not the format's, at byte {}",
                                self.pos
                            )));
                        }
                        Some(_) if id == 4 => element.name_len = self.binary()?,
                        Some(_) if id == 5 => element.num_children = Some(self.zigzag()?),
                        Some(&(_, t)) => self.typed(t, depth + 2)?,
                        None => self.skipped(w, depth + 2)?,
                    }
                }
                elements.push(element);
            }
        }
        self.schema = Some(elements);
        Ok(())
    }

    /// A field the decoder does not know, skipped by its wire type exactly as the decoder skips:
    /// a bool list element takes no byte there, and sets, maps and uuids are errors.
    fn skipped(&mut self, w: u8, depth: usize) -> Result<(), Refused> {
        Self::depth_ok(depth)?;
        match w {
            wire::TRUE | wire::FALSE => Ok(()),
            wire::BYTE => self.skip(1),
            wire::I16 | wire::I32 | wire::I64 => self.varint().map(drop),
            wire::DOUBLE => self.skip(8),
            wire::BINARY => self.binary().map(drop),
            wire::LIST => {
                let Some((element, n)) = self.list_header(1)? else {
                    return Ok(());
                };
                for _ in 0..n {
                    self.skipped(element, depth + 1)?;
                }
                Ok(())
            }
            wire::STRUCT => {
                let mut last = 0i16;
                while let Some((w, id)) = self.field(last)? {
                    last = id;
                    self.skipped(w, depth + 1)?;
                }
                Ok(())
            }
            other => Err(refused(format!(
                "wire type {other} at byte {}, which no footer holds",
                self.pos
            ))),
        }
    }
}

/// What the walk read, for comparing with what the decoder then decodes: they must agree, or
/// the walk did not read the bytes as the decoder did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The last `num_rows` field.
    pub num_rows: Option<i64>,
    /// Elements of the last `row_groups` field.
    pub row_groups: Option<usize>,
    /// Leaf columns of the schema's tree.
    pub leaves: usize,
}

/// Checks a footer's Thrift bytes (the `FileMetaData`, without the 8-byte tail) before decoding.
///
/// # Errors
///
/// [`Refused`], saying which bound the bytes break.
pub fn check(buf: &[u8]) -> Result<Shape, Refused> {
    let mut walk = Walk {
        buf,
        pos: 0,
        schema: None,
        num_rows: None,
        row_groups: None,
        budget: reserve_budget(buf.len()),
    };
    walk.structure(FILE_META_DATA, 0, true)?;
    let leaves = schema_tree(walk.schema.as_deref().unwrap_or_default())?;
    Ok(Shape {
        num_rows: walk.num_rows,
        row_groups: walk.row_groups,
        leaves,
    })
}

/// The schema is a tree written depth first: each group's `num_children` children follow it. Any
/// count must fit in the elements that follow, the nesting must stay under the limit, and so must
/// the bytes of the leaves' column paths. Returns the number of leaves under the root.
fn schema_tree(elements: &[Element]) -> Result<usize, Refused> {
    let mut leaves = 0;
    // Each open group: children still owed, and the path bytes its descendants inherit.
    let mut open: Vec<(u64, u64)> = Vec::new();
    let mut path_bytes: u64 = 0;
    for (i, e) in elements.iter().enumerate() {
        if let Some((owed, _)) = open.last_mut() {
            *owed -= 1;
        }
        let inherited = open.last().map_or(0, |&(_, bytes)| bytes);
        // A Vec<String> entry: the name plus the String's own 24 bytes.
        let own = if i == 0 { 0 } else { e.name_len + 24 };
        let after = (elements.len() - i - 1) as u64;
        match e.num_children {
            Some(n) if n < 0 => {
                return Err(refused(format!("schema element {i} declares {n} children")));
            }
            Some(n) if n as u64 > after => {
                return Err(refused(format!(
                    "schema element {i} declares {n} children where {after} elements follow"
                )));
            }
            Some(n) if n > 0 => {
                open.push((n as u64, inherited + own));
                if open.len() > MAX_SCHEMA_DEPTH {
                    return Err(beyond_limit(format!(
                        "schema nests deeper than {MAX_SCHEMA_DEPTH} levels"
                    )));
                }
            }
            // A leaf (or an empty group): its path holds every ancestor's name and its own.
            _ => {
                // Only what hangs under the root is a column (elements after it are not read).
                if i > 0 && !open.is_empty() && e.num_children.is_none() {
                    leaves += 1;
                }
                path_bytes = path_bytes.saturating_add(inherited + own);
                if path_bytes > MAX_PATH_BYTES {
                    return Err(beyond_limit(format!(
                        "the schema's column paths would take more than {MAX_PATH_BYTES} bytes"
                    )));
                }
            }
        }
        while open.last().is_some_and(|&(owed, _)| owed == 0) {
            open.pop();
        }
        if i == 0 && open.is_empty() {
            // A root without children: an empty schema, and nothing after it is read.
            break;
        }
        if open.is_empty() {
            break;
        }
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compact-protocol bytes for a `FileMetaData` whose schema is `elements` (name, num_children).
    fn footer(elements: &[(&str, Option<i32>)]) -> Vec<u8> {
        let mut b = vec![0x15, 0x02]; // field 1 (version) i32 = 1
        b.push(0x19); // field 2 (schema), list
        if elements.len() < 15 {
            b.push(((elements.len() as u8) << 4) | 12);
        } else {
            b.push(0xf0 | 12);
            let mut n = elements.len();
            while n >= 0x80 {
                b.push((n as u8 & 0x7f) | 0x80);
                n >>= 7;
            }
            b.push(n as u8);
        }
        for (name, n) in elements {
            b.push(0x48); // field 4 (name), binary
            b.push(name.len() as u8);
            b.extend_from_slice(name.as_bytes());
            if let Some(n) = n {
                b.push(0x15); // field 5 (num_children), i32
                b.push(((n << 1) ^ (n >> 31)) as u8);
            }
            b.push(0);
        }
        b.extend_from_slice(&[0x16, 0x00]); // field 3 (num_rows) i64 = 0
        b.push(0);
        b
    }

    #[test]
    fn a_flat_schema_passes() {
        let f = footer(&[("root", Some(2)), ("a", None), ("b", None)]);
        let shape = check(&f).unwrap();
        assert_eq!(shape.leaves, 2);
        assert_eq!(shape.num_rows, Some(0));
        assert_eq!(shape.row_groups, None);
    }

    /// The fuzzer's second find: a schema element's field 10 (an i32 `precision` neighbour) sent
    /// with a bool wire type. The decoder reads a known field by its own type, so a walk by wire
    /// type would have read other bytes than the decoder.
    #[test]
    fn a_known_field_with_another_wire_type_is_refused() {
        let ok = footer(&[("root", Some(1)), ("a", None)]);
        assert!(check(&ok).is_ok());
        // version (field 1) as a bool instead of an i32.
        let mut bad = ok.clone();
        bad[0] = 0x11;
        bad.remove(1);
        let err = check(&bad).unwrap_err();
        assert!(err.to_string().contains("field 1 has wire type 1"), "{err}");
        assert!(!err.is_limit());
    }

    #[test]
    fn an_unknown_field_is_skipped_as_the_decoder_skips_it() {
        // Field 15 of FileMetaData, unknown to the format: a list of three bools, whose elements
        // the decoder's skip consumes no bytes for; then num_rows (field 3, long form) = 7.
        let mut f = footer(&[("root", Some(1)), ("a", None)]);
        f.pop();
        f.extend_from_slice(&[0xc9, 0x31]); // field 3 + 12 = 15, list of 3 bools, no bytes
        f.extend_from_slice(&[0x06, 0x06, 0x0e]); // field 3 (long form), i64 7
        f.push(0);
        assert_eq!(check(&f).unwrap().num_rows, Some(7));
    }

    #[test]
    fn a_list_longer_than_the_bytes_is_refused() {
        // FileMetaData field 4 (row_groups): a list header declaring 2^31-1 structs, then nothing.
        let mut f = footer(&[("root", Some(1)), ("a", None)]);
        f.pop();
        f.extend_from_slice(&[0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]);
        let err = check(&f).unwrap_err();
        assert!(!err.is_limit());
        assert!(
            err.to_string().contains("declares 2147483647 elements"),
            "{err}"
        );
        // Control: the same footer with the list empty passes.
        let mut ok = footer(&[("root", Some(1)), ("a", None)]);
        ok.pop();
        ok.extend_from_slice(&[0x19, 0x0c, 0x00]);
        assert!(check(&ok).is_ok());
    }

    #[test]
    fn lists_of_empty_structures_are_charged_against_the_footer_length() {
        // FileMetaData field 15 is unknown, so a list there is skipped, never reserved: any
        // count the bytes hold passes. A key_value_metadata list (field 5) of as many empty
        // structures is reserved, and over budget.
        // Each element is one byte, so the footer is about `many` bytes long.
        let many = (reserve_budget(0) / (RESERVE_PER_STRUCT - 16)) as usize + 1;
        let list = |field: u8| {
            let mut f = footer(&[("root", Some(1)), ("a", None)]);
            f.pop();
            f.push(field);
            f.push(0xfc);
            let mut n = many;
            while n >= 0x80 {
                f.push((n as u8 & 0x7f) | 0x80);
                n >>= 7;
            }
            f.push(n as u8);
            f.extend(std::iter::repeat_n(0, many + 1));
            f
        };
        assert!(check(&list(0xc9)).is_ok(), "field 15, skipped");
        let err = check(&list(0x29)).unwrap_err();
        assert!(err.is_limit(), "{err}");
        assert!(err.to_string().contains("reserve more than"), "{err}");
    }

    #[test]
    fn num_children_beyond_the_elements_is_refused() {
        let bad = footer(&[("root", Some(3)), ("a", None), ("b", None)]);
        let err = check(&bad).unwrap_err().to_string();
        assert!(
            err.contains("declares 3 children where 2 elements follow"),
            "{err}"
        );
        let negative = footer(&[("root", Some(-1)), ("a", None)]);
        assert!(
            check(&negative)
                .unwrap_err()
                .to_string()
                .contains("-1 children")
        );
    }

    #[test]
    fn schema_nesting_is_bounded() {
        let deep = |levels: usize| {
            let mut e: Vec<(&str, Option<i32>)> = vec![("g", Some(1)); levels];
            e.push(("leaf", None));
            footer(&e)
        };
        assert!(check(&deep(MAX_SCHEMA_DEPTH)).is_ok());
        let err = check(&deep(MAX_SCHEMA_DEPTH + 1)).unwrap_err();
        assert!(err.is_limit());
        assert!(err.to_string().contains("nests deeper"), "{err}");
    }

    #[test]
    fn thrift_nesting_is_bounded() {
        // An unknown field 15 holding structs inside structs, far deeper than any footer.
        let mut f = vec![0xfc];
        f.extend(std::iter::repeat_n(0x1c, 99));
        f.extend(std::iter::repeat_n(0, 101));
        assert!(check(&f).unwrap_err().to_string().contains("nest deeper"));
        let mut shallow = vec![0xfc];
        shallow.extend(std::iter::repeat_n(0x1c, 9));
        shallow.extend(std::iter::repeat_n(0, 11));
        assert!(check(&shallow).is_ok());
    }

    #[test]
    fn truncation_is_refused_not_panicked() {
        let f = footer(&[("root", Some(2)), ("a", None), ("b", None)]);
        for cut in 0..f.len() {
            assert!(check(&f[..cut]).is_err(), "prefix of {cut} bytes passed");
        }
    }
}
