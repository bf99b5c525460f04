//! [`LoadError`]: one problem in an input file (scenario, spec or target), with `file:line:col`,
//! the path inside the document, and what was expected; rendered in one place.
//!
//! ```text
//! error: invalid scenario
//!   --> scenarios/demo/basic.yaml:14:23
//!    |
//! 14 |     expect: { status: fourohone }
//!    |                       ^ expected an HTTP status code (100–599), found the string "fourohone"
//!    |
//!    = at scenarios[0].steps[2].expect.status
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of file a [`LoadError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A file under `scenarios/`.
    Scenario,
    /// A file under `specs/`.
    Spec,
    /// A target file.
    Target,
    /// A waivers file.
    Waivers,
}

impl InputKind {
    fn noun(self) -> &'static str {
        match self {
            InputKind::Scenario => "scenario",
            InputKind::Spec => "spec",
            InputKind::Target => "target",
            InputKind::Waivers => "waivers",
        }
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One problem found while loading an input file.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// What kind of file it is.
    pub input: InputKind,
    /// The file, as given (relative paths stay relative).
    pub file: PathBuf,
    /// Where in the file, when known.
    pub location: Option<Location>,
    /// The path inside the document, e.g. `scenarios[0].steps[2].expect.status`.
    pub path: Option<String>,
    /// What was wrong and what was expected, a lowercase fragment.
    pub message: String,
    /// The text of the line at `location`, for the caret display.
    pub source_line: Option<String>,
}

impl LoadError {
    /// Creates an error about `file` with no position yet.
    pub fn new(input: InputKind, file: &Path, message: impl Into<String>) -> Self {
        Self {
            input,
            file: file.to_owned(),
            location: None,
            path: None,
            message: message.into(),
            source_line: None,
        }
    }

    /// Sets the path inside the document.
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if !path.is_empty() && path != "." {
            self.path = Some(path);
        }
        self
    }

    /// Sets the position, taking the source line from `text`.
    pub fn at_location(mut self, text: &str, location: Location) -> Self {
        self.source_line = text
            .lines()
            .nth(location.line.saturating_sub(1))
            .map(printable);
        self.location = Some(location);
        self
    }

    /// Sets the path inside the document and its position from `index`.
    pub fn at(self, index: &SpanIndex, text: &str, path: impl Into<String>) -> Self {
        let path = path.into();
        let location = index.locate(text, &path);
        let mut error = self.at_path(path);
        if let Some(location) = location {
            // Many errors in a long file must not each rescan it for their line.
            error.source_line = index.source_line(text, location.line).map(printable);
            error.location = Some(location);
        }
        error
    }
}

/// Reads an input file as YAML text, refusing what YAML cannot hold with the position of the
/// first offending byte: UTF-16 (1:1), bytes that are not UTF-8, and characters YAML forbids
/// (NUL and other control characters). The YAML parser would report these without a position,
/// or at 1:1.
pub fn read_input(input: InputKind, file: &Path) -> Result<String, Box<LoadError>> {
    let bytes = std::fs::read(file).map_err(|e| {
        LoadError::new(
            input,
            file,
            format!("cannot read the {}: {e}", input.noun()),
        )
    })?;
    decode_input(input, file, bytes)
}

/// Checks the bytes of an input file, as [`read_input`] does.
pub fn decode_input(
    input: InputKind,
    file: &Path,
    bytes: Vec<u8>,
) -> Result<String, Box<LoadError>> {
    let start = Location { line: 1, column: 1 };
    // A BOM, or (as YAML 1.2 §5.2 detects it) a NUL next to the first ASCII character.
    let utf16 = match bytes.as_slice() {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => true,
        head => {
            let pairs: Vec<&[u8]> = head[..head.len().min(8)].chunks_exact(2).collect();
            let little = pairs.iter().all(|p| p[0] != 0 && p[1] == 0);
            let big = pairs.iter().all(|p| p[0] == 0 && p[1] != 0);
            pairs.len() >= 2 && (little || big)
        }
    };
    if utf16 {
        let mut error = LoadError::new(input, file, "file is UTF-16: save it as UTF-8");
        error.location = Some(start);
        return Err(Box::new(error));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[offset];
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let valid = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
            let mut error = LoadError::new(
                input,
                file,
                format!("invalid UTF-8 (byte 0x{byte:02X}): save the file as UTF-8"),
            );
            error.location = Some(offset_location(&valid, valid.len()));
            error.source_line = error
                .location
                .and_then(|l| lossy.lines().nth(l.line - 1))
                .map(printable);
            return Err(Box::new(error));
        }
    };
    if let Some((offset, c)) = text.char_indices().find(|(_, c)| !yaml_printable(*c)) {
        let error = LoadError::new(
            input,
            file,
            format!(
                "character U+{:04X} is not allowed in YAML (a control character): remove it",
                u32::from(c)
            ),
        )
        .at_location(&text, offset_location(&text, offset));
        return Err(Box::new(error));
    }
    Ok(text)
}

/// Returns true for a character YAML 1.2 allows in a stream (`c-printable`, §5.1).
fn yaml_printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Replaces characters a terminal would act on, so a source line shows as it reads.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c == '\t' || yaml_printable(c) {
                c
            } else {
                '\u{FFFD}'
            }
        })
        .collect()
}

/// Returns where the second document of a YAML stream starts (its `---`), when there is one.
pub fn second_document(text: &str) -> Option<Location> {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut documents = 0;
    while let Some(Ok((event, span))) = parser.next_event() {
        if matches!(event, saphyr_parser::Event::DocumentStart(_)) {
            documents += 1;
            if documents == 2 {
                let offsets = CharOffsets::new(text);
                return Some(offset_location(text, offsets.byte(span.start.index())));
            }
        }
    }
    None
}

/// Converts a byte offset to a 1-based line and column (columns count characters).
pub fn offset_location(text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

/// Where each node of a YAML document starts, by document path (`scenarios[0].steps[1].expect`),
/// so checks made after deserializing point at the exact line and column of what they are about.
///
/// A scalar is located at its value; a mapping or sequence under a key at the key.
///
/// Building it only looks for keys given twice, streaming the parser's events; the table of
/// every node's position is made at the first lookup, for the files that have an error to
/// locate, so a valid file never holds a path and a position for each of its nodes.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    located: std::cell::OnceCell<Located>,
    /// Keys given twice in one mapping, in document order.
    duplicates: Vec<DuplicateKey>,
    root_sequence: Option<RootSequence>,
}

/// Every node's position and the line starts of one text, built on the first lookup.
#[derive(Debug, Clone, Default)]
struct Located {
    locations: std::collections::HashMap<String, Location>,
    /// Byte offset of each line of the indexed text, for the source line an error shows.
    line_starts: Vec<usize>,
}

/// A key given a second time in one mapping. Deserializing keeps one of the two silently (a
/// map keeps the last), so a check written twice would lose one without a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key.
    pub key: String,
    /// The document path of the key, as errors show it.
    pub path: String,
    /// Where the second occurrence is.
    pub at: Location,
    /// Where the first one is.
    pub first: Location,
}

impl SpanIndex {
    /// Indexes `text` (the same text must be handed to every lookup); a document that does not
    /// parse gives an empty index.
    ///
    /// Linear in the size of `text`, and holding no more than one open mapping's keys per level
    /// of nesting.
    pub fn build(text: &str) -> Self {
        let (duplicates, root_sequence) = DuplicateWalk::run(text);
        Self {
            located: std::cell::OnceCell::new(),
            duplicates,
            root_sequence,
        }
    }

    /// Returns where the items start when the document is a mapping of one key to a sequence,
    /// in one document without anchors, aliases or tags and without a syntax error; `None`
    /// otherwise.
    pub fn root_sequence(&self) -> Option<&RootSequence> {
        self.root_sequence.as_ref()
    }

    fn located(&self, text: &str) -> &Located {
        self.located.get_or_init(|| Located::build(text))
    }

    /// Returns line `line` (1-based) of `text`, the text this index was built from, as
    /// `str::lines` gives it, without scanning the lines before it.
    fn source_line<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let line_starts = &self.located(text).line_starts;
        let start = *line_starts.get(line.checked_sub(1)?)?;
        if start == text.len() {
            // After a final newline `str::lines` sees no line.
            return None;
        }
        let end = line_starts.get(line).map_or(text.len(), |next| next - 1);
        let line = text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    /// Returns the keys given twice in one mapping.
    pub fn duplicate_keys(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// Returns one error per key given twice in one mapping, at its second occurrence.
    pub fn duplicate_key_errors(
        &self,
        input: InputKind,
        file: &Path,
        text: &str,
    ) -> Vec<LoadError> {
        self.duplicates
            .iter()
            .map(|duplicate| {
                let key = &duplicate.key;
                LoadError::new(
                    input,
                    file,
                    format!(
                        "duplicate key `{key}`: already given at line {}, column {}; a mapping \
                         holds each key once, and the other would be ignored without a word",
                        duplicate.first.line, duplicate.first.column
                    ),
                )
                .at_path(duplicate.path.clone())
                .at_location(text, duplicate.at)
            })
            .collect()
    }

    /// Returns the location of exactly `path` in `text`, when indexed.
    pub fn exact(&self, text: &str, path: &str) -> Option<Location> {
        self.located(text).locations.get(path).copied()
    }

    /// Returns the location of `path` in `text`, or of its nearest indexed ancestor.
    pub fn locate(&self, text: &str, path: &str) -> Option<Location> {
        let locations = &self.located(text).locations;
        let mut path = path;
        loop {
            if let Some(location) = locations.get(path) {
                return Some(*location);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

impl Located {
    /// Walks every event of `text`, recording each node's position by document path.
    fn build(text: &str) -> Self {
        let mut parser = saphyr_parser::Parser::new_from_str(text);
        let mut events = Vec::new();
        while let Some(Ok((event, span))) = parser.next_event() {
            events.push((event, span.start.index()));
        }
        let mut located = Located::default();
        let positions = Positions::new(text);
        let mut position = 0;
        // Skip StreamStart and DocumentStart.
        while position < events.len()
            && matches!(
                events[position].0,
                saphyr_parser::Event::StreamStart | saphyr_parser::Event::DocumentStart(_)
            )
        {
            position += 1;
        }
        located.node(&events, &mut position, String::new(), None, &positions);
        located.line_starts = positions.line_starts;
        located
    }

    fn node(
        &mut self,
        events: &[(saphyr_parser::Event<'_>, usize)],
        position: &mut usize,
        path: String,
        key_at: Option<Location>,
        positions: &Positions<'_>,
    ) {
        use saphyr_parser::Event;
        let Some((event, at)) = events.get(*position) else {
            return;
        };
        let here = positions.of_char(*at);
        *position += 1;
        match event {
            Event::Scalar(..) | Event::Alias(_) => {
                self.locations.insert(path, here);
            }
            Event::SequenceStart(..) => {
                self.locations.insert(path.clone(), key_at.unwrap_or(here));
                let mut i = 0;
                while let Some((event, _)) = events.get(*position) {
                    if matches!(event, Event::SequenceEnd) {
                        *position += 1;
                        break;
                    }
                    self.node(events, position, format!("{path}[{i}]"), None, positions);
                    i += 1;
                }
            }
            Event::MappingStart(..) => {
                self.locations.insert(path.clone(), key_at.unwrap_or(here));
                while let Some((event, key_offset)) = events.get(*position) {
                    match event {
                        Event::MappingEnd => {
                            *position += 1;
                            break;
                        }
                        Event::Scalar(key, ..) => {
                            let key_location = positions.of_char(*key_offset);
                            *position += 1;
                            let child = if path.is_empty() {
                                key.to_string()
                            } else {
                                format!("{path}.{key}")
                            };
                            self.node(events, position, child, Some(key_location), positions);
                        }
                        _ => {
                            // A complex key: index neither it nor its value.
                            self.node(events, position, format!("{path}.?"), None, positions);
                            self.node(events, position, format!("{path}.?"), None, positions);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Finds the keys given twice in one mapping while the parser streams its events: only the
/// keys of the mappings still open are kept, each with its character index, and positions are
/// worked out for the duplicates alone. The same pass notes whether the document is one list
/// under one key, and where its items start (see [`SpanIndex::root_sequence`]).
struct DuplicateWalk<'t> {
    parser: saphyr_parser::Parser<'t, saphyr_parser::StrInput<'t>>,
    /// The document path of the node being read, grown and cut back as the walk descends.
    path: String,
    /// Key tables of closed mappings, reused so that a mapping costs no allocation.
    spare: Vec<std::collections::HashMap<std::borrow::Cow<'t, str>, usize>>,
    /// (key, path, character index of the second occurrence, of the first).
    found: Vec<(String, String, usize, usize)>,
    /// Set at a syntax error: the walk stops there, as deserializing would.
    failed: bool,
    /// False once an anchor, an alias or a tag is seen: a node could then depend on another.
    plain: bool,
    /// The deepest nesting seen.
    max_depth: usize,
    /// The keys of the root mapping.
    root_keys: Vec<String>,
    /// The character index of each item of the sequence under the root mapping's key.
    items: Option<Vec<usize>>,
}

/// A document that is a mapping of one key to a sequence, without anchors, aliases or tags:
/// each item can be read on its own, as a document of the text from its line to the next
/// item's (see [`SpanIndex::root_sequence`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSequence {
    /// The root mapping's only key.
    pub key: String,
    /// The byte offset where each item's node starts, in document order.
    pub items: Vec<usize>,
}

/// Nesting deeper than this reads the whole document at once, where the YAML deserializer's own
/// depth limit applies to the document as written.
const MAX_ITEM_DEPTH: usize = 64;

impl<'t> DuplicateWalk<'t> {
    fn run(text: &'t str) -> (Vec<DuplicateKey>, Option<RootSequence>) {
        let mut walk = DuplicateWalk {
            parser: saphyr_parser::Parser::new_from_str(text),
            path: String::new(),
            spare: Vec::new(),
            found: Vec::new(),
            failed: false,
            plain: true,
            max_depth: 0,
            root_keys: Vec::new(),
            items: None,
        };
        // The first node after StreamStart and DocumentStart is the document's root.
        while let Some((event, _)) = walk.next() {
            if !matches!(
                event,
                saphyr_parser::Event::StreamStart | saphyr_parser::Event::DocumentStart(_)
            ) {
                walk.node(event, 0);
                break;
            }
        }
        // A second document is refused when deserializing; its items are not the root's.
        let mut single_document = true;
        while let Some((event, _)) = walk.next() {
            if matches!(event, saphyr_parser::Event::DocumentStart(_)) {
                single_document = false;
            }
        }
        let root_sequence = match (walk.items.take(), walk.root_keys.as_slice()) {
            (Some(items), [key])
                if single_document
                    && walk.plain
                    && !walk.failed
                    && walk.max_depth <= MAX_ITEM_DEPTH =>
            {
                Some(RootSequence {
                    key: key.clone(),
                    items: byte_offsets(text, &items),
                })
            }
            _ => None,
        };
        if walk.found.is_empty() {
            return (Vec::new(), root_sequence);
        }
        let positions = Positions::new(text);
        let duplicates = walk
            .found
            .into_iter()
            .map(|(key, path, at, first)| DuplicateKey {
                key,
                path,
                at: positions.of_char(at),
                first: positions.of_char(first),
            })
            .collect();
        (duplicates, root_sequence)
    }

    /// Returns the next event and the character index it starts at; `None` at the end of the
    /// stream or at a syntax error (what came before it is still checked).
    fn next(&mut self) -> Option<(saphyr_parser::Event<'t>, usize)> {
        use saphyr_parser::Event;
        if self.failed {
            return None;
        }
        match self.parser.next_event()? {
            Ok((event, span)) => {
                let plain = match &event {
                    Event::Alias(_) => false,
                    Event::Scalar(_, _, anchor, tag)
                    | Event::SequenceStart(anchor, tag)
                    | Event::MappingStart(anchor, tag) => *anchor == 0 && tag.is_none(),
                    _ => true,
                };
                self.plain &= plain;
                Some((event, span.start.index()))
            }
            Err(_) => {
                self.failed = true;
                None
            }
        }
    }

    fn node(&mut self, event: saphyr_parser::Event<'t>, depth: usize) {
        use saphyr_parser::Event;
        use std::fmt::Write as _;
        self.max_depth = self.max_depth.max(depth);
        match event {
            Event::SequenceStart(..) => {
                // The sequence under the root mapping's key.
                let mut items =
                    (depth == 1 && self.path.len() == self.root_keys_path_len()).then(Vec::new);
                let base = self.path.len();
                let mut i = 0;
                while let Some((event, at)) = self.next() {
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    if let Some(items) = &mut items {
                        items.push(at);
                    }
                    let _ = write!(self.path, "[{i}]");
                    self.node(event, depth + 1);
                    self.path.truncate(base);
                    i += 1;
                }
                if items.is_some() {
                    self.items = items;
                }
            }
            Event::MappingStart(..) => {
                let base = self.path.len();
                let mut keys = self.spare.pop().unwrap_or_default();
                while let Some((event, at)) = self.next() {
                    match event {
                        Event::MappingEnd => break,
                        Event::Scalar(key, ..) => {
                            if depth == 0 {
                                self.root_keys.push(key.to_string());
                            }
                            if base > 0 {
                                self.path.push('.');
                            }
                            self.path.push_str(&key);
                            if let Some(first) = keys.insert(key, at) {
                                let key = self.path[base + usize::from(base > 0)..].to_owned();
                                self.found.push((key, self.path.clone(), at, first));
                            }
                            let Some((value, _)) = self.next() else {
                                break;
                            };
                            self.node(value, depth + 1);
                        }
                        key => {
                            // A complex key: compared with no other key.
                            if depth == 0 {
                                self.root_keys.push(String::new());
                            }
                            self.path.push_str(".?");
                            self.node(key, depth + 1);
                            let Some((value, _)) = self.next() else {
                                break;
                            };
                            self.node(value, depth + 1);
                        }
                    }
                    self.path.truncate(base);
                }
                self.path.truncate(base);
                keys.clear();
                self.spare.push(keys);
            }
            _ => {}
        }
    }

    /// The length of the path of the value of the root mapping's latest key: the key itself.
    fn root_keys_path_len(&self) -> usize {
        self.root_keys.last().map_or(usize::MAX, String::len)
    }
}

/// Converts increasing character indices of `text` to byte offsets in one pass.
fn byte_offsets(text: &str, char_indices: &[usize]) -> Vec<usize> {
    if text.is_ascii() {
        return char_indices.iter().map(|&i| i.min(text.len())).collect();
    }
    let mut chars = text.char_indices();
    let mut next_char = 0;
    let mut offsets = Vec::with_capacity(char_indices.len());
    for &index in char_indices {
        let Some(skip) = index.checked_sub(next_char) else {
            // Not increasing: no offsets at all rather than wrong ones.
            return Vec::new();
        };
        let byte = chars.nth(skip).map_or(text.len(), |(byte, _)| byte);
        next_char = index + 1;
        offsets.push(byte);
    }
    offsets
}

/// Converts character indices (what YAML parsers report) to byte offsets.
pub struct CharOffsets {
    /// The byte offset of each character; empty for ASCII text, where the two are equal.
    starts: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    /// Indexes the characters of `text`.
    pub fn new(text: &str) -> Self {
        let starts = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i).collect()
        };
        Self {
            starts,
            len: text.len(),
        }
    }

    /// Returns the byte offset of the `index`-th character (the end for indices past it).
    pub fn byte(&self, index: usize) -> usize {
        if self.starts.is_empty() {
            return index.min(self.len);
        }
        self.starts.get(index).copied().unwrap_or(self.len)
    }
}

/// Turns character indices and byte offsets of one text into lines and columns without rescanning
/// it: a table of line starts (lines end at `\n` only, as the source-line display counts them),
/// searched by bisection.
pub struct Positions<'a> {
    text: &'a str,
    chars: CharOffsets,
    line_starts: Vec<usize>,
}

impl<'a> Positions<'a> {
    /// Indexes the characters and lines of `text`.
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            text,
            chars: CharOffsets::new(text),
            line_starts,
        }
    }

    /// Returns the line and column of the `index`-th character.
    pub fn of_char(&self, index: usize) -> Location {
        self.of_byte(self.chars.byte(index))
    }

    /// Returns the line and column of a byte offset (clamped to the text, and back to the start
    /// of a character); columns count characters.
    pub fn of_byte(&self, offset: usize) -> Location {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        Location {
            line,
            column: self.text[line_start..offset].chars().count() + 1,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: invalid {}", self.input.noun())?;
        match self.location {
            Some(loc) => writeln!(
                f,
                "  --> {}:{}:{}",
                self.file.display(),
                loc.line,
                loc.column
            )?,
            None => writeln!(f, "  --> {}", self.file.display())?,
        }
        let gutter = self.location.map_or(1, |l| l.line.to_string().len()).max(1);
        let pad = " ".repeat(gutter);
        match (&self.location, &self.source_line) {
            (Some(loc), Some(line)) => {
                writeln!(f, "{pad} |")?;
                writeln!(f, "{} | {}", loc.line, line)?;
                let indent: String = line
                    .chars()
                    .take(loc.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{pad} | {indent}^ {}", self.message)?;
            }
            _ => {
                writeln!(f, "{pad} |")?;
                writeln!(f, "{pad} | {}", self.message)?;
            }
        }
        if let Some(path) = &self.path {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{pad} = at {path}")?;
        }
        Ok(())
    }
}

/// Every problem found in a set of input files.
#[derive(Debug, Clone, Default)]
pub struct LoadErrors(pub Vec<LoadError>);

impl LoadErrors {
    /// Returns true when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Renders every error, then a count.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for error in &self.0 {
            out.push_str(&error.to_string());
            out.push('\n');
        }
        let n = self.0.len();
        out.push_str(&format!(
            "error: {n} problem{} found in the input files\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for LoadErrors {}

/// Adds "Did you mean `x`?" to serde's "unknown field `y`, expected one of ..." messages.
pub fn suggest_field(message: &str) -> String {
    let kinds = ["unknown field `", "unknown variant `"];
    for kind in kinds {
        let Some(rest) = message.strip_prefix(kind) else {
            continue;
        };
        let Some(end) = rest.find('`') else {
            continue;
        };
        let wrong = &rest[..end];
        let candidates: Vec<&str> = rest[end + 1..].split('`').skip(1).step_by(2).collect();
        let best = candidates
            .iter()
            .map(|c| (strsim::levenshtein(wrong, c), *c))
            .filter(|(d, _)| *d <= 2)
            .min();
        if let Some((_, best)) = best {
            return format!("{message}. Did you mean `{best}`?");
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_caret_and_path() {
        let text = "a: 1\nexpect: { status: fourohone }\n";
        let spans = SpanIndex::build(text);
        let error = LoadError::new(
            InputKind::Scenario,
            Path::new("s.yaml"),
            "expected a status",
        )
        .at(&spans, text, "expect.status");
        let rendered = error.to_string();
        assert!(rendered.contains("--> s.yaml:2:19"), "{rendered}");
        assert!(
            rendered.contains("2 | expect: { status: fourohone }"),
            "{rendered}"
        );
        assert!(
            rendered.contains("                  ^ expected a status"),
            "{rendered}"
        );
        assert!(rendered.contains("= at expect.status"), "{rendered}");
    }

    fn decode(bytes: &[u8]) -> Result<String, (Option<(usize, usize)>, String)> {
        decode_input(InputKind::Scenario, Path::new("s.yaml"), bytes.to_vec())
            .map_err(|e| (e.location.map(|l| (l.line, l.column)), e.message))
    }

    #[test]
    fn undecodable_input_is_located() {
        let (at, message) = decode(b"a: 1\nb: x\0y\n").unwrap_err();
        assert_eq!(at, Some((2, 5)), "{message}");
        assert!(message.contains("U+0000"), "{message}");
        let (at, message) = decode(b"a: 1\nb: \xc3\xa9\xff\n").unwrap_err();
        assert_eq!(at, Some((2, 5)), "{message}");
        assert!(message.contains("0xFF"), "{message}");
        for utf16 in [
            &b"\xff\xfea\0:\0"[..],
            b"\xfe\xff\0a\0:",
            b"a\0:\0 \0x\0",
            b"\0a\0:\0 \0x",
        ] {
            let (at, message) = decode(utf16).unwrap_err();
            assert_eq!(at, Some((1, 1)), "{utf16:?}");
            assert!(
                message.contains("file is UTF-16: save it as UTF-8"),
                "{message}"
            );
        }
        assert_eq!(decode("a: é\tb\r\n".as_bytes()).unwrap(), "a: é\tb\r\n");
    }

    #[test]
    fn the_second_document_is_located_at_its_marker() {
        assert_eq!(second_document("a: 1\n"), None);
        assert_eq!(second_document("---\na: 1\n"), None);
        let at = second_document("# x\na: 1\n---\nb: 2\n").map(|l| (l.line, l.column));
        assert_eq!(at, Some((3, 1)));
    }

    #[test]
    fn suggests_the_nearest_field() {
        let m = suggest_field("unknown field `expct`, expected one of `name`, `request`, `expect`");
        assert!(m.ends_with("Did you mean `expect`?"), "{m}");
        let m = suggest_field("unknown field `usernme`, expected `username` or `password`");
        assert!(m.ends_with("Did you mean `username`?"), "{m}");
        let m = suggest_field("unknown field `zzzzzz`, expected one of `name`, `request`");
        assert!(!m.contains("Did you mean"), "{m}");
    }

    #[test]
    fn positions_agree_with_a_scan_from_the_start() {
        let text = "a: é\r\n\nb: [1, \"£\"]\n  c: \u{2028}x\n\u{1F600}: z";
        let positions = Positions::new(text);
        for (char_index, (offset, _)) in text.char_indices().enumerate() {
            assert_eq!(
                positions.of_byte(offset),
                offset_location(text, offset),
                "byte {offset}"
            );
            assert_eq!(positions.of_char(char_index), offset_location(text, offset));
        }
        assert_eq!(
            positions.of_byte(text.len()),
            offset_location(text, text.len())
        );
        assert_eq!(
            positions.of_byte(usize::MAX),
            offset_location(text, text.len())
        );
        for text in [text, "a: 1\r\n\nb: 2\n", "", "\n"] {
            let index = SpanIndex::build(text);
            for line in 0..=text.lines().count() + 1 {
                assert_eq!(
                    index.source_line(text, line),
                    line.checked_sub(1).and_then(|n| text.lines().nth(n)),
                    "line {line} of {text:?}"
                );
            }
        }
    }

    /// Equal keys in different mappings (list items, nested maps) are not duplicates; equal keys
    /// in one mapping are, at any depth and in flow style too.
    #[test]
    fn keys_given_twice_in_one_mapping_are_found() {
        let text = "a:\n  - { k: 1, k: 2 }\n  - k: 3\nb: { k: 4 }\nk: 5\nb: 6\n";
        let found: Vec<(String, String, Location, Location)> = SpanIndex::build(text)
            .duplicate_keys()
            .iter()
            .map(|d| (d.key.clone(), d.path.clone(), d.at, d.first))
            .collect();
        let at = |line, column| Location { line, column };
        assert_eq!(
            found,
            vec![
                ("k".to_owned(), "a[0].k".to_owned(), at(2, 13), at(2, 7)),
                ("b".to_owned(), "b".to_owned(), at(6, 1), at(4, 1)),
            ]
        );
    }

    /// Building the index keeps no position per node: a file without errors never needs one.
    /// The first lookup builds them all, and later lookups reuse them.
    #[test]
    fn positions_are_indexed_at_the_first_lookup() {
        let text = "scenarios:\n  - id: a\n    steps: []\n";
        let spans = SpanIndex::build(text);
        assert!(spans.located.get().is_none());
        assert_eq!(
            spans
                .locate(text, "scenarios[0].steps")
                .map(|l| (l.line, l.column)),
            Some((3, 5))
        );
        let indexed = spans.located.get().map(|l| l.locations.len());
        assert!(indexed.is_some_and(|n| n >= 4), "{indexed:?}");
    }

    /// The items of a mapping's one list are found at their byte offsets (after characters of
    /// several bytes too), and only when no item can refer to another.
    #[test]
    fn the_items_of_the_root_list_are_found() {
        let text = "# é\nscenarios:\n  - id: £\n  - { id: b }\n  - c\n";
        let root = SpanIndex::build(text).root_sequence().cloned();
        let starts: Vec<&str> = root
            .as_ref()
            .map(|r| r.items.iter().map(|&i| &text[i..i + 1]).collect())
            .unwrap_or_default();
        assert_eq!(root.map(|r| r.key), Some("scenarios".to_owned()));
        assert_eq!(starts, ["i", "{", "c"]);
        for text in [
            "scenarios:\n  - &x a\n  - *x\n",
            "scenarios:\n  - !t a\n",
            "a: [1]\nb: [2]\n",
            "- 1\n",
            "a: [1]\n---\na: [2]\n",
            "a:\n  - [1\n",
        ] {
            assert_eq!(SpanIndex::build(text).root_sequence(), None, "{text}");
        }
        let deep = format!("a:\n  - {}{}\n", "[".repeat(70), "]".repeat(70));
        assert_eq!(SpanIndex::build(&deep).root_sequence(), None);
    }

    #[test]
    fn span_index_locates_values_keys_and_ancestors() {
        let text = "scenarios:\n  - id: a £\n    steps:\n      - request: { url: \"x\", source: \"far\" }\n";
        let spans = SpanIndex::build(text);
        let at = |p: &str| spans.locate(text, p).map(|l| (l.line, l.column));
        assert_eq!(at("scenarios[0].id"), Some((2, 9)));
        assert_eq!(at("scenarios[0].steps"), Some((3, 5)));
        assert_eq!(at("scenarios[0].steps[0].request.source"), Some((4, 38)));
        assert_eq!(
            at("scenarios[0].steps[0].request.nothing.here"),
            Some((4, 9))
        );
        assert_eq!(SpanIndex::build("").locate("", "a"), None);
        assert_eq!(
            SpanIndex::build("a: [").locate("a: [", "a").map(|l| l.line),
            Some(1)
        );
    }
}
