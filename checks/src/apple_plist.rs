//! Property lists as macOS tools print them (`diskutil … -plist`, `pwpolicy`, `InstallHistory.plist`,
//! `com.apple.*` preferences): parsed with the `plist` crate (XML or binary), never by hand, and read
//! through small accessors whose errors name the key that was missing or of the wrong type.

use plist::{Dictionary, Value};

/// Parse a property list (XML or binary) from bytes.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    Value::from_reader(std::io::Cursor::new(bytes)).map_err(|e| format!("not a property list: {e}"))
}

/// The value as a dictionary, or an error naming `what`.
pub fn dict<'a>(v: &'a Value, what: &str) -> Result<&'a Dictionary, String> {
    v.as_dictionary()
        .ok_or_else(|| format!("{what} is not a dictionary"))
}

/// The array under `key`, or an error naming it.
pub fn array<'a>(d: &'a Dictionary, key: &str) -> Result<&'a [Value], String> {
    match d.get(key) {
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("key {key} is not an array")),
        None => Err(format!("key {key} is missing")),
    }
}

/// The boolean under `key`, or an error naming it.
pub fn boolean(d: &Dictionary, key: &str) -> Result<bool, String> {
    match d.get(key) {
        Some(Value::Boolean(b)) => Ok(*b),
        Some(_) => Err(format!("key {key} is not a boolean")),
        None => Err(format!("key {key} is missing")),
    }
}

/// The string under `key`, or an error naming it.
pub fn string<'a>(d: &'a Dictionary, key: &str) -> Result<&'a str, String> {
    match d.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("key {key} is not a string")),
        None => Err(format!("key {key} is missing")),
    }
}

/// The integer under `key` if present; an error when it is there with another type.
pub fn opt_integer(d: &Dictionary, key: &str) -> Result<Option<i64>, String> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::Integer(i)) => i
            .as_signed()
            .map(Some)
            .ok_or_else(|| format!("key {key} is out of range")),
        Some(_) => Err(format!("key {key} is not an integer")),
    }
}

/// The boolean under `key` if present (preference files also store 0/1 integers for booleans).
pub fn opt_flag(d: &Dictionary, key: &str) -> Result<Option<bool>, String> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(Value::Integer(i)) => match i.as_signed() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(format!("key {key} is an integer other than 0 or 1")),
        },
        Some(_) => Err(format!("key {key} is not a boolean")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xml_and_names_bad_keys() {
        let v = parse(
            br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>A</key><true/><key>N</key><integer>1</integer><key>S</key><string>x</string></dict></plist>"#,
        )
        .unwrap();
        let d = dict(&v, "top").unwrap();
        assert!(boolean(d, "A").unwrap());
        assert_eq!(opt_flag(d, "N").unwrap(), Some(true));
        assert_eq!(string(d, "S").unwrap(), "x");
        assert_eq!(opt_integer(d, "N").unwrap(), Some(1));
        assert!(boolean(d, "S").unwrap_err().contains("key S"));
        assert!(array(d, "Z").unwrap_err().contains("Z is missing"));
        assert!(parse(b"FileVault is On.").is_err());
    }
}
