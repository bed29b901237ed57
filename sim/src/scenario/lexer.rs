//! Words and literal values of the scenario language.
//!
//! In: one line of a scenario file, or one word of it. Out: the line's words (quotes
//! removed, comment dropped), durations in milliseconds, sizes in bytes, bandwidths in
//! bytes per second — or a reason saying what was expected. The inverse functions
//! (`format_*`, [`quote_word`]) render values back so that a rendered scenario parses
//! to the same AST (`baton sim explore` writes failing runs as scenario files).

/// Splits a line into words: separated by spaces or tabs, `"..."` quotes spaces (and
/// `#`) into a word, `#` outside quotes starts a comment. Inside quotes `\"` and `\\`
/// stand for `"` and `\`. Quotes may sit inside a word (`KEY="a b"` gives `KEY=a b`),
/// like a shell, so environment values with spaces can be written.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    // Whether a word has started: `""` is an (empty) word, a run of spaces is not.
    let mut in_word = false;
    let mut chars = line.char_indices();
    while let Some((_, c)) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' => break,
            '"' => {
                in_word = true;
                let col = line[..line.len() - chars.as_str().len()].chars().count();
                let mut closed = false;
                while let Some((_, q)) = chars.next() {
                    match q {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => cur.push(e),
                            // Any other escape is kept literally: paths may hold `\`.
                            Some((_, e)) => {
                                cur.push('\\');
                                cur.push(e);
                            }
                            None => cur.push('\\'),
                        },
                        other => cur.push(other),
                    }
                }
                if !closed {
                    return Err(format!("unterminated quote: the `\"` at column {col} is not closed on this line"));
                }
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Quotes a word when it would not read back as itself (spaces, `#`, `"`, empty).
pub fn quote_word(word: &str) -> String {
    let plain = !word.is_empty() && !word.contains([' ', '\t', '#', '"', '\\']);
    if plain {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

const DURATION_HINT: &str = "a duration like 0s, 90s, 2m30s, 1500ms or 1h";

/// Duration units, largest first: a duration names them in this order, each once.
const DURATION_UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// The longest duration and the latest instant a scenario may name: 168h (7 days).
/// Bounds the simulated time of a scenario (`at 18446744073709551615ms …` ran
/// forever, a stall that long stalled nothing) and of an exploration seed, whose
/// written scenario must parse back. The longest cluster-file duration is 7 days too.
pub const MAX_SCENARIO_MS: u64 = 168 * 3_600_000;

/// [`parse_duration_ms`] within [`MAX_SCENARIO_MS`]: every duration and instant of the
/// scenario language.
pub fn parse_scenario_duration_ms(text: &str) -> Result<u64, String> {
    let ms = parse_duration_ms(text)?;
    if ms > MAX_SCENARIO_MS {
        return Err(format!("duration {text:?} is beyond the scenario limit of 168h"));
    }
    Ok(ms)
}

/// Parses `0s`, `90s`, `2m30s`, `1500ms`, `1h`, `1h2m3s4ms` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let pieces = number_unit_pieces(text).ok_or_else(|| format!("expected {DURATION_HINT}, found {text:?}"))?;
    let mut total: u64 = 0;
    // Index into DURATION_UNITS of the last unit used: units must strictly shrink so
    // that `2m30s` has one reading and `30s2m` or `1s1s` are refused as typos.
    let mut last: Option<usize> = None;
    for (number, unit) in pieces {
        if unit.is_empty() {
            return Err(format!("missing unit after {number} in {text:?}: use ms, s, m or h (e.g. {number}s)"));
        }
        let Some(idx) = DURATION_UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!("unknown unit {unit:?} in {text:?}: use ms, s, m or h"));
        };
        if last.is_some_and(|l| idx <= l) {
            return Err(format!("units in {text:?} must go from largest to smallest, each once (e.g. 1h2m3s)"));
        }
        last = Some(idx);
        let n: u64 = number.parse().map_err(|_| format!("duration {text:?} is too large"))?;
        total = n
            .checked_mul(DURATION_UNITS[idx].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
    }
    Ok(total)
}

