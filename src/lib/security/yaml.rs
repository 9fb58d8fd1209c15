//! A small YAML reader for Storm's security files (the DRPC ACL file, the HTTP users file): block
//! mappings and sequences by indentation, flow `[..]` and `{..}` on one line, plain, single- and
//! double-quoted scalars, `#` comments and a leading `---`. Anchors, tags, multi-line scalars and
//! multiple documents are refused with an error naming the line. Scalars become JSON strings, except
//! `true`/`false`, `null`/`~` and integers.

use serde_json::{Map, Value};

struct Line {
    no: usize,
    indent: usize,
    text: String,
}

/// Parses `text` into a JSON value (an empty document is `null`).
pub fn parse(text: &str) -> Result<Value, String> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw[..raw.len() - raw.trim_start().len()].contains('\t') {
            return Err(format!(
                "line {}: tabs are not allowed for indentation",
                i + 1
            ));
        }
        let stripped = strip_comment(raw);
        let trimmed = stripped.trim_end();
        if trimmed.trim().is_empty() || (lines.is_empty() && trimmed.trim() == "---") {
            continue;
        }
        let indent = trimmed.len() - trimmed.trim_start().len();
        lines.push(Line {
            no: i + 1,
            indent,
            text: trimmed.trim_start().to_string(),
        });
    }
    if lines.is_empty() {
        return Ok(Value::Null);
    }
    let mut pos = 0;
    let v = node(&lines, &mut pos, lines[0].indent)?;
    if pos < lines.len() {
        return Err(format!("line {}: unexpected indentation", lines[pos].no));
    }
    Ok(v)
}

fn strip_comment(line: &str) -> String {
    let (mut single, mut double, mut prev_space) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_space => return line[..i].to_string(),
            _ => {}
        }
        prev_space = c == ' ';
    }
    line.to_string()
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

