//! Spanned, typed access to the parsed TOML document.
//!
//! In: the file text and the `toml_edit` tree parsed from it. Out: typed values
//! (`Sp<T>`) carrying the 1-based line and column of their key and value, and a
//! [`Diags`] list that collects every type, missing-key and unknown-key problem
//! instead of stopping at the first. Every value read is also remembered in a
//! position table ([`Walk::at`]) so the cross-object checks that run later can point
//! at the offending key without re-walking the document.

use super::duration::format_ms;
use super::{parse_duration_ms, DiagLevel, Diagnostic, DurationRange, Ms};
use std::collections::BTreeMap;
use std::ops::Range;
use toml_edit::{InlineTable, Item, Table, Value};

/// A table of strings as read: `(key, value)` pairs in file order.
pub(crate) type StrMap = Sp<Vec<(Sp<String>, Sp<String>)>>;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    /// Where problems without a better place are reported.
    pub const START: Pos = Pos { line: 1, col: 1 };
}

/// A value with the position of its key and of the value itself.
#[derive(Clone, Debug)]
pub(crate) struct Sp<T> {
    pub v: T,
    pub at: Pos,
    pub key_at: Pos,
}

/// Which object of the file a position belongs to (for the position table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ObjRef {
    Root,
    Cluster,
    Server(usize),
    ServerGroup(usize),
    Heartbeat(usize),
    Np(usize),
    Group(usize),
    Resource(usize),
    Activation(usize),
    Deactivation(usize),
    Monitor(usize),
    Alert(usize),
}

/// The diagnostics found so far.
pub(crate) struct Diags {
    pub file: String,
    pub list: Vec<Diagnostic>,
}

impl Diags {
    pub fn error(&mut self, at: Pos, message: impl Into<String>) {
        self.push(at, DiagLevel::Error, message.into());
    }
    pub fn warn(&mut self, at: Pos, message: impl Into<String>) {
        self.push(at, DiagLevel::Warning, message.into());
    }
    fn push(&mut self, at: Pos, level: DiagLevel, message: String) {
        self.list.push(Diagnostic { file: self.file.clone(), line: at.line, col: at.col, level, message });
    }
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.level == DiagLevel::Error)
    }
}

/// A table of the file, whether written as `[table]`, `[[array]]` or `{ inline }`.
#[derive(Clone, Copy)]
pub(crate) enum TabRef<'a> {
    Table(&'a Table),
    Inline(&'a InlineTable),
}

/// One object (table) of the file: what it is called in messages, where it starts.
#[derive(Clone)]
pub(crate) struct Obj<'a> {
    pub tab: TabRef<'a>,
    pub pos: Pos,
    /// How messages name the object: `group "web"`, or `[[group]] #2` before its name is known.
    pub label: String,
    pub r: ObjRef,
}

/// One key of an object with its item and positions.
#[derive(Clone)]
pub(crate) struct Field<'a> {
    pub key: &'a str,
    pub key_at: Pos,
    pub at: Pos,
    pub item: &'a Item,
}

/// The reader: source positions, diagnostics and the position table.
pub(crate) struct Walk<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    pub diags: Diags,
    spans: BTreeMap<(ObjRef, &'static str), Pos>,
    headers: BTreeMap<ObjRef, Pos>,
}

impl<'a> Walk<'a> {
    pub fn new(file: &str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Walk {
            text,
            line_starts,
            diags: Diags { file: file.to_string(), list: Vec::new() },
            spans: BTreeMap::new(),
            headers: BTreeMap::new(),
        }
    }

    /// The position of a byte offset.
    pub fn pos_of(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|s| *s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        Pos { line, col }
    }

    /// The start of a span, or `fallback` for items built by the parser without one
    /// (implicit tables of dotted keys).
    pub fn pos(&self, span: Option<Range<usize>>, fallback: Pos) -> Pos {
        span.map_or(fallback, |r| self.pos_of(r.start))
    }