/// Renders milliseconds so that [`parse_duration_ms`] reads them back: `2m30s`, `1s500ms`.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, size) in DURATION_UNITS {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// Parses a signed duration, `+2s`, `-500ms`, `0s` (the sign is required unless the
/// duration is zero, so a step's direction is always written), into milliseconds.
pub fn parse_signed_duration_ms(text: &str) -> Result<i64, String> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        Some(_) | None => (false, text),
    };
    let ms = parse_duration_ms(body).map_err(|e| format!("{e} (with a sign: +2s, -500ms)"))?;
    if ms > 0 && body.len() == text.len() {
        return Err(format!("write the direction of {text:?}: +{text} or -{text}"));
    }
    let ms = i64::try_from(ms).map_err(|_| format!("duration {text:?} is too large"))?;
    Ok(if negative { -ms } else { ms })
}

/// Renders signed milliseconds so that [`parse_signed_duration_ms`] reads them back.
pub fn format_signed_duration(ms: i64) -> String {
    match ms.cmp(&0) {
        std::cmp::Ordering::Equal => "0s".into(),
        std::cmp::Ordering::Greater => format!("+{}", format_duration(ms.unsigned_abs())),
        std::cmp::Ordering::Less => format!("-{}", format_duration(ms.unsigned_abs())),
    }
}

/// Parses a clock drift, `+200ppm`, `-50ppm`, `0ppm`, into parts per million.
pub fn parse_ppm(text: &str) -> Result<i64, String> {
    let hint = "a drift like +200ppm, -50ppm or 0ppm";
    let number = text.strip_suffix("ppm").ok_or_else(|| format!("expected {hint}, found {text:?}"))?;
    let digits = number.strip_prefix(['+', '-']).unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected {hint}, found {text:?}"));
    }
    number.parse().map_err(|_| format!("drift {text:?} is too large"))
}

/// Renders a drift as `+200ppm`.
pub fn format_ppm(ppm: i64) -> String {
    if ppm > 0 {
        format!("+{ppm}ppm")
    } else {
        format!("{ppm}ppm")
    }
}

const SIZE_HINT: &str = "a size like 200MB or 4KiB (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";

/// Size units: the decimal ones first, so [`format_size`] prefers them.
const SIZE_UNITS: [(&str, u64); 9] = [
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

/// Parses `200MB`, `1GB`, `4KiB`, `512B` into bytes. A unit is required: a bare
/// number would leave the reader guessing.
pub fn parse_size_bytes(text: &str) -> Result<u64, String> {
    let pieces = number_unit_pieces(text).ok_or_else(|| format!("expected {SIZE_HINT}, found {text:?}"))?;
    let [(number, unit)] = pieces.as_slice() else {
        return Err(format!("expected {SIZE_HINT}, found {text:?}"));
    };
    if unit.is_empty() {
        return Err(format!("missing unit after {number} in {text:?}: expected {SIZE_HINT}"));
    }
    let Some((_, size)) = SIZE_UNITS.iter().find(|(u, _)| u == unit) else {
        return Err(format!("unknown size unit {unit:?} in {text:?}: expected {SIZE_HINT}"));
    };
    number.parse::<u64>().ok().and_then(|n| n.checked_mul(*size)).ok_or_else(|| format!("size {text:?} is too large"))
}

/// Renders bytes with the largest unit that divides them exactly (`1GB`, `4KiB`, `7B`).
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".into();
    }
    let (unit, size) =
        SIZE_UNITS.iter().find(|(_, size)| bytes.checked_rem(*size) == Some(0)).copied().unwrap_or(("B", 1));
    format!("{}{unit}", bytes / size)
}

/// Parses a bandwidth, a size per second: `100MB/s`, `10MiB/s`, into bytes per second.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let Some(size) = text.strip_suffix("/s") else {
        return Err(format!("expected a bandwidth like 100MB/s (a size per second), found {text:?}"));
    };
    parse_size_bytes(size).map_err(|e| format!("{e} (in the bandwidth {text:?})"))
}

/// Renders bytes per second as `100MB/s`.
pub fn format_bandwidth(bytes_per_s: u64) -> String {
    format!("{}/s", format_size(bytes_per_s))
}

/// Splits `2m30s` into `[("2", "m"), ("30", "s")]`. `None` when the text is empty or
/// does not start with a digit or has letters without a number before them.
fn number_unit_pieces(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let letters = after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, next) = after.split_at(letters);
        pieces.push((number, unit));
        rest = next;
    }
    (!pieces.is_empty()).then_some(pieces)
}

/// Parses a whole number, saying what it is for when it is not one.
pub fn parse_number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("expected {what} (a whole number), found {text:?}"))
}
