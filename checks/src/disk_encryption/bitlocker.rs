//! disk_encryption on Windows: is BitLocker protecting every fixed volume?
//!
//! One source: `Get-BitLockerVolume` through PowerShell, reduced by `Select-Object` to the state
//! fields before `ConvertTo-Json`, so the key protectors (and any recovery password) never leave
//! PowerShell and are never read into evidence. Enums serialise as integers; one volume is a JSON
//! object, several an array.
//!
//! A volume is compliant only when its conversion is complete (`VolumeStatus` 1, FullyEncrypted)
//! **and** protection is on (`ProtectionStatus` 1). Fully encrypted with protection off is BitLocker
//! *suspended* (the key is in the clear on disk): `fail`. Encryption in progress or paused is `warn`
//! with the percentage; decryption, or no encryption, is `fail`. Hardware (SED) encryption
//! (`EncryptionMethod` 5) is reported as a fact. Any value not listed in the reference
//! (`platforms-reference.md` §B1) is `error`, never a pass.

use serde_json::{json, Map, Value};

use crate::{CheckResult, Context, Evidence, Status};

/// The one PowerShell invocation; `Select-Object` keeps `KeyProtector` (recovery passwords) out.
pub const GET_BITLOCKER_VOLUME: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    "Get-BitLockerVolume | Select-Object MountPoint,VolumeType,VolumeStatus,ProtectionStatus,LockStatus,EncryptionPercentage,EncryptionMethod | ConvertTo-Json -Depth 2",
];

/// `VolumeStatus` (the conversion status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    FullyDecrypted,
    FullyEncrypted,
    EncryptionInProgress,
    DecryptionInProgress,
    EncryptionPaused,
    DecryptionPaused,
}

impl Conversion {
    fn from_code(code: i64) -> Option<Conversion> {
        Some(match code {
            0 => Conversion::FullyDecrypted,
            1 => Conversion::FullyEncrypted,
            2 => Conversion::EncryptionInProgress,
            3 => Conversion::DecryptionInProgress,
            4 => Conversion::EncryptionPaused,
            5 => Conversion::DecryptionPaused,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Conversion::FullyDecrypted => "fully_decrypted",
            Conversion::FullyEncrypted => "fully_encrypted",
            Conversion::EncryptionInProgress => "encryption_in_progress",
            Conversion::DecryptionInProgress => "decryption_in_progress",
            Conversion::EncryptionPaused => "encryption_paused",
            Conversion::DecryptionPaused => "decryption_paused",
        }
    }
}

/// `ProtectionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Off,
    On,
    Unknown,
}

impl Protection {
    fn from_code(code: i64) -> Option<Protection> {
        Some(match code {
            0 => Protection::Off,
            1 => Protection::On,
            2 => Protection::Unknown,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Protection::Off => "off",
            Protection::On => "on",
            Protection::Unknown => "unknown",
        }
    }
}

/// One volume as `Get-BitLockerVolume` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct BitLockerVolume {
    /// `C:` or a volume GUID path for volumes without a letter.
    pub mount_point: String,
    /// `VolumeType` 0: the volume Windows booted from.
    pub os_volume: bool,
    pub conversion: Conversion,
    pub protection: Protection,
    /// `LockStatus` 1: the volume is locked (its state cannot be read further).
    pub locked: bool,
    /// `EncryptionPercentage`, 0–100 (rounded by Windows).
    pub percent: f64,
    /// `EncryptionMethod` code (0 none, 5 hardware, 6/7 XTS-AES …).
    pub method: i64,
}

fn int_field(obj: &Map<String, Value>, key: &str, at: usize) -> Result<i64, String> {
    match obj.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("volume {at}: {key} is not an integer: {n}")),
        Some(other) => Err(format!(
            "volume {at}: {key} is {other} (an integer was expected; enums as strings are not understood)"
        )),
        None => Err(format!("volume {at}: no {key}")),
    }
}

