//! The CIS Controls v8.1 catalogue: 18 controls, 153 safeguards, their implementation groups, asset
//! types and security functions, with short titles in our own words. The data is
//! `collector/cis/controls-v8.1.toml`, embedded in the binary and parsed once.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The embedded catalogue file.
const CATALOGUE_TOML: &str = include_str!("../../cis/controls-v8.1.toml");

/// What a safeguard protects (CIS "asset type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetType {
    Devices,
    Software,
    Data,
    Users,
    Network,
    Documentation,
}

/// What a safeguard does (CIS "security function", NIST CSF 2.0 aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityFunction {
    Govern,
    Identify,
    Protect,
    Detect,
    Respond,
    Recover,
}

impl AssetType {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetType::Devices => "Devices",
            AssetType::Software => "Software",
            AssetType::Data => "Data",
            AssetType::Users => "Users",
            AssetType::Network => "Network",
            AssetType::Documentation => "Documentation",
        }
    }
}

impl SecurityFunction {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityFunction::Govern => "Govern",
            SecurityFunction::Identify => "Identify",
            SecurityFunction::Protect => "Protect",
            SecurityFunction::Detect => "Detect",
            SecurityFunction::Respond => "Respond",
            SecurityFunction::Recover => "Recover",
        }
    }
}

/// One of the 18 controls.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// 1..=18.
    pub id: u8,
    /// Our own short title.
    pub title: String,
}

/// One safeguard.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Safeguard {
    /// `"<control>.<n>"`, e.g. `"3.11"`.
    pub id: String,
    /// Lowest implementation group that includes it (1, 2 or 3).
    pub ig: u8,
    /// Asset type (best effort, see the file header).
    pub asset: AssetType,
    /// Security function (best effort, see the file header).
    pub function: SecurityFunction,
    /// Our own short title.
    pub title: String,
}

impl Safeguard {
    /// The control this safeguard belongs to (the part before the dot).
    pub fn control(&self) -> u8 {
        self.id
            .split_once('.')
            .and_then(|(c, _)| c.parse().ok())
            .unwrap_or(0)
    }

    /// True when the safeguard is part of implementation group `ig` (groups are cumulative).
    pub fn in_ig(&self, ig: u8) -> bool {
        self.ig <= ig
    }
}

/// The whole catalogue, safeguards in numeric order.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The 18 controls.
    #[serde(rename = "control")]
    pub controls: Vec<Control>,
    /// The 153 safeguards.
    #[serde(rename = "safeguard")]
    pub safeguards: Vec<Safeguard>,
}

impl Catalogue {
    /// The safeguard with this id.
    pub fn safeguard(&self, id: &str) -> Option<&Safeguard> {
        self.safeguards.iter().find(|s| s.id == id)
    }

    /// The control with this number.
    pub fn control(&self, id: u8) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// Safeguards of implementation group `ig` (cumulative: IG2 includes IG1).
    pub fn in_ig(&self, ig: u8) -> impl Iterator<Item = &Safeguard> {
        self.safeguards.iter().filter(move |s| s.in_ig(ig))
    }

    /// Parse and check the shape of a catalogue file: ids numbered 1.1, 1.2 … without gaps, every
    /// safeguard under an existing control, IGs in 1..=3.
    fn parse(text: &str) -> Result<Catalogue, String> {
        let cat: Catalogue = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, c) in cat.controls.iter().enumerate() {
            if usize::from(c.id) != i + 1 {
                return Err(format!(
                    "control #{} has id {}, expected {}",
                    i + 1,
                    c.id,
                    i + 1
                ));
            }
        }
        let mut prev = (0u8, 0u32);
        for s in &cat.safeguards {
            let (c, n) =
                s.id.split_once('.')
                    .and_then(|(c, n)| Some((c.parse::<u8>().ok()?, n.parse::<u32>().ok()?)))
                    .ok_or_else(|| format!("safeguard id {:?} is not <control>.<n>", s.id))?;
            let next_ok = (c == prev.0 && n == prev.1 + 1) || (c == prev.0 + 1 && n == 1);
            if !next_ok {
                return Err(format!(
                    "safeguard {} follows {}.{}: ids must be in order without gaps",
                    s.id, prev.0, prev.1
                ));
            }
            if cat.control(c).is_none() {
                return Err(format!("safeguard {}: no control {c}", s.id));
            }
            if !(1..=3).contains(&s.ig) {
                return Err(format!(
                    "safeguard {}: ig = {} is not 1, 2 or 3",
                    s.id, s.ig
                ));
            }
            prev = (c, n);
        }
        Ok(cat)
    }
}