fn node(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Value, String> {
    if is_seq_item(&lines[*pos].text) {
        seq(lines, pos, indent)
    } else if split_key(&lines[*pos].text).is_some() {
        map(lines, pos, indent)
    } else {
        let l = &lines[*pos];
        *pos += 1;
        inline(&l.text).map_err(|e| format!("line {}: {e}", l.no))
    }
}

fn seq(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Value, String> {
    let mut out = Vec::new();
    while *pos < lines.len() && lines[*pos].indent == indent && is_seq_item(&lines[*pos].text) {
        let l = &lines[*pos];
        let rest = l.text[1..].trim_start();
        *pos += 1;
        if rest.is_empty() {
            if *pos < lines.len() && lines[*pos].indent > indent {
                let ind = lines[*pos].indent;
                out.push(node(lines, pos, ind)?);
            } else {
                out.push(Value::Null);
            }
        } else if split_key(rest).is_some() && !rest.starts_with(['[', '{', '"', '\'']) {
            return Err(format!(
                "line {}: mappings inside sequences are not supported here",
                l.no
            ));
        } else {
            out.push(inline(rest).map_err(|e| format!("line {}: {e}", l.no))?);
        }
    }
    Ok(Value::Array(out))
}

fn map(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Value, String> {
    let mut out = Map::new();
    while *pos < lines.len() && lines[*pos].indent == indent && !is_seq_item(&lines[*pos].text) {
        let l = &lines[*pos];
        let (key, rest) =
            split_key(&l.text).ok_or_else(|| format!("line {}: expected \"key: value\"", l.no))?;
        let key = scalar_text(key.trim()).map_err(|e| format!("line {}: {e}", l.no))?;
        *pos += 1;
        let value = if rest.trim().is_empty() {
            match lines.get(*pos) {
                Some(n) if n.indent > indent => {
                    let ind = n.indent;
                    node(lines, pos, ind)?
                }
                Some(n) if n.indent == indent && is_seq_item(&n.text) => seq(lines, pos, indent)?,
                _ => Value::Null,
            }
        } else {
            inline(rest.trim()).map_err(|e| format!("line {}: {e}", l.no))?
        };
        if out.insert(key.clone(), value).is_some() {
            return Err(format!("line {}: duplicate key \"{key}\"", l.no));
        }
    }
    Ok(Value::Object(out))
}

/// Splits `key: rest` at the first `:` outside quotes followed by a space or the end.
fn split_key(text: &str) -> Option<(&str, &str)> {
    if text.starts_with(['[', '{']) {
        return None;
    }
    let (mut single, mut double) = (false, false);
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ':' if !single && !double && (i + 1 == bytes.len() || bytes[i + 1] == b' ') => {
                return Some((&text[..i], &text[i + 1..]))
            }
            _ => {}
        }
    }
    None
}

fn inline(text: &str) -> Result<Value, String> {
    if text.starts_with(['[', '{']) {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let v = flow(&chars, &mut i)?;
        skip_ws(&chars, &mut i);
        if i != chars.len() {
            return Err(format!(
                "unexpected text after the closing bracket: {}",
                chars[i..].iter().collect::<String>()
            ));
        }
        return Ok(v);
    }
    if text.starts_with(['&', '*', '!', '|', '>']) {
        return Err(format!("unsupported YAML feature in \"{text}\""));
    }
    scalar(text)
}

fn skip_ws(c: &[char], i: &mut usize) {
    while *i < c.len() && c[*i] == ' ' {
        *i += 1;
    }
}

fn flow(c: &[char], i: &mut usize) -> Result<Value, String> {
    skip_ws(c, i);
    match c.get(*i) {
        Some('[') => {
            *i += 1;
            let mut out = Vec::new();
            loop {
                skip_ws(c, i);
                if c.get(*i) == Some(&']') {
                    *i += 1;
                    return Ok(Value::Array(out));
                }
                out.push(flow(c, i)?);
                skip_ws(c, i);
                match c.get(*i) {
                    Some(',') => *i += 1,
                    Some(']') => {}
                    _ => return Err("expected , or ] in a flow sequence".into()),
                }
            }
        }
        Some('{') => {
            *i += 1;
            let mut out = Map::new();
            loop {
                skip_ws(c, i);
                if c.get(*i) == Some(&'}') {
                    *i += 1;
                    return Ok(Value::Object(out));
                }
                let key = match flow(c, i)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                skip_ws(c, i);
                if c.get(*i) != Some(&':') {
                    return Err(format!("expected : after key \"{key}\" in a flow mapping"));
                }
                *i += 1;
                let v = flow(c, i)?;
                out.insert(key, v);
                skip_ws(c, i);
                match c.get(*i) {
                    Some(',') => *i += 1,
                    Some('}') => {}
                    _ => return Err("expected , or } in a flow mapping".into()),
                }
            }
        }
        Some(q @ ('"' | '\'')) => {
            let q = *q;
            let start = *i;
            *i += 1;
            while *i < c.len() {
                if c[*i] == '\\' && q == '"' {
                    *i += 2;
                    continue;
                }
                if c[*i] == q {
                    if q == '\'' && c.get(*i + 1) == Some(&'\'') {
                        *i += 2;
                        continue;
                    }
                    *i += 1;
                    return scalar(&c[start..*i].iter().collect::<String>());
                }
                *i += 1;
            }
            Err("unterminated quoted string".into())
        }
        Some(_) => {
            let start = *i;
            while *i < c.len()
                && !matches!(c[*i], ',' | ']' | '}')
                && !(c[*i] == ':' && c.get(*i + 1).is_none_or(|n| *n == ' '))
            {
                *i += 1;
            }
            scalar(c[start..*i].iter().collect::<String>().trim())
        }
        None => Err("unexpected end of line".into()),
    }
}

fn scalar(text: &str) -> Result<Value, String> {
    if text.starts_with(['"', '\'']) {
        return scalar_text(text).map(Value::String);
    }
    Ok(match text {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        "null" | "Null" | "NULL" | "~" | "" => Value::Null,
        t => match t.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(t.to_string()),
        },
    })
}

/// A scalar's text: quotes removed and escapes applied.
fn scalar_text(text: &str) -> Result<String, String> {
    if let Some(inner) = text.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("unterminated double-quoted string")?;
        let mut out = String::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('/') => out.push('/'),
                Some(other) => return Err(format!("unsupported escape \\{other}")),
                None => return Err("a string ends in a backslash".into()),
            }
        }
        return Ok(out);
    }
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("unterminated single-quoted string")?;
        return Ok(inner.replace("''", "'"));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_and_flow_forms() {
        let v = parse(
            "---\n# c\na:\n  b: 'x''y' # note\n  c:\n  - 1\n  - \"q#\"\n  d: [u, \"v w\", 3]\ne: {f: g, h: [i]}\nk: ~\nl: true\nm: x:y\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": {"b": "x'y", "c": [1, "q#"], "d": ["u", "v w", 3]}, "e": {"f": "g", "h": ["i"]},
                   "k": null, "l": true, "m": "x:y"})
        );
        assert_eq!(parse("- a\n- b\n").unwrap(), json!(["a", "b"]));
        assert_eq!(parse("").unwrap(), Value::Null);
    }

    #[test]
    fn bad_input_is_an_error_naming_the_line() {
        for bad in [
            "a: [1, 2\n",
            "a: 1\n  b: 2\n",
            "a: 1\na: 2\n",
            "a: &x 1\n",
            "a: \"x\n",
            "\ta: 1\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(parse("a: 1\n  b: 2\n").unwrap_err().contains("line 2"));
    }
}