/// Parse the JSON the [`GET_BITLOCKER_VOLUME`] command prints (an object or an array of them).
pub fn parse_bitlocker_volumes(text: &str) -> Result<Vec<BitLockerVolume>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err("Get-BitLockerVolume printed nothing".to_string());
    }
    let v: Value = serde_json::from_str(trimmed).map_err(|e| format!("not JSON: {e}"))?;
    let items = match v {
        Value::Array(a) => a,
        obj @ Value::Object(_) => vec![obj],
        other => return Err(format!("expected an object or an array, got {other}")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = i + 1;
        let obj = item
            .as_object()
            .ok_or_else(|| format!("volume {at} is not an object"))?;
        let mount_point = match obj.get("MountPoint") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => return Err(format!("volume {at}: no MountPoint")),
        };
        let at_mp = |e: String| format!("{e} ({mount_point})");
        let os_volume = match int_field(obj, "VolumeType", at).map_err(at_mp)? {
            0 => true,
            1 => false,
            n => return Err(format!("volume {mount_point}: unknown VolumeType {n}")),
        };
        let vs = int_field(obj, "VolumeStatus", at).map_err(at_mp)?;
        let conversion = Conversion::from_code(vs)
            .ok_or_else(|| format!("volume {mount_point}: unknown VolumeStatus {vs}"))?;
        let ps = int_field(obj, "ProtectionStatus", at).map_err(at_mp)?;
        let protection = Protection::from_code(ps)
            .ok_or_else(|| format!("volume {mount_point}: unknown ProtectionStatus {ps}"))?;
        let locked = match int_field(obj, "LockStatus", at).map_err(at_mp)? {
            0 => false,
            1 => true,
            n => return Err(format!("volume {mount_point}: unknown LockStatus {n}")),
        };
        let percent = match obj.get("EncryptionPercentage") {
            Some(Value::Number(n)) => n.as_f64().filter(|p| (0.0..=100.0).contains(p)),
            _ => None,
        }
        .ok_or_else(|| {
            format!("volume {mount_point}: EncryptionPercentage missing or not 0–100")
        })?;
        let method = int_field(obj, "EncryptionMethod", at).map_err(at_mp)?;
        if !(0..=7).contains(&method) && method != -1 && method != i64::from(u32::MAX) {
            return Err(format!(
                "volume {mount_point}: unknown EncryptionMethod {method}"
            ));
        }
        out.push(BitLockerVolume {
            mount_point,
            os_volume,
            conversion,
            protection,
            locked,
            percent,
            method,
        });
    }
    Ok(out)
}

/// The verdict on one volume and the words that explain it.
fn judge(v: &BitLockerVolume) -> (Status, String) {
    let mp = &v.mount_point;
    let pct = format_percent(v.percent);
    if v.locked {
        return (
            Status::Warn,
            format!("{mp} is locked: its protection cannot be read until it is unlocked"),
        );
    }
    match (v.conversion, v.protection) {
        (Conversion::FullyEncrypted, Protection::On) => {
            (Status::Pass, format!("{mp} is encrypted and protected"))
        }
        (Conversion::FullyEncrypted, Protection::Off) => (
            Status::Fail,
            format!("{mp} has BitLocker protection suspended (the key is stored in the clear)"),
        ),
        (Conversion::FullyEncrypted, Protection::Unknown) => (
            Status::Warn,
            format!("{mp} is encrypted but its protection status is unknown"),
        ),
        (Conversion::EncryptionInProgress, _) => (
            Status::Warn,
            format!("{mp} is being encrypted ({pct} done)"),
        ),
        (Conversion::EncryptionPaused, _) => (
            Status::Warn,
            format!("encryption of {mp} is paused at {pct}"),
        ),
        (Conversion::DecryptionInProgress, _) | (Conversion::DecryptionPaused, _) => (
            Status::Fail,
            format!("{mp} is being decrypted ({pct} still encrypted)"),
        ),
        (Conversion::FullyDecrypted, _) => (Status::Fail, format!("{mp} is not encrypted")),
    }
}