/// The embedded CIS Controls v8.1 catalogue.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // The file is part of the source tree and a unit test parses it: failing here is a build bug.
        Catalogue::parse(CATALOGUE_TOML)
            .unwrap_or_else(|e| panic!("embedded cis/controls-v8.1.toml is invalid: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_match_cis_v8_1() {
        let cat = Catalogue::parse(CATALOGUE_TOML).unwrap();
        assert_eq!(cat.controls.len(), 18);
        assert_eq!(cat.safeguards.len(), 153);
        let count = |ig: u8| cat.safeguards.iter().filter(|s| s.ig == ig).count();
        assert_eq!((count(1), count(2), count(3)), (56, 74, 23));
        // Cumulative: IG1 = 56, IG2 = 56 + 74 = 130, IG3 = 130 + 23 = 153.
        assert_eq!(cat.in_ig(1).count(), 56);
        assert_eq!(cat.in_ig(2).count(), 130);
        assert_eq!(cat.in_ig(3).count(), 153);
    }

    #[test]
    fn per_control_counts_match_the_reference_table() {
        // checks-reference.md §6: (control, safeguards, IG1, +IG2, +IG3).
        let table: [(u8, usize, usize, usize, usize); 18] = [
            (1, 5, 2, 2, 1),
            (2, 7, 3, 3, 1),
            (3, 14, 6, 6, 2),
            (4, 12, 7, 4, 1),
            (5, 6, 4, 2, 0),
            (6, 8, 5, 2, 1),
            (7, 7, 4, 3, 0),
            (8, 12, 3, 8, 1),
            (9, 7, 2, 4, 1),
            (10, 7, 3, 4, 0),
            (11, 5, 4, 1, 0),
            (12, 8, 1, 6, 1),
            (13, 11, 0, 6, 5),
            (14, 9, 8, 1, 0),
            (15, 7, 1, 3, 3),
            (16, 14, 0, 11, 3),
            (17, 9, 3, 5, 1),
            (18, 5, 0, 3, 2),
        ];
        let cat = catalogue();
        for (c, total, ig1, ig2, ig3) in table {
            let of = |ig: u8| {
                cat.safeguards
                    .iter()
                    .filter(|s| s.control() == c && s.ig == ig)
                    .count()
            };
            let all = cat.safeguards.iter().filter(|s| s.control() == c).count();
            assert_eq!(
                (all, of(1), of(2), of(3)),
                (total, ig1, ig2, ig3),
                "control {c}"
            );
            // Numbered 1..=total without gaps (also enforced by parse).
            let last = format!("{c}.{total}");
            assert!(cat.safeguard(&last).is_some(), "{last} missing");
            assert!(cat.safeguard(&format!("{c}.{}", total + 1)).is_none());
        }
        let sum: usize = table.iter().map(|r| r.1).sum();
        assert_eq!(sum, 153);
    }

    #[test]
    fn every_safeguard_a_check_names_exists_with_the_same_ig() {
        let cat = catalogue();
        for check in vigie_checks::ALL {
            for id in check.safeguards() {
                let ours = cat
                    .safeguard(id)
                    .unwrap_or_else(|| panic!("{}: {id} not in the catalogue", check.id()));
                let theirs = vigie_checks::catalogue::safeguard(id)
                    .unwrap_or_else(|| panic!("{}: {id} not in vigie_checks", check.id()));
                assert_eq!(ours.ig, theirs.ig, "{id}: IG differs");
            }
        }
    }

    #[test]
    fn titles_are_short_and_present() {
        for s in &catalogue().safeguards {
            assert!(!s.title.is_empty() && s.title.len() <= 90, "{}", s.id);
        }
    }

    #[test]
    fn parse_rejects_gaps_and_bad_groups() {
        let head = "[[control]]\nid = 1\ntitle = \"x\"\n";
        let sg = |id: &str, ig: u8| {
            format!(
                "[[safeguard]]\nid = \"{id}\"\nig = {ig}\nasset = \"data\"\nfunction = \"protect\"\ntitle = \"t\"\n"
            )
        };
        let gap = format!("{head}{}{}", sg("1.1", 1), sg("1.3", 1));
        assert!(Catalogue::parse(&gap)
            .unwrap_err()
            .contains("1.3 follows 1.1"));
        let ig4 = format!("{head}{}", sg("1.1", 4));
        assert!(Catalogue::parse(&ig4).unwrap_err().contains("ig = 4"));
        let bad_asset = format!("{head}{}", sg("1.1", 1).replace("data", "cloud"));
        assert!(Catalogue::parse(&bad_asset).unwrap_err().contains("cloud"));
    }
}
