//! Just enough JSON for the bench binary's one-line flat objects: strings,
//! numbers, booleans and null as values, no nesting.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

/// A value of a flat JSON object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// A flat JSON object, its keys in order.
pub type Object = BTreeMap<String, Value>;

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(x) => Some(*x),
            _ => None,
        }
    }
}

/// Parses one flat JSON object.
pub fn parse(line: &str) -> Result<Object> {
    let mut p = Parser {
        s: line.trim().as_bytes(),
        i: 0,
    };
    let obj = p
        .object()
        .with_context(|| format!("not a flat JSON object: {line}"))?;
    p.ws();
    if p.i != p.s.len() {
        bail!("trailing text after the JSON object: {line}");
    }
    Ok(obj)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<()> {
        self.ws();
        if self.s.get(self.i) != Some(&c) {
            bail!("expected {:?} at byte {}", c as char, self.i);
        }
        self.i += 1;
        Ok(())
    }

    fn object(&mut self) -> Result<Object> {
        let mut obj = Object::new();
        self.eat(b'{')?;
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(obj);
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.eat(b':')?;
            let value = self.value()?;
            obj.insert(key, value);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(obj);
                }
                _ => bail!("expected ',' or '}}' at byte {}", self.i),
            }
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.ws();
        let rest = &self.s[self.i..];
        for (word, value) in [
            (&b"true"[..], Value::Bool(true)),
            (b"false", Value::Bool(false)),
            (b"null", Value::Null),
        ] {
            if rest.starts_with(word) {
                self.i += word.len();
                return Ok(value);
            }
        }
        if rest.first() == Some(&b'"') {
            return Ok(Value::Str(self.string()?));
        }
        let len = rest
            .iter()
            .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let text = std::str::from_utf8(&rest[..len])?;
        let x: f64 = text
            .parse()
            .with_context(|| format!("bad number {text:?} at byte {}", self.i))?;
        self.i += len;
        Ok(Value::Num(x))
    }

    fn string(&mut self) -> Result<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => return Ok(String::from_utf8(out)?),
                b'\\' => {
                    let e = *self.s.get(self.i).context("unfinished escape")?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
        bail!("unterminated string")
    }
}

/// Writes `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_bench_line() {
        let obj = parse(r#"{"engine":"tributary","threads":4,"sync":true,"p99_us":12.5,"x":null}"#)
            .unwrap();
        assert_eq!(obj["engine"], Value::Str("tributary".into()));
        assert_eq!(obj["threads"].as_f64(), Some(4.0));
        assert_eq!(obj["sync"], Value::Bool(true));
        assert_eq!(obj["p99_us"].as_f64(), Some(12.5));
        assert_eq!(obj["x"], Value::Null);
        assert!(parse("{\"a\":1} x").is_err());
        assert!(parse("not json").is_err());
    }
}