fn format_percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn severity(s: Status) -> u8 {
    match s {
        Status::Pass | Status::NotApplicable => 0,
        Status::Warn => 1,
        Status::Error => 2,
        Status::Fail => 3,
    }
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "disk_encryption";
    let (out, ev): (_, Evidence) = match ctx.probe.run_evidence(&GET_BITLOCKER_VOLUME) {
        Ok(r) => r,
        Err(e) => return crate::probe_error(id, "run `Get-BitLockerVolume`", &e),
    };
    let evidence = vec![ev];
    if out.exit_code != Some(0) {
        return CheckResult::new(
            id,
            Status::Error,
            format!(
                "`Get-BitLockerVolume` exited with {:?} (BitLocker absent, or not run elevated?): {}",
                out.exit_code,
                out.stderr_text().trim()
            ),
        )
        .fact("platform", "windows")
        .with_evidence(evidence);
    }
    let volumes = match parse_bitlocker_volumes(&out.stdout_text()) {
        Ok(v) => v,
        Err(e) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!("BitLocker state unknown: could not read `Get-BitLockerVolume`: {e}"),
            )
            .fact("platform", "windows")
            .with_evidence(evidence)
        }
    };
    if !volumes.iter().any(|v| v.os_volume) {
        return CheckResult::new(
            id,
            Status::Error,
            format!(
                "`Get-BitLockerVolume` listed no operating-system volume ({} other volume(s))",
                volumes.len()
            ),
        )
        .fact("platform", "windows")
        .with_evidence(evidence);
    }
    let judged: Vec<(Status, String)> = volumes.iter().map(judge).collect();
    let status = judged
        .iter()
        .map(|(s, _)| *s)
        .max_by_key(|s| severity(*s))
        .unwrap_or(Status::Error);
    let summary = if status == Status::Pass {
        let names: Vec<&str> = volumes.iter().map(|v| v.mount_point.as_str()).collect();
        format!(
            "BitLocker protects every fixed volume ({})",
            names.join(", ")
        )
    } else {
        judged
            .iter()
            .filter(|(s, _)| *s != Status::Pass)
            .map(|(_, why)| why.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let facts: Vec<Value> = volumes
        .iter()
        .zip(&judged)
        .map(|(v, (s, _))| {
            json!({
                "mount_point": v.mount_point,
                "os_volume": v.os_volume,
                "conversion": v.conversion.as_str(),
                "protection": v.protection.as_str(),
                "locked": v.locked,
                "encryption_percentage": v.percent,
                "encryption_method": v.method,
                "status": s.as_str(),
            })
        })
        .collect();
    let hardware: Vec<&str> = volumes
        .iter()
        .filter(|v| v.method == 5)
        .map(|v| v.mount_point.as_str())
        .collect();
    let os = volumes
        .iter()
        .find(|v| v.os_volume)
        .map(|v| v.mount_point.clone());
    let mut r = CheckResult::new(id, status, summary)
        .fact("platform", "windows")
        .fact("os_volume", os.unwrap_or_default())
        .fact("volumes", Value::Array(facts));
    if !hardware.is_empty() {
        // Self-encrypting drives: the firmware does the encryption, which Microsoft stopped
        // trusting by default (ADV180028); reported so a policy can tell.
        r = r.fact("hardware_encryption", hardware);
    }
    r.with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the reference's captured `Get-BitLockerVolume | ConvertTo-Json` (§B1), reduced
    /// to the selected fields.
    const ONE: &str = r#"{
    "MountPoint":  "C:",
    "VolumeType":  0,
    "VolumeStatus":  1,
    "ProtectionStatus":  1,
    "LockStatus":  0,
    "EncryptionPercentage":  100,
    "EncryptionMethod":  6
}"#;

    #[test]
    fn one_volume_is_an_object_several_an_array() {
        let one = parse_bitlocker_volumes(ONE).unwrap();
        assert_eq!(one.len(), 1);
        assert!(one[0].os_volume);
        assert_eq!(one[0].conversion, Conversion::FullyEncrypted);
        assert_eq!(one[0].protection, Protection::On);
        let two = format!(
            "[{ONE},{}]",
            ONE.replace("C:", "D:")
                .replace("\"VolumeType\":  0", "\"VolumeType\":  1")
        );
        let v = parse_bitlocker_volumes(&two).unwrap();
        assert_eq!(v.len(), 2);
        assert!(!v[1].os_volume);
        assert_eq!(v[1].mount_point, "D:");
    }

    #[test]
    fn unknown_codes_and_string_enums_are_errors() {
        for (from, to) in [
            ("\"VolumeStatus\":  1", "\"VolumeStatus\":  9"),
            ("\"ProtectionStatus\":  1", "\"ProtectionStatus\":  \"On\""),
            ("\"LockStatus\":  0", "\"LockStatus\":  3"),
            ("\"VolumeType\":  0", "\"VolumeType\":  2"),
            ("\"EncryptionMethod\":  6", "\"EncryptionMethod\":  42"),
            (
                "\"EncryptionPercentage\":  100",
                "\"EncryptionPercentage\":  140",
            ),
            ("\"MountPoint\":  \"C:\",", ""),
        ] {
            let text = ONE.replace(from, to);
            assert_ne!(text, ONE, "{from}");
            assert!(parse_bitlocker_volumes(&text).is_err(), "{to} accepted");
        }
        assert!(parse_bitlocker_volumes("").is_err());
        assert!(parse_bitlocker_volumes("Get-BitLockerVolume : Access denied").is_err());
        assert!(parse_bitlocker_volumes("42").is_err());
    }

    #[test]
    fn suspended_is_fail_encrypting_is_warn() {
        let mut v = parse_bitlocker_volumes(ONE).unwrap().remove(0);
        assert_eq!(judge(&v).0, Status::Pass);
        v.protection = Protection::Off;
        let (s, why) = judge(&v);
        assert_eq!(s, Status::Fail);
        assert!(why.contains("suspended"), "{why}");
        v.conversion = Conversion::EncryptionInProgress;
        v.percent = 37.0;
        let (s, why) = judge(&v);
        assert_eq!(s, Status::Warn);
        assert!(why.contains("37%"), "{why}");
        v.conversion = Conversion::FullyDecrypted;
        assert_eq!(judge(&v).0, Status::Fail);
        v.conversion = Conversion::DecryptionPaused;
        assert_eq!(judge(&v).0, Status::Fail);
    }

    #[test]
    fn the_command_never_asks_for_key_protectors() {
        let script = GET_BITLOCKER_VOLUME[4];
        assert!(script.contains("Select-Object"));
        assert!(!script.contains("KeyProtector"));
        assert!(!script.contains("RecoveryPassword"));
    }
}