    /// Wraps a table; `fallback` is its position when the parser gave it no span.
    pub fn obj(&mut self, tab: TabRef<'a>, fallback: Pos, label: String, r: ObjRef) -> Obj<'a> {
        let span = match tab {
            TabRef::Table(t) => t.span(),
            TabRef::Inline(t) => t.span(),
        };
        let pos = self.pos(span, fallback);
        self.headers.entry(r).or_insert(pos);
        Obj { tab, pos, label, r }
    }

    /// Where a key of an object was read (its value), else the object's header.
    pub fn at(&self, r: ObjRef, key: &'static str) -> Pos {
        self.spans.get(&(r, key)).copied().unwrap_or_else(|| self.header(r))
    }

    /// Where an object starts.
    pub fn header(&self, r: ObjRef) -> Pos {
        self.headers.get(&r).copied().unwrap_or(Pos::START)
    }

    /// Every key of an object, in file order.
    pub fn fields(&self, o: &Obj<'a>) -> Vec<Field<'a>> {
        let keys: Vec<&'a str> = match o.tab {
            TabRef::Table(t) => t.iter().map(|(k, _)| k).collect(),
            TabRef::Inline(t) => t.iter().map(|(k, _)| k).collect(),
        };
        keys.into_iter().filter_map(|k| self.field_of(o, k)).collect()
    }

    pub(crate) fn field_of(&self, o: &Obj<'a>, key: &str) -> Option<Field<'a>> {
        let (k, item) = match o.tab {
            TabRef::Table(t) => t.get_key_value(key)?,
            TabRef::Inline(t) => t.get_key_value(key)?,
        };
        if item.is_none() {
            return None;
        }
        let key_at = self.pos(k.span(), o.pos);
        let at = match item {
            Item::Value(v) => self.pos(v.span(), key_at),
            Item::Table(t) => self.pos(t.span(), key_at),
            Item::ArrayOfTables(a) => self.pos(a.get(0).and_then(Table::span), key_at),
            Item::None => key_at,
        };
        Some(Field { key: k.get(), key_at, at, item })
    }

    /// Looks a key up and records where it was found.
    pub fn get(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Field<'a>> {
        let f = self.field_of(o, key)?;
        self.spans.insert((o.r, key), f.at);
        Some(f)
    }

    /// Reports every key of `o` that is in none of `allowed`. `what` names the
    /// context, e.g. ``for a `lan` heartbeat``.
    pub fn check_keys(&mut self, o: &Obj<'a>, allowed: &[&[&str]], what: &str) {
        for f in self.fields(o) {
            if !allowed.iter().any(|list| list.contains(&f.key)) {
                let msg = format!("{}: unknown key `{}`{}", o.label, f.key, what);
                self.diags.error(f.key_at, msg);
            }
        }
    }

    /// `label: missing required key` at the object's header.
    pub fn missing(&mut self, o: &Obj<'a>, key: &str) {
        let msg = format!("{}: missing required key `{}`", o.label, key);
        self.diags.error(o.pos, msg);
    }

    fn wrong_type(&mut self, o: &Obj<'a>, f: &Field<'a>, want: &str) {
        let msg = format!("{}: `{}` must be {}, not {}", o.label, f.key, want, article(f.item.type_name()));
        self.diags.error(f.at, msg);
    }

    fn sp<T>(f: &Field<'a>, v: T) -> Sp<T> {
        Sp { v, at: f.at, key_at: f.key_at }
    }

    pub fn string(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<String>> {
        let f = self.get(o, key)?;
        match f.item.as_str() {
            Some(s) => Some(Self::sp(&f, s.to_string())),
            None => {
                self.wrong_type(o, &f, "a string");
                None
            }
        }
    }

    pub fn req_string(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<String>> {
        if self.field_of(o, key).is_none() {
            self.missing(o, key);
            return None;
        }
        self.string(o, key)
    }

    pub fn boolean(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<bool>> {
        let f = self.get(o, key)?;
        match f.item.as_bool() {
            Some(b) => Some(Self::sp(&f, b)),
            None => {
                self.wrong_type(o, &f, "true or false");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub fn uint(&mut self, o: &Obj<'a>, key: &'static str, min: u64, max: u64) -> Option<Sp<u64>> {
        let f = self.get(o, key)?;
        match f.item.as_integer() {
            Some(n) if n >= 0 && (n as u64) >= min && (n as u64) <= max => Some(Self::sp(&f, n as u64)),
            Some(n) => {
                let msg = format!("{}: `{}` = {} is out of range ({} to {})", o.label, key, n, min, max);
                self.diags.error(f.at, msg);
                None
            }
            None => {
                self.wrong_type(o, &f, "a whole number");
                None
            }
        }
    }

    pub fn u32(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<u32>> {
        self.uint(o, key, 0, u32::MAX as u64).map(|s| Sp { v: s.v as u32, at: s.at, key_at: s.key_at })
    }

    /// A duration string within its documented `range` (`ranges.rs`): intervals and
    /// timeouts refuse `"0s"`, and nothing may be long enough to wrap an instant.
    pub fn duration(&mut self, o: &Obj<'a>, key: &'static str, range: DurationRange) -> Option<Sp<Ms>> {
        let s = self.string(o, key)?;
        match parse_duration_ms(&s.v) {
            Ok(0) if range.min_ms > 0 => {
                let msg = format!("{}: `{}` must be longer than 0", o.label, key);
                self.diags.error(s.at, msg);
                None
            }
            Ok(ms) if ms < range.min_ms || ms > range.max_ms => {
                let msg = format!(
                    "{}: `{}` = \"{}\" is out of range ({} to {})",
                    o.label,
                    key,
                    s.v,
                    format_ms(range.min_ms),
                    format_ms(range.max_ms)
                );
                self.diags.error(s.at, msg);
                None
            }
            Ok(ms) => Some(Sp { v: ms, at: s.at, key_at: s.key_at }),
            Err(e) => {
                let msg = format!("{}: `{}` = \"{}\" is not a duration: {}", o.label, key, s.v, e);
                self.diags.error(s.at, msg);
                None
            }
        }
    }

    /// One of the listed words.
    pub fn choice<T: Copy>(&mut self, o: &Obj<'a>, key: &'static str, options: &[(&str, T)]) -> Option<Sp<T>> {
        let s = self.string(o, key)?;
        if let Some((_, v)) = options.iter().find(|(w, _)| *w == s.v) {
            return Some(Sp { v: *v, at: s.at, key_at: s.key_at });
        }
        let words: Vec<String> = options.iter().map(|(w, _)| format!("\"{w}\"")).collect();
        let msg = format!("{}: `{}` = \"{}\" is not one of {}", o.label, key, s.v, words.join(", "));
        self.diags.error(s.at, msg);
        None
    }

    /// An array of strings, each with its own position.
    pub fn strings(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<Vec<Sp<String>>>> {
        let f = self.get(o, key)?;
        let Some(arr) = f.item.as_array() else {
            self.wrong_type(o, &f, "an array of strings");
            return None;
        };
        Some(Self::sp(&f, self.string_items(o, &f, arr.iter())))
    }

    /// A string or an array of strings (mirror `network`).
    pub fn string_or_list(&mut self, o: &Obj<'a>, key: &'static str) -> Option<Sp<Vec<Sp<String>>>> {
        let f = self.get(o, key)?;
        if let Some(s) = f.item.as_str() {
            return Some(Self::sp(&f, vec![Self::sp(&f, s.to_string())]));
        }
        let Some(arr) = f.item.as_array() else {
            self.wrong_type(o, &f, "a string or an array of strings");
            return None;
        };
        Some(Self::sp(&f, self.string_items(o, &f, arr.iter())))
    }

    fn string_items(&mut self, o: &Obj<'a>, f: &Field<'a>, items: impl Iterator<Item = &'a Value>) -> Vec<Sp<String>> {
        let mut out = Vec::new();
        for v in items {
            let at = self.pos(v.span(), f.at);
            match v.as_str() {
                Some(s) => out.push(Sp { v: s.to_string(), at, key_at: f.key_at }),
                None => {
                    let msg = format!(
                        "{}: every entry of `{}` must be a string, not {}",
                        o.label,
                        f.key,
                        article(v.type_name())
                    );
                    self.diags.error(at, msg);
                }
            }
        }
        out
    }

    /// A table of strings (`addresses`, `data`, `env`): `(key, value)` in file order.
    pub fn string_map(&mut self, o: &Obj<'a>, key: &'static str) -> Option<StrMap> {
        let f = self.get(o, key)?;
        let Some(sub) = self.sub(o, &f) else {
            self.wrong_type(o, &f, "a table of strings");
            return None;
        };
        let mut out = Vec::new();
        for g in self.fields(&sub) {
            let k = Sp { v: g.key.to_string(), at: g.key_at, key_at: g.key_at };
            match g.item.as_str() {
                Some(s) => out.push((k, Sp { v: s.to_string(), at: g.at, key_at: g.key_at })),
                None => {
                    let msg = format!(
                        "{}: `{}.{}` must be a string, not {}",
                        o.label,
                        key,
                        g.key,
                        article(g.item.type_name())
                    );
                    self.diags.error(g.at, msg);
                }
            }
        }
        Some(Self::sp(&f, out))
    }

    fn sub(&mut self, o: &Obj<'a>, f: &Field<'a>) -> Option<Obj<'a>> {
        let tab = match f.item {
            Item::Table(t) => TabRef::Table(t),
            Item::Value(Value::InlineTable(t)) => TabRef::Inline(t),
            Item::Value(_) | Item::ArrayOfTables(_) | Item::None => return None,
        };
        Some(Obj { tab, pos: f.at, label: o.label.clone(), r: o.r })
    }

    /// A sub-table (`activation = { … }`), named `r` in the position table.
    pub fn sub_obj(&mut self, o: &Obj<'a>, key: &'static str, r: ObjRef) -> Option<Obj<'a>> {
        let f = self.get(o, key)?;
        match self.sub(o, &f) {
            Some(mut sub) => {
                sub.r = r;
                sub.label = format!("{} {}", o.label, key);
                self.headers.entry(r).or_insert(f.at);
                Some(sub)
            }
            None => {
                self.wrong_type(o, &f, "a table");
                None
            }
        }
    }

    /// The tables of an array of tables (`[[server]]`, or `server = [{…}, {…}]`).
    /// `None` when the item is something else.
    pub fn tables(&self, item: &'a Item, fallback: Pos) -> Option<Vec<(TabRef<'a>, Pos)>> {
        match item {
            Item::ArrayOfTables(a) => {
                Some(a.iter().map(|t| (TabRef::Table(t), self.pos(t.span(), fallback))).collect())
            }
            Item::Value(Value::Array(a)) => {
                let mut out = Vec::new();
                for v in a.iter() {
                    out.push((TabRef::Inline(v.as_inline_table()?), self.pos(v.span(), fallback)));
                }
                Some(out)
            }
            Item::Value(_) | Item::Table(_) | Item::None => None,
        }
    }
}

/// `"string"` → `a string`, `"inline table"` → `an inline table`.
fn article(type_name: &str) -> String {
    let an = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {}", if an { "an" } else { "a" }, type_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        let w = Walk::new("f", "ab\n\u{e9}x = 1\n");
        assert_eq!(w.pos_of(0), Pos { line: 1, col: 1 });
        assert_eq!(w.pos_of(3), Pos { line: 2, col: 1 });
        // `é` is two bytes but one column.
        assert_eq!(w.pos_of(5), Pos { line: 2, col: 2 });
    }
}
